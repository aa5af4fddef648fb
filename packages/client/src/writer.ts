import type { Connection } from './connection.js';
import { DurableSessionError, isDurableSessionError } from './errors.js';
import type { EventInput, SessionWriter, WriterOptions as CoreWriterOptions } from '@durable-sessions/core';

export type { SessionWriter } from '@durable-sessions/core';
import { randomId, toWireInput } from './wire.js';

/** Options of `session.writer()`: the core's, less `retryBackoffMs` (a reconnect, not a timer, paces resends). */
export type WriterOptions = Omit<CoreWriterOptions, 'retryBackoffMs'>;


interface Queued {
  event: Record<string, unknown>;
  resolve(offset: string): void;
  reject(err: unknown): void;
}

/** Builds a writer for one session. */
export function createWriter(conn: Connection, session: string, options: WriterOptions = {}): SessionWriter {
  const producerId = options.producerId ?? `w-${randomId()}`;
  const epoch = options.epoch ?? 0;
  const lingerMs = Math.max(0, options.lingerMs ?? 5);
  const maxBatch = Math.max(1, options.maxBatch ?? 256);
  const maxRetries = Math.max(0, options.maxRetries ?? 8);
  let queue: Queued[] = [];
  let inFlight = 0;
  let seq = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let sending: Promise<void> | undefined;
  let failure: unknown;
  let closed = false;

  const schedule = () => {
    if (sending || timer) return;
    if (queue.length >= maxBatch) kick();
    else timer = setTimeout(kick, lingerMs);
  };
  const kick = () => {
    clearTimeout(timer);
    timer = undefined;
    if (sending || queue.length === 0) return;
    sending = drain().finally(() => {
      sending = undefined;
      if (queue.length > 0 && failure === undefined) schedule();
    });
  };
  const drain = async () => {
    do {
      const batch = queue.splice(0, maxBatch);
      inFlight = batch.length;
      try {
        const offsets = await send(batch.map((q) => q.event), seq);
        seq++;
        batch.forEach((q, i) => q.resolve(offsets[i]!));
      } catch (err) {
        failure = err;
        for (const q of [...batch, ...queue]) q.reject(err);
        queue = [];
        return;
      } finally {
        inFlight = 0;
      }
    } while (queue.length >= maxBatch);
  };
  const send = async (events: Record<string, unknown>[], batchSeq: number): Promise<string[]> => {
    for (let attempt = 0; ; attempt++) {
      try {
        const answer = await conn.request({ op: 'append', session, events, producer: { id: producerId, epoch, seq: batchSeq } }, { safe: true });
        const offsets = answer.offsets as string[] | undefined;
        if (!Array.isArray(offsets) || offsets.length !== events.length) {
          throw new DurableSessionError('INTERNAL', `The gateway returned ${offsets?.length ?? 0} offsets for ${events.length} events (a resent batch whose offsets it no longer knows).`);
        }
        return offsets;
      } catch (err) {
        if (!isDurableSessionError(err) || !err.retryable || attempt >= maxRetries) throw err;
        await new Promise((r) => setTimeout(r, Math.min(2000, 50 * 2 ** attempt)));
      }
    }
  };

  const writer: SessionWriter = {
    producerId,
    get pending() {
      return queue.length + inFlight;
    },
    write(event: EventInput) {
      let result: Promise<string>;
      if (closed) result = Promise.reject(new DurableSessionError('CLOSED', 'The writer is closed.'));
      else if (failure !== undefined) result = Promise.reject(failure);
      else {
        try {
          if (typeof event?.type !== 'string' || event.type.length === 0 || event.type.startsWith('$')) {
            throw new DurableSessionError('INVALID_EVENT', 'An event needs a non-empty `type` that does not start with "$".');
          }
          const wire = toWireInput(event);
          result = new Promise<string>((resolve, reject) => queue.push({ event: wire, resolve, reject }));
          schedule();
        } catch (err) {
          result = Promise.reject(err);
        }
      }
      // Token streams fire and forget; failures surface through flush()/close(), never as unhandled rejections.
      result.catch(() => {});
      return result;
    },
    async flush() {
      while (queue.length > 0 || sending) {
        if (!sending) kick();
        await sending;
      }
      if (failure !== undefined) throw failure;
    },
    async close() {
      try {
        await writer.flush();
      } finally {
        closed = true;
      }
    },
  };
  return writer;
}
