import type * as DsClient from '@durable-streams/client';
import type * as DsServer from '@durable-streams/server';
import { within } from '../../bench/wait.js';
import { load } from './load.js';
import { TOKEN_LINGER_MS, type PreparedStream, type Subject, type Token, type TokenProducer } from './subject.js';

interface DsPrepared extends PreparedStream {
  url: string;
  markOffset: string;
}

/** The version the report names (the devDependency pinned in packages/cli/package.json). */
export const DURABLE_STREAMS_SERVER_VERSION = '0.3.7';

/**
 * The peer: the Durable Streams reference server (`@durable-streams/server`, in-memory, in this process, compression
 * off) driven over loopback HTTP by its own client (`@durable-streams/client`): an `IdempotentProducer` (batching; for
 * tokens with the same linger as the Durable Sessions writer) for tokens and batches, SSE for live reads, catch-up GETs for replay.
 */
export async function durableStreamsSubject(): Promise<Subject> {
  const { DurableStreamTestServer } = await load<typeof DsServer>('@durable-streams/server');
  const client = await load<typeof DsClient>('@durable-streams/client');
  const server = new DurableStreamTestServer({ port: 0, longPollTimeout: 30_000, compression: false });
  const base = await server.start();
  const urlOf = (name: string) => `${base}/v1/stream/${name}`;
  const handles = new Map<string, DsClient.DurableStream>();
  const open = async (name: string): Promise<DsClient.DurableStream> => {
    let handle = handles.get(name);
    if (!handle) {
      handle = await client.DurableStream.create({ url: urlOf(name), contentType: 'application/json' });
      handles.set(name, handle);
    }
    return handle;
  };
  const producerOf = (handle: DsClient.DurableStream, onError: (err: Error) => void, lingerMs = 5) =>
    new client.IdempotentProducer(handle, `bench-${globalThis.crypto.randomUUID()}`, { lingerMs, onError });
  // One producer per stream for batched appends, as an application keeps one per writer.
  const batchers = new Map<string, { producer: DsClient.IdempotentProducer; failure?: Error }>();
  const catchUp = async (url: string, offset: string): Promise<number> => {
    const res = await client.stream<Token>({ url, offset, live: false });
    return (await res.json()).length;
  };
  return {
    id: 'peer/durable-streams',
    label: `Durable Streams reference server ${DURABLE_STREAMS_SERVER_VERSION} (in-memory, HTTP)`,
    role: 'peer',
    backend: 'durable-streams',
    batchSize: 100,
    unsupported: {},
    async producer(name) {
      const handle = await open(name);
      let failure: Error | undefined;
      const producer = producerOf(handle, (err) => (failure ??= err), TOKEN_LINGER_MS);
      return {
        write: (t: Token) => producer.append(JSON.stringify(t)),
        async end() {
          await producer.flush();
          await producer.close();
          const batcher = batchers.get(name);
          batchers.delete(name);
          handles.delete(name);
          await batcher?.producer.flush();
          if (failure ?? batcher?.failure) throw failure ?? batcher?.failure;
        },
      } satisfies TokenProducer;
    },
    async appendBatch(name, batch) {
      let batcher = batchers.get(name);
      if (!batcher) {
        const handle = await open(name);
        const entry: { producer?: DsClient.IdempotentProducer; failure?: Error } = {};
        entry.producer = producerOf(handle, (err) => (entry.failure ??= err));
        batcher = entry as { producer: DsClient.IdempotentProducer; failure?: Error };
        batchers.set(name, batcher);
      }
      for (const t of batch) batcher.producer.append(JSON.stringify(t));
      await batcher.producer.flush();
      if (batcher.failure) throw batcher.failure;
    },
    async prepare(name, list, mark) {
      const handle = await open(name);
      let failure: Error | undefined;
      const producer = producerOf(handle, (err) => (failure ??= err));
      let markOffset = '-1';
      for (let i = 0; i < list.length; i += 100) {
        if (i === mark) markOffset = await tail(handle);
        for (const t of list.slice(i, i + 100)) producer.append(JSON.stringify(t));
        await producer.flush();
      }
      if (mark >= list.length) markOffset = await tail(handle);
      await producer.close();
      if (failure) throw failure;
      const prepared: DsPrepared = { name, length: list.length, mark, url: urlOf(name), markOffset, release: async () => {} };
      return prepared;
    },
    resume: (stream) => catchUp((stream as DsPrepared).url, (stream as DsPrepared).markOffset),
    join: (stream) => catchUp((stream as DsPrepared).url, '-1'),
    async follow(name, onToken) {
      await open(name);
      const controller = new AbortController();
      const res = await within(client.stream<Token>({ url: urlOf(name), offset: 'now', live: 'sse', signal: controller.signal }), `an SSE reader of ${name}`);
      const unsubscribe = res.subscribeJson((batch) => {
        for (const item of batch.items) onToken(item);
      });
      return async () => {
        unsubscribe();
        controller.abort();
      };
    },
    async close() {
      handles.clear();
      await server.stop();
    },
  };
}

/** The stream's current tail offset: reading from it returns what is appended afterwards. */
async function tail(handle: DsClient.DurableStream): Promise<string> {
  const head = await handle.head();
  if (!head.exists || head.offset === undefined) throw new Error('durable-streams: HEAD returned no tail offset');
  return head.offset;
}
