import * as Ably from 'ably';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, waitFor, type RunningAbly } from './helpers.js';

/**
 * The emulator checked through the real `ably` SDK: only what the SDK exposes is asserted (order, exactly-once,
 * resumed flags, serial order), never the emulator's internals.
 */
describe('the Ably emulator, driven by the real ably SDK', () => {
  let infra: RunningAbly;
  const clients: Array<Ably.Realtime> = [];
  let channelCount = 0;
  const channelName = () => `test:emu-${process.pid}-${++channelCount}`;

  const options = (extra: Ably.ClientOptions = {}): Ably.ClientOptions => ({
    ...infra.emulator.clientOptions(),
    useBinaryProtocol: false,
    disconnectedRetryTimeout: 500,
    logLevel: 0,
    ...extra,
  });
  const realtime = async (extra: Ably.ClientOptions = {}) => {
    const client = new Ably.Realtime(options(extra));
    clients.push(client);
    await client.connection.once('connected');
    return client;
  };
  const rest = (extra: Ably.ClientOptions = {}) => new Ably.Rest(options(extra));

  beforeAll(async () => {
    infra = await startEmulator();
  });
  afterEach(() => {
    infra.refuseResumes(false);
    for (const client of clients.splice(0)) client.close();
  });
  afterAll(async () => {
    await infra?.stop();
  });

  it('connects, attaches with mode flags, and acknowledges publishes with increasing serials', async () => {
    const client = await realtime();
    expect(client.connection.id).toBeTruthy();
    const channel = client.channels.get(channelName());
    await channel.attach();
    expect(channel.state).toBe('attached');
    expect(channel.modes).toEqual(expect.arrayContaining(['publish', 'subscribe', 'presence', 'presence_subscribe']));
    const first = await channel.publish('a', 'one');
    const second = await channel.publish([{ name: 'b', data: 'two' }, { name: 'c', data: { three: 3 } }]);
    const serials = [...first.serials, ...second.serials] as string[];
    expect(serials).toHaveLength(3);
    expect([...serials].sort()).toEqual(serials);
    expect(new Set(serials).size).toBe(3);
  });

  it('fans a message out to every attached client with id, connectionId, timestamp and serial', async () => {
    const name = channelName();
    const publisher = await realtime();
    const subscribers = await Promise.all([realtime(), realtime({ useBinaryProtocol: true })]);
    const received: Ably.InboundMessage[][] = subscribers.map(() => []);
    await Promise.all(subscribers.map((client, i) => client.channels.get(name).subscribe((m) => void received[i]!.push(m))));
    const { serials } = await publisher.channels.get(name).publish('greeting', { hello: 'world' });
    await waitFor(() => received.every((r) => r.length === 1), 'both subscribers to receive the message');
    for (const [message] of received) {
      expect(message!.data).toEqual({ hello: 'world' });
      expect(message!.name).toBe('greeting');
      expect(message!.connectionId).toBe(publisher.connection.id);
      expect(message!.serial).toBe(serials[0]);
      expect(typeof message!.id).toBe('string');
      expect(Math.abs(message!.timestamp - Date.now())).toBeLessThan(10_000);
    }
  });

  it('serves history newest-first or forwards, paginated through Link headers, over REST and realtime', async () => {
    const name = channelName();
    const client = await realtime();
    const channel = client.channels.get(name);
    for (let i = 0; i < 25; i++) await channel.publish('n', String(i));
    const pages: string[][] = [];
    let page: Ably.PaginatedResult<Ably.InboundMessage> | null = await rest().channels.get(name).history({ limit: 10 });
    while (page) {
      pages.push(page.items.map((m) => m.data as string));
      page = page.hasNext() ? await page.next() : null;
    }
    expect(pages.map((p) => p.length)).toEqual([10, 10, 5]);
    expect(pages.flat()).toEqual(Array.from({ length: 25 }, (_, i) => String(24 - i)));
    const forwards = await channel.history({ direction: 'forwards', limit: 7 });
    expect(forwards.items.map((m) => m.data)).toEqual(['0', '1', '2', '3', '4', '5', '6']);
    const next = await forwards.next();
    expect(next!.items[0]!.data).toBe('7');
    const serials = forwards.items.map((m) => m.serial!);
    expect([...serials].sort()).toEqual(serials);
    const windowed = await channel.history({ start: forwards.items[3]!.timestamp, end: Date.now(), limit: 1000 });
    expect(windowed.items.length).toBeGreaterThanOrEqual(22 - 3);
  });

  it('publishes over REST with serials, seen live by realtime subscribers', async () => {
    const name = channelName();
    const subscriber = await realtime();
    const seen: string[] = [];
    await subscriber.channels.get(name).subscribe((m) => void seen.push(m.data as string));
    const result = await rest().channels.get(name).publish([{ name: 'r', data: 'x' }, { name: 'r', data: 'y' }]);
    expect(result.serials).toHaveLength(2);
    await waitFor(() => seen.length === 2, 'REST-published messages to arrive');
    expect(seen).toEqual(['x', 'y']);
    expect(typeof (await rest().time())).toBe('number');
  });

  it('keeps presence: enter, update and leave are seen live, and a late attach gets the set by SYNC', async () => {
    const name = channelName();
    const alice = await realtime({ clientId: 'alice' });
    const observer = await realtime();
    const events: string[] = [];
    await observer.channels.get(name).presence.subscribe((p) => void events.push(`${p.action}:${p.clientId}:${JSON.stringify(p.data)}`));
    const aliceChannel = alice.channels.get(name);
    await aliceChannel.presence.enter({ status: 'here' });
    await aliceChannel.presence.update({ status: 'typing' });
    const late = await realtime();
    const members = await late.channels.get(name).presence.get();
    expect(members.map((m) => [m.clientId, m.data])).toEqual([['alice', { status: 'typing' }]]);
    const restMembers = await rest().channels.get(name).presence.get();
    expect(restMembers.items.map((m) => m.clientId)).toEqual(['alice']);
    await aliceChannel.presence.leave();
    await waitFor(() => events.length === 3, 'three presence events');
    expect(events).toEqual(['enter:alice:{"status":"here"}', 'update:alice:{"status":"typing"}', 'leave:alice:{"status":"typing"}']);
    await waitFor(async () => (await late.channels.get(name).presence.get()).length === 0, 'the member to be gone');
    const history = await rest().channels.get(name).presence.history({ direction: 'forwards' });
    expect(history.items.map((p) => p.action)).toEqual(['enter', 'update', 'leave']);
  });

  it('enters members on behalf of clients with enterClient on an anonymous key connection', async () => {
    const name = channelName();
    const client = await realtime();
    const presence = client.channels.get(name).presence;
    await presence.enterClient('handle-1', 'a');
    await presence.enterClient('handle-2', 'b');
    await presence.leaveClient('handle-1');
    expect((await presence.get()).map((m) => [m.clientId, m.data])).toEqual([['handle-2', 'b']]);
  });

  it('limits history to the attach point with untilAttach', async () => {
    const name = channelName();
    const publisher = await realtime();
    const pub = publisher.channels.get(name);
    for (const k of ['a', 'b', 'c']) await pub.publish('k', k);
    const subscriber = await realtime();
    const channel = subscriber.channels.get(name);
    await channel.attach();
    for (const k of ['d', 'e']) await pub.publish('k', k);
    const before = await channel.history({ untilAttach: true });
    expect(before.items.map((m) => m.data)).toEqual(['c', 'b', 'a']);
    const all = await channel.history();
    expect(all.items.map((m) => m.data)).toEqual(['e', 'd', 'c', 'b', 'a']);
  });

  it('replays the last messages on attach with the rewind param', async () => {
    const name = channelName();
    const publisher = await realtime();
    for (const k of ['1', '2', '3', '4', '5']) await publisher.channels.get(name).publish('k', k);
    const subscriber = await realtime();
    const channel = subscriber.channels.get(name, { params: { rewind: '3' } });
    const seen: string[] = [];
    await channel.subscribe((m) => void seen.push(m.data as string));
    await waitFor(() => seen.length === 3, 'three rewound messages');
    expect(seen).toEqual(['3', '4', '5']);
    expect(channel.params).toEqual({ rewind: '3' });
  });

  it('carries binary data over msgpack and JSON alike', async () => {
    const name = channelName();
    const bytes = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    const binary = await realtime({ useBinaryProtocol: true });
    const json = await realtime({ useBinaryProtocol: false });
    const got: unknown[] = [];
    await json.channels.get(name).subscribe((m) => void got.push(m.data));
    await binary.channels.get(name).publish('bin', bytes);
    await waitFor(() => got.length === 1, 'the binary message');
    expect(Buffer.from(got[0] as Uint8Array).equals(bytes)).toBe(true);
    const history = await rest({ useBinaryProtocol: true }).channels.get(name).history();
    expect(Buffer.from(history.items[0]!.data as Uint8Array).equals(bytes)).toBe(true);
  });

  it('issues tokens for signed token requests and enforces the token clientId', async () => {
    const name = channelName();
    const client = await realtime({ useTokenAuth: true, clientId: 'tok-user' });
    expect(client.auth.clientId).toBe('tok-user');
    const channel = client.channels.get(name);
    const { serials } = await channel.publish('t', 'via token');
    expect(serials).toHaveLength(1);
    const history = await rest().channels.get(name).history();
    expect(history.items[0]!.clientId).toBe('tok-user');
    await expect(channel.publish({ name: 'x', data: 'y', clientId: 'someone-else' })).rejects.toMatchObject({ code: 40012 });
    const details = await rest().auth.requestToken({ clientId: '*' });
    expect(details.token).toBeTruthy();
    const tokenRest = rest({ key: undefined, token: details.token });
    expect((await tokenRest.channels.get(name).history()).items).toHaveLength(1);
    const tokenRealtime = await realtime({ key: undefined, token: details.token });
    await tokenRealtime.channels.get(name).presence.enterClient('anyone', 'x');
    await expect(rest({ key: 'emu.key:wrong-secret' }).channels.get(name).history()).rejects.toMatchObject({ code: 40101 });
  });

  it('rejects a publish above the message size limit with 40009', async () => {
    const client = await realtime();
    const channel = client.channels.get(channelName());
    await expect(channel.publish('big', 'x'.repeat(65 * 1024))).rejects.toMatchObject({ code: 40009 });
    await expect(rest().channels.get(channel.name).publish('big', 'x'.repeat(65 * 1024))).rejects.toMatchObject({ code: 40009 });
    await channel.publish('small', 'x'.repeat(1024));
  });

  it('de-duplicates a republished client-supplied message id and returns the original serial', async () => {
    const name = channelName();
    const client = await realtime();
    const channel = client.channels.get(name);
    const first = await channel.publish({ id: 'fixed-id:0', data: 'once' });
    const again = await channel.publish({ id: 'fixed-id:0', data: 'once' });
    expect(again.serials).toEqual(first.serials);
    expect((await channel.history()).items.map((m) => m.data)).toEqual(['once']);
  });

  it('resumes a dropped connection with the same id and replays what was missed, without loss or duplicates', async () => {
    const name = channelName();
    const publisher = await realtime();
    const subscriber = await realtime();
    const channel = subscriber.channels.get(name);
    const seen: string[] = [];
    const updates: Ably.ChannelStateChange[] = [];
    await channel.subscribe((m) => void seen.push(m.data as string));
    channel.on('update', (change) => void updates.push(change));
    const pub = publisher.channels.get(name);
    await pub.publish('k', 'before');
    await waitFor(() => seen.length === 1, 'the first message');
    const connectionId = subscriber.connection.id;
    const published: Array<Promise<unknown>> = [];
    await infra.dropConnections();
    for (let i = 0; i < 20; i++) published.push(pub.publish('k', `during-${i}`));
    await Promise.all(published);
    await waitFor(() => seen.length === 21, 'every message after the drop', 20_000);
    expect(seen).toEqual(['before', ...Array.from({ length: 20 }, (_, i) => `during-${i}`)]);
    expect(subscriber.connection.id).toBe(connectionId);
    expect(updates.filter((u) => !u.resumed)).toEqual([]);
    expect((await channel.history({ limit: 100 })).items).toHaveLength(21);
  });

  it('re-acknowledges a publish whose ACK was lost instead of publishing it twice', async () => {
    const name = channelName();
    const client = await realtime();
    const channel = client.channels.get(name);
    await channel.attach();
    const connectionId = client.connection.id;
    infra.emulator.loseNextAck();
    const { serials } = await channel.publish('k', 'once');
    expect(serials).toHaveLength(1);
    expect(client.connection.id).toBe(connectionId);
    const history = await channel.history();
    expect(history.items.map((m) => [m.data, m.serial])).toEqual([['once', serials[0]]]);
  });

  it('refuses resumes on demand: a new connection id and a channel update with resumed false', async () => {
    const name = channelName();
    const subscriber = await realtime();
    const channel = subscriber.channels.get(name);
    await channel.attach();
    const lost: Ably.ChannelStateChange[] = [];
    channel.on('update', (change) => void lost.push(change));
    channel.on('attached', (change) => void lost.push(change));
    const connectionId = subscriber.connection.id;
    infra.refuseResumes(true);
    await infra.dropConnections();
    await waitFor(() => lost.length > 0, 'the channel to report lost continuity', 20_000);
    expect(subscriber.connection.id).not.toBe(connectionId);
    expect(lost[0]!.resumed).toBe(false);
    expect(lost[0]!.reason?.code).toBe(90003);
    const { serials } = await channel.publish('k', 'after');
    expect(serials).toHaveLength(1);
  });

  it('keeps channel history across a restart that loses connection state', async () => {
    const name = channelName();
    const client = await realtime();
    const channel = client.channels.get(name);
    await channel.attach();
    await channel.publish('k', 'kept');
    const connectionId = client.connection.id;
    const lost: Ably.ChannelStateChange[] = [];
    channel.on('update', (change) => void lost.push(change));
    channel.on('attached', (change) => void lost.push(change));
    await infra.restart();
    await waitFor(() => lost.length > 0 && client.connection.state === 'connected', 'reconnection after the restart', 30_000);
    expect(client.connection.id).not.toBe(connectionId);
    expect(lost[0]!.resumed).toBe(false);
    expect((await rest().channels.get(name).history()).items.map((m) => m.data)).toEqual(['kept']);
  });
});
