import type { BackendProducer } from './backend.js';
import { DurableSessionError } from './errors.js';

/** How many past calls' offsets a producer state remembers, so a late retry still gets its offsets back. */
export const PRODUCER_WINDOW = 8;

/** A producer's state in one log, as adapters that keep it in process (or serialise it) store it. */
export interface ProducerState {
  epoch: number;
  lastSeq: number;
  /** The offsets of the most recent calls, newest last. */
  recent: Array<{ seq: number; offsets: string[] }>;
}

/** What to do with an append, per {@link checkProducer}. */
export type ProducerVerdict =
  | { action: 'append' }
  | { action: 'duplicate'; offsets: string[] };

/**
 * The reference producer rules (every adapter must behave the same; the Lua script of the Redis adapter is a
 * transcription). Throws `STALE_PRODUCER` or `SEQUENCE_GAP`.
 */
export function checkProducer(state: ProducerState | undefined, producer: BackendProducer): ProducerVerdict {
  if (!state || producer.epoch > state.epoch) {
    if (producer.seq !== 0) {
      throw new DurableSessionError('SEQUENCE_GAP', `Producer ${producer.id} epoch ${producer.epoch} must start at seq 0, got ${producer.seq}.`, {
        details: { expectedSeq: 0, receivedSeq: producer.seq },
      });
    }
    return { action: 'append' };
  }
  if (producer.epoch < state.epoch) {
    throw new DurableSessionError('STALE_PRODUCER', `Producer ${producer.id} epoch ${producer.epoch} is fenced by epoch ${state.epoch}.`, {
      details: { currentEpoch: state.epoch, receivedEpoch: producer.epoch },
    });
  }
  if (producer.seq === state.lastSeq + 1) return { action: 'append' };
  if (producer.seq <= state.lastSeq) {
    const known = state.recent.find((r) => r.seq === producer.seq);
    return { action: 'duplicate', offsets: known ? [...known.offsets] : [] };
  }
  throw new DurableSessionError('SEQUENCE_GAP', `Producer ${producer.id} skipped from seq ${state.lastSeq} to ${producer.seq}.`, {
    details: { expectedSeq: state.lastSeq + 1, receivedSeq: producer.seq },
  });
}

/** The state after an append that {@link checkProducer} allowed. */
export function advanceProducer(state: ProducerState | undefined, producer: BackendProducer, offsets: string[]): ProducerState {
  const recent = state && state.epoch === producer.epoch ? state.recent.slice(-(PRODUCER_WINDOW - 1)) : [];
  recent.push({ seq: producer.seq, offsets });
  return { epoch: producer.epoch, lastSeq: producer.seq, recent };
}
