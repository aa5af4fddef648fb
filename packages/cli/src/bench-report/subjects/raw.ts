import type { RawBaseline } from '@durable-sessions/conformance';
import { loadBaseline } from '../../bench/baseline.js';
import type { PreparedStream, Subject, Token, TokenProducer } from './subject.js';

/**
 * A backend's raw client (the adapter's `./bench` baseline, the same one `durable-sessions bench` uses): tokens as
 * JSON strings, one awaited write per token in order, batches through `appendBatches`, reads through `replay`.
 */
export async function rawSubject(backend: string, url: string, batchSize: number): Promise<Subject> {
  const baseline: RawBaseline = await loadBaseline(backend, url);
  return {
    id: `${backend}/raw`,
    label: baseline.name,
    role: 'raw',
    backend,
    batchSize,
    unsupported: {},
    async producer(name) {
      // Writes go out one by one, each after the previous one's acknowledgement, so the log keeps the token order.
      let chain: Promise<void> = Promise.resolve();
      let failure: unknown;
      return {
        write(t: Token) {
          const payload = JSON.stringify(t);
          chain = chain.then(() => baseline.appendEach(name, [payload])).catch((err: unknown) => void (failure ??= err));
        },
        async end() {
          await chain;
          if (failure !== undefined) throw failure;
        },
      } satisfies TokenProducer;
    },
    appendBatch: (name, batch) => baseline.appendBatches(name, batch.map((t) => JSON.stringify(t)), batch.length),
    async prepare(name, list, mark): Promise<PreparedStream> {
      await baseline.appendBatches(name, list.map((t) => JSON.stringify(t)), batchSize);
      return { name, length: list.length, mark, release: async () => {} };
    },
    resume: (stream) => baseline.replay(stream.name, stream.mark),
    join: (stream) => baseline.replay(stream.name, 0),
    follow: (name, onToken) => baseline.follow(name, (payload) => onToken(JSON.parse(payload) as Token)),
    close: () => baseline.close(),
  };
}
