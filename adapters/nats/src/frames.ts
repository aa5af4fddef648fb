import { DurableSessionError, padNumber } from '@durable-sessions/core';

/**
 * How records are laid out in JetStream messages. One append call is stored as ONE message when it fits (so a
 * batch is atomic and contiguous, and the end marker commits with it); a message of `n > 1` records carries their
 * UTF-8 byte lengths in a header and their bytes concatenated. Raw offsets are the stream sequence, plus the
 * record's index when the message holds several: `0000000000000042` or `0000000000000042.0003`. Both sort as
 * strings, because two records of different messages differ within the fixed-width sequence part.
 */

/** Digits of the sequence part: 10^16 exceeds every sequence a JavaScript number represents exactly. */
export const SEQ_WIDTH = 16;
/** Digits of the index part, which bounds records per message. */
export const INDEX_WIDTH = 4;
/** Most records one message may pack. */
export const MAX_RECORDS_PER_MESSAGE = 10 ** INDEX_WIDTH - 1;

/** Header with the byte length of each record of a packed message. */
export const LENGTHS_HEADER = 'Ds-Lens';
/** Header marking the message whose last record is the end-of-stream record. */
export const END_HEADER = 'Ds-End';
/** Header with a random id of the append call (and chunk), to find out whether a publish with a lost ack landed. */
export const CALL_HEADER = 'Ds-Call';
/** Header with the raw offset of the record just before this message in the same log (empty when first). */
export const PREV_HEADER = 'Ds-Prev';

const OFFSET = /^(\d{16})(?:\.(\d{4}))?$/;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The raw offset of record `index` of a message at `seq` holding `count` records. */
export function offsetOf(seq: number, index: number, count: number): string {
  const base = padNumber(seq, SEQ_WIDTH);
  return count === 1 ? base : `${base}.${padNumber(index, INDEX_WIDTH)}`;
}

/** A raw offset split into the message sequence and the record index within it (-1: the whole message). */
export interface Position {
  readonly seq: number;
  readonly index: number;
}

/** Parses a raw offset this adapter produced; anything else is `INVALID_OFFSET`. */
export function parseRawOffset(raw: string): Position {
  const match = OFFSET.exec(raw);
  if (!match) throw new DurableSessionError('INVALID_OFFSET', `Offset ${JSON.stringify(raw)} is not a NATS offset.`, { backend: 'nats' });
  return { seq: Number(match[1]), index: match[2] === undefined ? -1 : Number(match[2]) };
}

/** Body and headers for a message holding `records`. */
export function packRecords(records: readonly string[]): { body: Uint8Array; lengths: string | undefined } {
  if (records.length === 1) return { body: encoder.encode(records[0]!), lengths: undefined };
  const parts = records.map((r) => encoder.encode(r));
  let total = 0;
  for (const p of parts) total += p.byteLength;
  const body = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    body.set(p, at);
    at += p.byteLength;
  }
  return { body, lengths: parts.map((p) => p.byteLength).join(',') };
}

/** The records of a stored message, in order. */
export function unpackRecords(body: Uint8Array, lengths: string | undefined): string[] {
  if (!lengths) return [decoder.decode(body)];
  const out: string[] = [];
  let at = 0;
  for (const part of lengths.split(',')) {
    const length = Number(part);
    out.push(decoder.decode(body.subarray(at, at + length)));
    at += length;
  }
  if (at !== body.byteLength) {
    throw new DurableSessionError('INTERNAL', 'A stored NATS message does not match its record lengths.', { backend: 'nats' });
  }
  return out;
}

/**
 * Splits a batch into message-sized chunks, in order: at most `maxRecords` records and `maxBytes` body bytes
 * each (a single record always forms a chunk of its own; the core has checked it against maxPayloadBytes).
 */
export function chunkRecords(records: readonly string[], maxBytes: number, maxRecords: number): string[][] {
  const chunks: string[][] = [];
  let current: string[] = [];
  let bytes = 0;
  for (const record of records) {
    const size = Buffer.byteLength(record, 'utf8');
    if (current.length > 0 && (bytes + size > maxBytes || current.length >= maxRecords)) {
      chunks.push(current);
      current = [];
      bytes = 0;
    }
    current.push(record);
    bytes += size;
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}
