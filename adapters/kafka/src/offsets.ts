import { DurableSessionError, padNumber } from '@durable-sessions/core';

const PARTITION_WIDTH = 5;
/** Kafka offsets are signed 64-bit: 19 digits hold every one of them. */
const OFFSET_WIDTH = 19;
const RAW = /^(\d{5})\.(\d{19})$/;

/**
 * A raw offset: `<partition>.<kafka offset>`, both zero-padded. A session lives on one partition, so string order
 * is Kafka's offset order; the partition is kept so an offset from a re-partitioned topic is recognised.
 */
export function encodeOffset(partition: number, offset: number): string {
  return partitionPrefix(partition) + padNumber(offset, OFFSET_WIDTH);
}

/** The raw offsets of `count` consecutive records from `first`: {@link encodeOffset} of each, the partition once. */
export function encodeOffsets(partition: number, first: number, count: number): string[] {
  const prefix = partitionPrefix(partition);
  const offsets: string[] = new Array(count);
  for (let i = 0; i < count; i++) offsets[i] = prefix + padNumber(first + i, OFFSET_WIDTH);
  return offsets;
}

function partitionPrefix(partition: number): string {
  return `${padNumber(partition, PARTITION_WIDTH)}.`;
}

/** The Kafka offset inside a raw offset of `partition`, or `INVALID_OFFSET`. */
export function decodeOffset(raw: string, partition: number): number {
  const match = RAW.exec(raw);
  if (!match) throw new DurableSessionError('INVALID_OFFSET', `Malformed Kafka offset ${JSON.stringify(raw)}.`, { backend: 'kafka' });
  if (Number(match[1]) !== partition) {
    throw new DurableSessionError('INVALID_OFFSET', `Offset ${raw} points to partition ${Number(match[1])}, but this session lives on partition ${partition} (was the topic re-partitioned?).`, {
      backend: 'kafka',
    });
  }
  return Number(match[2]);
}
