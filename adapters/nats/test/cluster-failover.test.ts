import { connect, type SessionEvent, type SessionStore } from '@durable-sessions/core';
import { nats, type NatsBackend } from '@durable-sessions/nats';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startInfra, waitFor, type RunningNats, type RunningNatsCluster } from './helpers.js';

let cluster: RunningNatsCluster;
beforeAll(async () => {
  cluster = await startInfra<RunningNatsCluster>('nats-cluster');
});
afterAll(async () => {
  await cluster?.stop();
});

it('killing the node that leads an R3 stream mid-stream loses and duplicates nothing, and the subscription goes on', async () => {
  const stream = 'DS_FAILOVER';
  const open = async (): Promise<[SessionStore, NatsBackend]> => {
    const backend = nats({ url: cluster.url, stream, replicas: 3 });
    await backend.ready();
    return [await connect({ backend }), backend];
  };
  const [writerStore, backend] = await open();
  const [readerStore] = await open();
  expect(backend.features?.version).toMatch(/^\d+\.\d+\.\d+/);

  const received: SessionEvent[] = [];
  const errors: unknown[] = [];
  const session = readerStore.session('failover');
  const subscription = session.subscribe({ from: 'start' }).subscribe({ next: (e) => received.push(e), error: (e) => errors.push(e) });

  const writer = writerStore.session('failover').writer({ maxRetries: 1_000, retryBackoffMs: 50 });
  const total = 600;
  const leader = await cluster.leaderOf(stream);
  for (let i = 0; i < total; i++) {
    void writer.write({ type: 'n', data: i });
    if (i === total / 3) {
      await writer.flush();
      await waitFor(() => received.length >= total / 3, 'the subscriber to catch up before the kill');
      await cluster.killNode(leader);
    }
    if (i % 50 === 0) await writer.flush();
  }
  await writer.close();
  await writerStore.session('failover').end();
  await waitFor(() => received.length >= total + 1, `all ${total} events and the end (got ${received.length})`, 60_000);
  subscription.unsubscribe();

  expect(errors).toEqual([]);
  const data = received.filter((e) => e.type === 'n').map((e) => e.data);
  expect(data).toEqual(Array.from({ length: total }, (_, i) => i));
  expect(received[received.length - 1]!.type).toBe('$end');
  const offsets = received.map((e) => e.offset);
  expect([...offsets].sort()).toEqual(offsets);
  expect(new Set(offsets).size).toBe(offsets.length);
  expect(await cluster.leaderOf(stream)).not.toBe(leader);

  await writerStore.close();
  await readerStore.close();
});
