import * as Ably from 'ably';
import { afterEach, describe, expect, it } from 'vitest';
import { startEmulator, waitFor, type RunningAbly } from './helpers.js';

/**
 * The emulator's compact history, checked through the real `ably` SDK: de-duplication of id runs, paging of long
 * channels, and the memory budget that bounds all histories together (an emulator limit, reported to clients as
 * expired history: continuity lost on resume).
 */
describe('the Ably emulator history, driven by the real ably SDK', () => {
  const running: RunningAbly[] = [];
  const clients: Array<Ably.Realtime> = [];
  let channelCount = 0;
  const channelName = () => `test:hist-${process.pid}-${++channelCount}`;
  const start = async (options: { historyMemoryBytes?: number } = {}) => {
    const infra = await startEmulator(options);
    running.push(infra);
    return infra;
  };
  const options = (infra: RunningAbly): Ably.ClientOptions => ({
    ...infra.emulator.clientOptions(),
    useBinaryProtocol: false,
    disconnectedRetryTimeout: 500,
    logLevel: 0,
  });
  const realtime = async (infra: RunningAbly) => {
    const client = new Ably.Realtime(options(infra));
    clients.push(client);
    await client.connection.once('connected');
    return client;
  };
  const allHistory = async (channel: Ably.RealtimeChannel, params: Ably.RealtimeHistoryParams) => {
    const out: Ably.InboundMessage[] = [];
    let page: Ably.PaginatedResult<Ably.InboundMessage> | null = await channel.history(params);
    while (page) {
      out.push(...page.items);
      page = page.hasNext() ? await page.next() : null;
    }
    return out;
  };

  afterEach(async () => {
    for (const client of clients.splice(0)) client.close();
    for (const infra of running.splice(0)) await infra.stop();
  });

  it('de-duplicates runs of positional ids, also when a later publish repeats only some of them', async () => {
    const infra = await start();
    const channel = (await realtime(infra)).channels.get(channelName());
    const ids = (base: string, count: number) => Array.from({ length: count }, (_, k) => ({ id: `${base}:${k}`, data: `${base}${k}` }));
    const first = await channel.publish(ids('run', 2));
    expect((await channel.publish(ids('run', 2))).serials).toEqual(first.serials);
    const longer = await channel.publish(ids('run', 4));
    expect(longer.serials.slice(0, 2)).toEqual(first.serials);
    expect(new Set(longer.serials).size).toBe(4);
    expect((await channel.publish(ids('run', 4))).serials).toEqual(longer.serials);
    expect((await channel.publish({ id: 'run:3', data: 'run3' })).serials).toEqual([longer.serials[3]]);
    const single = await channel.publish({ id: 'single', data: 'single' });
    expect((await channel.publish({ id: 'single', data: 'single' })).serials).toEqual(single.serials);
    const history = await allHistory(channel, { direction: 'forwards', limit: 1000 });
    expect(history.map((m) => m.data)).toEqual(['run0', 'run1', 'run2', 'run3', 'single']);
    expect(history.map((m) => m.id)).toEqual(['run:0', 'run:1', 'run:2', 'run:3', 'single']);
    expect(history.map((m) => m.serial)).toEqual([...longer.serials, single.serials[0]]);
  });

  it('rejects the ids of a multi-message publish that are not <base>:<position> with 40031, as Ably does', async () => {
    const infra = await start();
    const channel = (await realtime(infra)).channels.get(channelName());
    await expect(channel.publish([{ id: 'b:1', data: 'x' }, { id: 'b:2', data: 'y' }])).rejects.toMatchObject({ code: 40031 });
    await expect(channel.publish([{ id: 'a:0', data: 'x' }, { id: 'b:1', data: 'y' }])).rejects.toMatchObject({ code: 40031 });
    await expect(channel.publish([{ id: 'a:0', data: 'x' }, { data: 'y' }])).rejects.toMatchObject({ code: 40031 });
    expect((await channel.publish([{ id: 'a:0', data: 'x' }, { id: 'a:1', data: 'y' }])).serials).toHaveLength(2);
    expect((await channel.publish([{ data: 'x' }, { data: 'y' }])).serials).toHaveLength(2);
  });

  it('pages a long history both ways, bounded by untilAttach and by a time window', async () => {
    const infra = await start();
    const name = channelName();
    const publisher = (await realtime(infra)).channels.get(name);
    for (let i = 0; i < 2_500; i += 100) await publisher.publish(Array.from({ length: 100 }, (_, k) => ({ data: String(i + k) })));
    const subscriber = (await realtime(infra)).channels.get(name);
    await subscriber.attach();
    await publisher.publish(Array.from({ length: 10 }, (_, k) => ({ data: `late${k}` })));
    const until = await allHistory(subscriber, { untilAttach: true, limit: 1000 });
    expect(until.map((m) => m.data)).toEqual(Array.from({ length: 2_500 }, (_, i) => String(2_499 - i)));
    const forwards = await allHistory(subscriber, { direction: 'forwards', limit: 999 });
    expect(forwards.map((m) => m.data)).toEqual([...Array.from({ length: 2_500 }, (_, i) => String(i)), ...Array.from({ length: 10 }, (_, k) => `late${k}`)]);
    const serials = forwards.map((m) => m.serial!);
    expect([...serials].sort()).toEqual(serials);
    const middle = forwards[1_234]!.timestamp;
    const windowed = await allHistory(subscriber, { direction: 'forwards', start: middle, end: middle, limit: 1000 });
    expect(windowed.length).toBeGreaterThan(0);
    expect(windowed.every((m) => m.timestamp === middle)).toBe(true);
    expect(windowed.map((m) => m.data)).toContain('1234');
  });

  it('keeps within its memory budget by dropping the oldest history of the least recently published channels', async () => {
    const infra = await start({ historyMemoryBytes: 200_000 });
    const client = await realtime(infra);
    const quiet = client.channels.get(channelName());
    const busy = client.channels.get(channelName());
    const payload = 'x'.repeat(900);
    await quiet.publish(Array.from({ length: 20 }, (_, k) => ({ data: `${k}${payload}` })));
    for (let i = 0; i < 40; i++) await busy.publish(Array.from({ length: 10 }, () => ({ data: payload })));
    expect(infra.emulator.state.budget.usedBytes).toBeLessThanOrEqual(200_000);
    expect(await allHistory(quiet, { limit: 1000 })).toEqual([]);
    const kept = await allHistory(busy, { limit: 1000 });
    expect(kept.length).toBeGreaterThan(50);
    expect(kept.length).toBeLessThan(400);
    const latest = (await busy.history({ limit: 1 })).items[0]!;
    expect(kept[0]!.serial).toBe(latest.serial);
  });

  it('reports lost continuity when the budget removed messages a dropped subscriber had not received', async () => {
    const infra = await start({ historyMemoryBytes: 100_000 });
    const subscriber = await realtime(infra);
    const name = channelName();
    const channel = subscriber.channels.get(name);
    const seen: string[] = [];
    await channel.subscribe((m) => void seen.push(m.data as string));
    const changes: Ably.ChannelStateChange[] = [];
    channel.on('update', (change) => void changes.push(change));
    channel.on('attached', (change) => void changes.push(change));
    const connectionId = subscriber.connection.id;
    // Published server-side in the same turn as the drop, so the subscriber cannot resume in between: a message it
    // misses, then enough on another channel to push it out of the budget.
    await infra.emulator.dropConnections();
    const state = infra.emulator.state;
    state.channel(name).publish([{ connectionId: 'server', data: 'missed' }], 'server:1');
    for (let i = 0; i < 20; i++) state.channel(`${name}-other`).publish(Array.from({ length: 10 }, () => ({ connectionId: 'server', data: 'y'.repeat(900) })), `server:o${i}`);
    expect(state.channel(name).size).toBe(0);
    await waitFor(() => changes.length > 0, 'the subscriber to re-attach', 20_000);
    expect(subscriber.connection.id).toBe(connectionId);
    expect(changes[0]!.resumed).toBe(false);
    expect(changes[0]!.reason?.code).toBe(90003);
    expect(seen).not.toContain('missed');
  });
});
