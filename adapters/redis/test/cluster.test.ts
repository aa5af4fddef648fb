import { connect, type SessionEvent, type SessionStore } from '@durable-sessions/core';
import { startRedisCluster, type RedisCluster } from '@durable-sessions/conformance/infra';
import { redis } from '@durable-sessions/redis';
import { createClient, createCluster } from 'redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uniqueId, waitFor } from './helpers.js';

/** A plain connection to one master. */
function adminClient(port: number) {
  return createClient({ url: `redis://127.0.0.1:${port}`, RESP: 2 });
}
type Admin = ReturnType<typeof adminClient>;

let cluster: RedisCluster;
/** One plain connection per master, by port. */
const admins = new Map<number, Admin>();

beforeAll(async () => {
  cluster = await startRedisCluster();
  for (const port of cluster.ports) {
    const admin = adminClient(port);
    admin.on('error', () => {});
    await admin.connect();
    admins.set(port, admin);
  }
});

afterAll(async () => {
  for (const admin of admins.values()) await admin.close().catch(() => {});
  await cluster?.stop();
});

/** Client connections on every master, not counting the admin connections. */
async function clientCount(): Promise<number> {
  let total = 0;
  for (const admin of admins.values()) {
    const list = String(await admin.sendCommand(['CLIENT', 'LIST']));
    total += list.split('\n').filter((line) => line.trim()).length - 1;
  }
  return total;
}

interface Node {
  id: string;
  port: number;
  slots: Array<[number, number]>;
}

async function nodes(): Promise<Node[]> {
  const text = String(await admins.get(cluster.ports[0]!)!.sendCommand(['CLUSTER', 'NODES']));
  return text
    .split('\n')
    .filter((line) => line.trim())
    .map((line) => {
      const [id, address, , , , , , , ...ranges] = line.split(' ');
      const slots = ranges.filter((r) => /^\d/.test(r)).map((r): [number, number] => {
        const [lo, hi] = r.split('-').map(Number);
        return [lo!, hi ?? lo!];
      });
      return { id: id!, port: Number(/:(\d+)@/.exec(address!)![1]), slots };
    });
}

function collect(store: SessionStore, id: string): { events: SessionEvent[]; errors: unknown[]; stop(): void } {
  const events: SessionEvent[] = [];
  const errors: unknown[] = [];
  const sub = store.session(id).subscribe({ from: 'start' }).subscribe({ next: (e) => events.push(e), error: (e) => errors.push(e) });
  return { events, errors, stop: () => sub.unsubscribe() };
}

describe('Redis Cluster', () => {
  it('serves 200 subscribers of 200 sessions over one connection per master plus one for wake-ups', async () => {
    const before = await clientCount();
    const store = await connect({ backend: redis({ url: cluster.url }) });
    const ids = Array.from({ length: 200 }, (_, i) => uniqueId(`many${i}`));
    const subs = ids.map((id) => collect(store, id));
    await Promise.all(ids.map((id) => store.session(id).append({ type: 'hello', data: id })));
    await waitFor(() => subs.every((s) => s.events.length === 1), 'every subscriber to get its event', 30_000);
    expect(subs.every((s, i) => s.events[0]!.data === ids[i] && s.errors.length === 0)).toBe(true);
    // Sessions spread over all three masters; tails add one pub/sub connection, never one per subscriber.
    expect(await clientCount()).toBeLessThanOrEqual(before + cluster.ports.length + 1);
    for (const s of subs) s.stop();
    await store.close();
  });

  it('uses a cluster client the application passes in, and leaves it open and unsubscribed on close', async () => {
    const client = createCluster({ rootNodes: [{ url: `redis://127.0.0.1:${cluster.ports[0]}` }], RESP: 2 });
    client.on('error', () => {});
    const store = await connect({ backend: redis({ client }) });
    const id = uniqueId('own');
    const live = collect(store, id);
    await store.session(id).append({ type: 'a' });
    await waitFor(() => live.events.length === 1, 'the event through the own client');
    live.stop();
    await store.close();
    expect(client.isOpen).toBe(true);
    expect(await client.sendCommand(`ds:{${id}}:events`, true, ['XLEN', `ds:{${id}}:events`])).toBe(1);
    const channels = async () => {
      let all: string[] = [];
      for (const admin of admins.values()) all = all.concat((await admin.sendCommand(['PUBSUB', 'CHANNELS', 'ds:n:*'])) as string[]);
      return all;
    };
    let left: string[] = [];
    await waitFor(async () => (left = await channels()).length === 0, 'the wake-up channels to be unsubscribed').catch((err: Error) => {
      throw new Error(`${err.message}: ${left.join(',')}`);
    });
    await client.close();
  });

  it('follows a session whose slot moves to another master (ASK while migrating, MOVED after), without gap or duplicate', async () => {
    const store = await connect({ backend: redis({ url: cluster.url }) });
    const id = uniqueId('moving');
    const session = store.session(id);
    const live = collect(store, id);
    await session.append([0, 1, 2].map((i) => ({ type: `e${i}` })), { producer: { id: 'p', seq: 0 } });
    await waitFor(() => live.events.length === 3, 'the first events');

    const key = `ds:{${id}}:events`;
    const any = admins.get(cluster.ports[0]!)!;
    const slot = Number(await any.sendCommand(['CLUSTER', 'KEYSLOT', key]));
    const all = await nodes();
    const source = all.find((n) => n.slots.some(([lo, hi]) => slot >= lo && slot <= hi))!;
    const target = all.find((n) => n !== source)!;
    const src = admins.get(source.port)!;
    const dst = admins.get(target.port)!;
    await dst.sendCommand(['CLUSTER', 'SETSLOT', String(slot), 'IMPORTING', source.id]);
    await src.sendCommand(['CLUSTER', 'SETSLOT', String(slot), 'MIGRATING', target.id]);
    const keys = (await src.sendCommand(['CLUSTER', 'GETKEYSINSLOT', String(slot), '100'])) as string[];
    expect(keys).toContain(key);
    await src.sendCommand(['MIGRATE', '127.0.0.1', String(target.port), '', '0', '5000', 'KEYS', ...keys]);

    // Mid-migration: the source answers ASK for the moved keys, and the client asks the target.
    await session.append({ type: 'e3' }, { producer: { id: 'p', seq: 1 } });
    for (const node of [target, source, ...all.filter((n) => n !== source && n !== target)]) {
      await admins.get(node.port)!.sendCommand(['CLUSTER', 'SETSLOT', String(slot), 'NODE', target.id]);
    }
    // Migrated: the store's slot map is stale, so the first command gets MOVED and the client follows it.
    await session.append([4, 5].map((i) => ({ type: `e${i}` })), { producer: { id: 'p', seq: 2 } });
    // A retried call after the move is still recognised: the producer state moved with the keys.
    await session.append([4, 5].map((i) => ({ type: `e${i}` })), { producer: { id: 'p', seq: 2 } });

    const expected = ['e0', 'e1', 'e2', 'e3', 'e4', 'e5'];
    await waitFor(() => live.events.length >= expected.length, 'the events appended during and after the move');
    expect(live.events.map((e) => e.type)).toEqual(expected);
    expect(live.errors).toEqual([]);
    expect((await session.read()).events.map((e) => e.type)).toEqual(expected);
    expect(Number(await dst.sendCommand(['EXISTS', key]))).toBe(1);
    // The redirections really happened (and were followed): the source counted both replies.
    const errors = String(await src.sendCommand(['INFO', 'errorstats']));
    expect(errors).toMatch(/errorstat_ASK:count=[1-9]/);
    expect(errors).toMatch(/errorstat_MOVED:count=[1-9]/);
    live.stop();
    await store.close();
  });
});
