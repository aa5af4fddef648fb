import type { BaselineFactory, RawBaseline } from '@durable-sessions/conformance';
import type { InboundMessage, PaginatedResult, Realtime } from 'ably';
import { parseAblyUrl, resolveOptions } from './options.js';

/**
 * Upper bounds for `durable-sessions bench` sizes against real Ably (names as in the CLI's `BenchSizes`): small
 * enough that each run stays near Ably's 50 messages/s per channel and per connection. The emulator has no rate
 * limits and needs none.
 */
export const REAL_ABLY_SIZE_LIMITS: Readonly<Record<string, number>> = {
  repetitions: 3,
  appendSingle: 100,
  appendBatch: 200,
  batchSize: 20,
  writer: 200,
  latency: 100,
  replayLength: 500,
  firstEvent: 20,
  fanoutSubscribers: 5,
  fanoutEvents: 100,
  idleSubscriptions: 200,
};

/** Whether the endpoint is this machine (the emulator). */
function isLocalEndpoint(endpoint: string | undefined): boolean {
  return endpoint !== undefined && /^(127\.|localhost$|\[?::1\]?$)/.test(endpoint);
}

/**
 * The raw-`ably` side of `durable-sessions bench ably://…`: the same work with the Ably SDK alone (publish,
 * batched publish split at the message size limit, forward history paging, subscribe). Against the emulator these
 * are emulator figures, not Ably's.
 */
export const createBaseline: BaselineFactory = async (url: string): Promise<RawBaseline> => {
  const options = resolveOptions(parseAblyUrl(url));
  const mod = await import('ably');
  const Ctor = (mod as { Realtime?: typeof import('ably').Realtime }).Realtime ?? (mod as unknown as { default: { Realtime: typeof import('ably').Realtime } }).default.Realtime;
  const client: Realtime = new Ctor(options.clientOptions);
  // In the store's namespace, so on real Ably the same channel rules (persisted history) apply to both sides.
  const channel = (log: string) => client.channels.get(`${options.channelPrefix}:raw-${log}`);
  const batches = (payloads: string[], size: number): string[][] => {
    const out: string[][] = [];
    let batch: string[] = [];
    let bytes = 0;
    for (const payload of payloads) {
      const length = Buffer.byteLength(payload, 'utf8');
      if (batch.length > 0 && (batch.length >= size || bytes + length > options.maxMessageSize)) {
        out.push(batch);
        batch = [];
        bytes = 0;
      }
      batch.push(payload);
      bytes += length;
    }
    if (batch.length > 0) out.push(batch);
    return out;
  };
  const local = isLocalEndpoint(options.clientOptions.endpoint);
  return {
    name: 'raw ably-js publish',
    // Real Ably limits every channel and connection to 50 published (and 50 received) messages per second, so
    // throughput workloads measure that limit, and the CLI's default sizes would be rejected with rate-limit errors
    // (42911/42913); the harness skips calibration and caps its sizes with these. See docs/adapters/ably.md.
    ...(local ? {} : { sizeLimits: REAL_ABLY_SIZE_LIMITS }),
    async appendEach(log, payloads) {
      const ch = channel(log);
      for (const data of payloads) await ch.publish({ data });
    },
    async appendBatches(log, payloads, batchSize) {
      const ch = channel(log);
      for (const batch of batches(payloads, batchSize)) await ch.publish(batch.map((data) => ({ data })));
    },
    async replay(log, skip) {
      let page: PaginatedResult<InboundMessage> | null = await channel(log).history({ direction: 'forwards', limit: 1_000 });
      let seen = 0;
      while (page) {
        seen += page.items.length;
        page = page.hasNext() ? await page.next() : null;
      }
      return Math.max(0, seen - skip);
    },
    async follow(log, onPayload) {
      const ch = channel(log);
      const listener = (message: InboundMessage) => onPayload(message.data as string);
      await ch.subscribe(listener);
      return async () => {
        ch.unsubscribe(listener);
      };
    },
    async close() {
      client.close();
    },
  };
};
