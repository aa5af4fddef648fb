import { connect, type DurableSession, type SessionStore } from '@durable-sessions/core';
import { until, within } from '../../bench/wait.js';
import { TOKEN_LINGER_MS, type PreparedStream, type Subject, type Token, type TokenProducer } from './subject.js';

/** Events per history page on every subject that pages (the raw baselines page by 1,000 too). */
const PAGE = 1_000;

interface StorePrepared extends PreparedStream {
  session: DurableSession;
  from: string;
}

/** Waits until the store counts `count` more live tails than `before`, failing early if a subscription errored. */
async function live(store: SessionStore, before: number, count: number, failed: () => unknown): Promise<void> {
  await until(() => failed() !== undefined || store.stats().tails >= before + count, `${count} subscription(s) going live`);
  const failure = failed();
  if (failure !== undefined) throw failure;
}

/** The Durable Sessions store on `url`: `session.writer()` for tokens, `append` for batches, `subscribe`/`events` to read. */
export async function storeSubject(url: string): Promise<Subject> {
  const store = await connect(url);
  const backend = store.backend;
  const batchSize = Math.min(100, store.capabilities.maxBatchSize);
  // One writing handle per stream for batched appends (a handle per call would pile up in the store).
  const writers = new Map<string, DurableSession>();
  const writing = (name: string) => writers.get(name) ?? writers.set(name, store.session(name)).get(name)!;
  return {
    id: `${backend}/store`,
    label: `Durable Sessions on ${backend}`,
    role: 'store',
    backend,
    batchSize,
    unsupported: {},
    async producer(name) {
      const session = store.session(name);
      // Linger 0: tokens 20 ms apart cannot be coalesced, a linger would only add its delay to every token.
      const writer = session.writer({ lingerMs: TOKEN_LINGER_MS });
      return {
        write: (t: Token) => void writer.write({ type: 'token', data: { ...t } }),
        async end() {
          await writer.close();
          await session.end({ reason: 'complete' });
          await session.close();
          await writers.get(name)?.close();
          writers.delete(name);
        },
      } satisfies TokenProducer;
    },
    async appendBatch(name, batch) {
      await writing(name).append(batch.map((t) => ({ type: 'token', data: { ...t } })));
    },
    async prepare(name, list, mark) {
      const session = store.session(name);
      let from = 'start';
      for (let i = 0; i < list.length; i += batchSize) {
        const offsets = await session.append(list.slice(i, i + batchSize).map((t) => ({ type: 'token', data: { ...t } })));
        if (mark > i && mark <= i + offsets.length) from = offsets[mark - i - 1]!;
      }
      await session.end({ reason: 'complete' });
      const prepared: StorePrepared = { name, length: list.length, mark, session, from, release: () => session.close() };
      return prepared;
    },
    async resume(stream) {
      const { session, from, length, mark } = stream as StorePrepared;
      let count = 0;
      for await (const event of session.events({ from, pageSize: PAGE })) {
        if (event.type === 'token') count++;
        if (count === length - mark) break;
      }
      return count;
    },
    async join(stream) {
      // A new tab: subscribe from the start; the subscription completes at the durable end of the stream.
      const session = store.session(stream.name);
      let count = 0;
      try {
        await within(
          new Promise<void>((resolve, reject) => {
            session.subscribe({ from: 'start', pageSize: PAGE }).subscribe({
              next: (event) => {
                if (event.type === 'token') count++;
              },
              error: reject,
              complete: resolve,
            });
          }),
          `a full replay of ${stream.name}`,
        );
      } finally {
        await session.close();
      }
      return count;
    },
    async follow(name, onToken) {
      const session = store.session(name);
      // The start is fixed before returning: `from: 'now'` resolves asynchronously (a fresh session first has its
      // origin read, then its head), and appends made before it resolves are, by contract, not delivered.
      const { lastOffset } = await session.info();
      const before = store.stats().tails;
      let failure: unknown;
      const sub = session.subscribe({ from: lastOffset ?? 'start' }).subscribe({
        next: (event) => {
          if (event.type === 'token') onToken(event.data as unknown as Token);
        },
        error: (err) => (failure ??= err),
      });
      await live(store, before, 1, () => failure);
      return async () => {
        sub.unsubscribe();
        await session.close();
      };
    },
    async close() {
      for (const session of writers.values()) await session.close();
      writers.clear();
      await store.close();
    },
  };
}
