import { advanceProducer, type BackendProducer, type LogRef, type ProducerState } from '@durable-sessions/core';
import type { KV } from '@nats-io/kv';
import { natsError, toNatsError } from './errors.js';

/** A producer state as read, with the KV revision a compare-and-set must match (0: absent). */
export interface StoredProducer {
  readonly state: ProducerState | undefined;
  readonly revision: number;
}

const PLAIN = /^[A-Za-z0-9_-]{1,128}$/;

/**
 * Idempotent-producer states in a KV bucket, one key per (log, producer), written with compare-and-set on the
 * revision so two processes racing with one producer id cannot both advance it. The state is saved after the
 * publish; a crash in between is covered by the stream's `Nats-Msg-Id` duplicate window.
 */
export class ProducerStore {
  constructor(
    private readonly kv: KV,
    /** Fails a request at once when the connection drops (see NatsBackend). */
    private readonly guard: <T>(request: () => Promise<T>) => Promise<T> = (request) => request(),
  ) {}

  /** The KV key of a producer in a log: only safe tokens (the producer id is base64url-encoded unless plain). */
  static keyOf(log: LogRef, producerId: string): string {
    const id = PLAIN.test(producerId) ? producerId : `_${Buffer.from(producerId, 'utf8').toString('base64url')}`;
    return `${log.kind === 'events' ? 'ev' : 'ctl'}.${log.key}.${id}`;
  }

  async load(log: LogRef, producer: BackendProducer): Promise<StoredProducer> {
    try {
      const entry = await this.guard(() => this.kv.get(ProducerStore.keyOf(log, producer.id)));
      if (!entry || entry.operation !== 'PUT') return { state: undefined, revision: entry?.revision ?? 0 };
      return { state: entry.json<ProducerState>(), revision: entry.revision };
    } catch (err) {
      throw toNatsError(err, 'Loading the producer state');
    }
  }

  /**
   * Records an append that {@link checkProducer} allowed, with compare-and-set on the revision. When the CAS
   * loses (a retry of this very call, or another process with the same producer id), the fresher state wins
   * unless it is behind this append; the events are stored either way.
   */
  async advance(log: LogRef, producer: BackendProducer, offsets: string[], stored: StoredProducer): Promise<void> {
    const key = ProducerStore.keyOf(log, producer.id);
    let current = stored;
    for (let attempt = 0; attempt < 5; attempt++) {
      const { state } = current;
      if (state && (state.epoch > producer.epoch || (state.epoch === producer.epoch && state.lastSeq >= producer.seq))) return;
      const value = JSON.stringify(advanceProducer(state, producer, offsets));
      try {
        if (current.revision === 0) await this.guard(() => this.kv.create(key, value));
        else await this.guard(() => this.kv.update(key, value, current.revision));
        return;
      } catch (err) {
        const message = err instanceof Error ? err.message : String(err);
        if (!/wrong last sequence|exists/i.test(message)) throw toNatsError(err, 'Saving the producer state');
      }
      current = await this.load(log, producer);
    }
    throw natsError('CONFLICT', `Producer ${producer.id} is being advanced concurrently by another writer.`);
  }
}
