import type { BaselineFactory, RawBaseline } from '@durable-sessions/conformance';
import { parseServers } from './options.js';

const STREAM = 'DS_BENCH_RAW';
const PREFIX = 'ds_bench_raw';
const decoder = new TextDecoder();

/**
 * The raw JetStream side of `durable-sessions bench nats://…`: the same work with `@nats-io/jetstream` alone, on a
 * stream of its own (`DS_BENCH_RAW`): awaited publishes, async publishes pipelined per batch, an ordered consumer
 * for replay and live follow.
 */
export const createBaseline: BaselineFactory = async (url: string): Promise<RawBaseline> => {
  const [{ connect }, { jetstream, jetstreamManager, DeliverPolicy }] = await Promise.all([
    import('@nats-io/transport-node'),
    import('@nats-io/jetstream'),
  ]);
  const { servers, user, pass, token } = parseServers(url);
  const nc = await connect({ servers, ...(user !== undefined ? { user, pass } : {}), ...(token !== undefined ? { token } : {}) });
  const js = jetstream(nc);
  const jsm = await jetstreamManager(nc);
  await jsm.streams.delete(STREAM).catch(() => false);
  await jsm.streams.add({ name: STREAM, subjects: [`${PREFIX}.*`], allow_direct: true });
  // Sequences of each log's messages, so a replay can start exactly after `skip` of them.
  const seqs = new Map<string, number[]>();
  const subject = (log: string) => `${PREFIX}.${log.replace(/[^A-Za-z0-9_-]/g, '_')}`;
  const record = (log: string, seq: number) => {
    let list = seqs.get(log);
    if (!list) seqs.set(log, (list = []));
    list.push(seq);
  };
  return {
    name: 'raw @nats-io/jetstream publish + ordered consumer',
    async appendEach(log, payloads) {
      for (const p of payloads) record(log, (await js.publish(subject(log), p)).seq);
    },
    async appendBatches(log, payloads, batchSize) {
      for (let i = 0; i < payloads.length; i += batchSize) {
        const acks = await Promise.all(payloads.slice(i, i + batchSize).map((p) => js.publish(subject(log), p)));
        for (const ack of acks) record(log, ack.seq);
      }
    },
    async replay(log, skip) {
      const list = seqs.get(log) ?? [];
      if (skip >= list.length) return 0;
      const consumer = await js.consumers.get(STREAM, { filter_subjects: subject(log), opt_start_seq: list[skip]! });
      const want = list.length - skip;
      let count = 0;
      const messages = await consumer.consume({ max_messages: 1_000 });
      for await (const m of messages) {
        decoder.decode(m.data);
        if (++count >= want || m.info.pending === 0) break;
      }
      await consumer.delete().catch(() => false);
      return count;
    },
    async follow(log, onPayload) {
      const consumer = await js.consumers.get(STREAM, { filter_subjects: subject(log), deliver_policy: DeliverPolicy.New });
      const messages = await consumer.consume({ max_messages: 512, callback: (m) => onPayload(decoder.decode(m.data)) });
      return async () => {
        messages.stop();
        await consumer.delete().catch(() => false);
      };
    },
    async close() {
      await jsm.streams.delete(STREAM).catch(() => false);
      await nc.close();
    },
  };
};
