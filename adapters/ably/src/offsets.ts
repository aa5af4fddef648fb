import { DurableSessionError } from '@durable-sessions/core';

/**
 * Raw offsets are Ably message serials, hex-encoded one character per two digits: serials contain `-` and `@`,
 * which raw offsets may not, and a fixed width per character keeps plain string order identical to serial order
 * (Ably serials sort lexicographically within a channel).
 */
export function serialToOffset(serial: string): string {
  if (serial.length === 0 || serial.length > 64 || !PRINTABLE_ASCII.test(serial)) throw unexpectedSerial(serial);
  return Buffer.from(serial, 'latin1').toString('hex');
}

/** The serial a raw offset encodes. */
export function offsetToSerial(offset: string): string {
  if (offset.length % 2 !== 0 || !/^[0-9a-f]+$/.test(offset)) {
    throw new DurableSessionError('INVALID_OFFSET', `Offset ${JSON.stringify(offset)} is not an Ably offset.`, { backend: 'ably' });
  }
  return Buffer.from(offset, 'hex').toString('latin1');
}

const PRINTABLE_ASCII = /^[\x20-\x7e]+$/;

/** The publish time an Ably serial starts with (`<14-digit ms>-…`), or undefined for another shape. */
export function serialTime(serial: string): number | undefined {
  const match = /^(\d{14})-/.exec(serial);
  return match ? Number(match[1]) : undefined;
}

function unexpectedSerial(serial: string): DurableSessionError {
  return new DurableSessionError('INTERNAL', `Ably returned a message serial that cannot be an offset: ${JSON.stringify(serial.slice(0, 100))}.`, { backend: 'ably' });
}

/** Prefix of the message ids this adapter assigns; `p` ids carry a producer stamp, `r` ids are random. */
const ID_PREFIX = 'ds1';

/** A producer stamp recovered from a message id. */
export interface IdStamp {
  producerId: string;
  epoch: number;
  seq: number;
  index: number;
}

/**
 * The id base of one append. Ably de-duplicates republished ids (idempotent publishing), so a retry of the same
 * producer stamp, or the SDK re-sending after a lost connection, is stored once. See {@link publishIds}.
 */
export function messageIdBase(producer?: { id: string; epoch: number; seq: number }): string {
  return producer
    ? `${ID_PREFIX}:p:${Buffer.from(producer.id, 'utf8').toString('base64url')}:${producer.epoch}:${producer.seq}`
    : `${ID_PREFIX}:r:${globalThis.crypto.randomUUID()}`;
}

/**
 * The ids of one publish of an append: the records from `start` on, `count` of them. Ably requires the messages of
 * one publish to carry `<one base>:<position>` ids (error 40031), so each publish has its own base, `<append
 * base>:<start>`, and the same append split the same way always gets the same ids.
 */
export function publishIds(base: string, start: number, count: number): string[] {
  return Array.from({ length: count }, (_, k) => `${base}:${start}:${k}`);
}

let lastEncoded = '';
let lastDecoded = '';

/** The producer stamp of a message id assigned by {@link messageIds}, if any. */
export function parseMessageId(id: unknown): IdStamp | undefined {
  if (typeof id !== 'string' || !id.startsWith(`${ID_PREFIX}:p:`)) return undefined;
  const parts = id.split(':');
  if (parts.length !== 7) return undefined;
  const [, , producer, epoch, seq, start, position] = parts as [string, string, string, string, string, string, string];
  // Every message of a batch carries the same producer: decode it once per run of equal ids.
  if (producer !== lastEncoded) {
    lastEncoded = producer;
    lastDecoded = Buffer.from(producer, 'base64url').toString('utf8');
  }
  const stamp = { producerId: lastDecoded, epoch: Number(epoch), seq: Number(seq), index: Number(start) + Number(position) };
  return Number.isSafeInteger(stamp.epoch) && Number.isSafeInteger(stamp.seq) && Number.isSafeInteger(stamp.index) ? stamp : undefined;
}
