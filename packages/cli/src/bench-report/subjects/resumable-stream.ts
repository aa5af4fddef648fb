import type * as Redis from 'redis';
import type * as Rs from 'resumable-stream';
import { DurableSessionError } from '@durable-sessions/core';
import { within } from '../../bench/wait.js';
import { load } from './load.js';
import type { PreparedStream, Subject, Token, TokenProducer } from './subject.js';

/** What the report says for the workloads resumable-stream cannot do. */
export const RESUMABLE_STREAM_NA = {
  bulk: 'no append API: chunks stay in the producer\'s memory and reach Redis only when a listener asks for them',
  join: 'a finished stream leaves only a DONE marker in Redis (its tokens lived in the producer\'s memory): resumableStream() returns null',
} as const;

interface Producer {
  controller: ReadableStreamDefaultController<string>;
  /** Characters written so far: a listener from "now" skips them. */
  chars: number;
  /** Tokens the producer's own reader has seen (its buffer holds them once seen). */
  seen: number;
  drained: Promise<void>;
}

type Ctx = Rs.ResumableStreamContext;
/** The part of a node-redis client this file uses (the generic client type is too deep to name here). */
interface Client {
  connect(): Promise<unknown>;
  quit(): Promise<unknown>;
  destroy(): void;
  on(event: 'error', listener: (err: unknown) => void): unknown;
}

/** Reads a listener's stream, splitting the newline-delimited tokens; resolves when it ends or is cancelled. */
async function readTokens(stream: ReadableStream<string>, onToken: (t: Token) => void): Promise<void> {
  const reader = stream.getReader();
  let buffer = '';
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      buffer += value;
      let nl: number;
      while ((nl = buffer.indexOf('\n')) >= 0) {
        onToken(JSON.parse(buffer.slice(0, nl)) as Token);
        buffer = buffer.slice(nl + 1);
      }
    }
  } catch {
    // cancelled
  }
}

/**
 * The peer on Redis: Vercel's `resumable-stream` on the same redis-server as the Redis adapter, with node-redis
 * clients (a publisher and a subscriber for the producer's side, two more for the listeners' side, as two server
 * instances would have). Tokens are newline-delimited JSON chunks. Listeners resume with `resumeExistingStream`
 * (over Redis pub/sub), which works only while the producer process lives.
 */
export async function resumableStreamSubject(url: string): Promise<Subject> {
  const { createClient } = await load<typeof Redis>('redis');
  const mod = await load<typeof Rs & { default?: typeof Rs }>('resumable-stream');
  const createContext = mod.createResumableStreamContext ?? mod.default!.createResumableStreamContext;
  const clients: Client[] = [];
  const client = async (): Promise<Client> => {
    const c = createClient({ url }) as unknown as Client;
    c.on('error', () => {});
    await c.connect();
    clients.push(c);
    return c;
  };
  const keyPrefix = `dsbench-rs-${Date.now().toString(36)}`;
  const context = async (): Promise<Ctx> =>
    createContext({ waitUntil: null, keyPrefix, publisher: (await client()) as unknown as Rs.Publisher, subscriber: (await client()) as unknown as Rs.Subscriber });
  const producerCtx = await context();
  const listenerCtx = await context();
  const producers = new Map<string, Producer>();

  const open = async (name: string): Promise<Producer> => {
    let controller!: ReadableStreamDefaultController<string>;
    const source = new ReadableStream<string>({ start: (c) => void (controller = c) });
    const out = await producerCtx.createNewResumableStream(name, () => source);
    if (!out) throw new DurableSessionError('INTERNAL', `resumable-stream: ${name} already exists`);
    const producer: Producer = { controller, chars: 0, seen: 0, drained: Promise.resolve() };
    // The producer's own reader (the original HTTP response in an app); its buffer is what listeners resume from.
    producer.drained = readTokens(out, () => producer.seen++);
    producers.set(name, producer);
    return producer;
  };
  const write = (p: Producer, t: Token) => {
    const chunk = `${JSON.stringify(t)}\n`;
    p.chars += chunk.length;
    p.controller.enqueue(chunk);
  };
  const finish = async (name: string, p: Producer) => {
    p.controller.close();
    await p.drained;
    await within(
      (async () => {
        while ((await producerCtx.hasExistingStream(name)) !== 'DONE') await new Promise<void>((resolve) => setImmediate(resolve));
      })(),
      `resumable-stream ${name} marked DONE`,
    );
    producers.delete(name);
  };
  const listen = async (name: string, skip: number, onToken: (t: Token) => void) => {
    const stream = await within(listenerCtx.resumeExistingStream(name, skip), `resuming ${name}`);
    if (!stream) throw new DurableSessionError('INTERNAL', `resumable-stream: ${name} is not live (${String(stream)})`);
    return { stream, done: readTokens(stream, onToken) };
  };

  return {
    id: 'peer/resumable-stream',
    label: 'Vercel resumable-stream 2 (same redis-server)',
    role: 'peer',
    backend: 'redis',
    batchSize: 1,
    unsupported: { ...RESUMABLE_STREAM_NA },
    async producer(name) {
      const p = await open(name);
      return { write: (t: Token) => write(p, t), end: () => finish(name, p) } satisfies TokenProducer;
    },
    async appendBatch(name, batch) {
      const p = producers.get(name) ?? (await open(name));
      for (const t of batch) write(p, t);
    },
    async prepare(name, list, mark): Promise<PreparedStream> {
      const p = await open(name);
      for (const t of list) write(p, t);
      // Resuming needs the tokens in the producer's buffer, i.e. read by its own reader.
      await within(
        (async () => {
          while (p.seen < list.length) await new Promise<void>((resolve) => setImmediate(resolve));
        })(),
        `${name} buffered`,
      );
      const skip = list.slice(0, mark).reduce((sum, t) => sum + JSON.stringify(t).length + 1, 0);
      return Object.assign({ name, length: list.length, mark, release: () => finish(name, p) }, { skip });
    },
    async resume(stream) {
      const want = stream.length - stream.mark;
      let count = 0;
      let reached!: () => void;
      const all = new Promise<void>((resolve) => (reached = resolve));
      const { stream: s } = await listen(stream.name, (stream as PreparedStream & { skip: number }).skip, () => {
        if (++count === want) reached();
      });
      await within(all, `resuming ${stream.name} from its middle`);
      await s.cancel().catch(() => {});
      return count;
    },
    join: () => Promise.reject(new DurableSessionError('NOT_SUPPORTED', RESUMABLE_STREAM_NA.join)),
    async follow(streamName, onToken) {
      const p = producers.get(streamName) ?? (await open(streamName));
      const { stream } = await listen(streamName, p.chars, onToken);
      return async () => {
        await stream.cancel().catch(() => {});
      };
    },
    async close() {
      for (const [n, p] of producers) await finish(n, p).catch(() => {});
      for (const c of clients) await c.quit().catch(() => c.destroy());
    },
  };
}
