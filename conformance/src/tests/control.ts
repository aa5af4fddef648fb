import { check, checkEqual, checkIncreasing, checkSequence, ev, expectCode, keys } from '../suite/assert.js';
import { collect, later, record } from '../suite/helpers.js';
import { defineTests, liveTails, readAll, released } from './util.js';

/** C16 the control channel. */
export const controlTests = defineTests([
  {
    id: 'control.sent-before-agent-subscribes',
    title: 'A control message sent before the agent subscribes (before any run exists) reaches the agent that subscribes later',
    clauses: ['C16'],
    tags: ['peers-10'],
    async run(ctx) {
      const client = await ctx.connect({ clientId: 'user' });
      const agent = await ctx.connect({ clientId: 'agent' });
      const id = ctx.sessionId();
      const receipt = await client.session(id).control.send({ type: 'cancel', data: { why: 'changed my mind' } });
      const [message] = await collect(agent.session(id).control.subscribe({ from: 'start' }), 1, ctx.ms(10_000));
      checkEqual([message?.type, message?.data, message?.offset, message?.producer.clientId], ['cancel', { why: 'changed my mind' }, receipt.offset, 'user'], 'control message');
      const [iterated] = await collect(agent.session(id).control.events({ from: 'start' }), 1, ctx.ms(10_000));
      checkEqual(iterated?.offset, receipt.offset, 'control message via the iterator');
    },
  },
  {
    id: 'control.live-delivery-in-order',
    title: 'Control messages reach a live agent in send order with increasing offsets of their own',
    clauses: ['C16', 'C1'],
    async run(ctx) {
      const client = await ctx.connect();
      const agent = await ctx.connect();
      const id = ctx.sessionId();
      const rec = record(agent.session(id).control.subscribe({ from: 'now' }));
      ctx.defer(() => rec.stop());
      await liveTails(ctx, agent);
      const offsets = [];
      for (let i = 0; i < 10; i++) offsets.push((await client.session(id).control.send(ev(`c${i}`, 'steer'))).offset);
      checkIncreasing(offsets, 'control offsets');
      const got = await rec.untilCount(10, ctx.ms(10_000));
      checkEqual(got.map((m) => m.offset), offsets, 'delivered control offsets');
      checkSequence(keys(got), offsets.map((_, i) => `c${i}`), 'delivered control messages');
    },
  },
  {
    id: 'control.never-in-event-log',
    title: 'Control messages never appear in the event log, and events never appear on the control log',
    clauses: ['C16', 'C11'],
    async run(ctx) {
      const store = await ctx.connect();
      const s = ctx.session(store);
      await s.append(ev('e0'));
      await s.control.send(ev('c0', 'cancel'));
      await s.append(ev('e1'));
      await s.control.send(ev('c1', 'steer'));
      checkSequence(keys(await readAll(s)), ['e0', 'e1'], 'event log');
      checkSequence(keys(await collect(s.control.subscribe({ from: 'start' }), 2, ctx.ms(10_000))), ['c0', 'c1'], 'control log');
      const info = await s.info();
      checkEqual(info.lastOffset, (await readAll(s)).pop()?.offset, 'info().lastOffset ignores control messages');
    },
  },
  {
    id: 'control.ack-two-phase',
    title: 'send() returns a receipt; acknowledged() resolves with the `$ack` event the agent appends to the event log',
    clauses: ['C16'],
    async run(ctx) {
      const client = await ctx.connect({ clientId: 'user' });
      const agent = await ctx.connect({ clientId: 'agent' });
      const id = ctx.sessionId();
      const agentSession = agent.session(id);
      await client.session(id).append(ev('before'));
      const receipt = await client.session(id).control.send({ type: 'steer', data: { text: 'shorter please' } });
      const waiting = later(receipt.acknowledged({ timeoutMs: ctx.ms(15_000) }));
      const [message] = await collect(agentSession.control.subscribe({ from: 'start' }), 1, ctx.ms(10_000));
      const ackOffset = await agentSession.control.ack(message!, { applied: true });
      const ack = await waiting;
      checkEqual([ack.type, ack.offset, ack.data, ack.producer.clientId], ['$ack', ackOffset, { control: receipt.offset, data: { applied: true } }, 'agent'], 'the $ack event');
      checkSequence(keys(await readAll(client.session(id))), ['before', '$ack'], 'event log');
      const late = await receipt.acknowledged({ timeoutMs: ctx.ms(10_000) });
      checkEqual(late.offset, ackOffset, 'acknowledged() called after the ack landed');
    },
  },
  {
    id: 'control.ack-by-offset',
    title: 'ack() accepts the control offset string; acks of other messages do not satisfy a receipt',
    clauses: ['C16'],
    async run(ctx) {
      const store = await ctx.connect();
      const s = ctx.session(store);
      const first = await s.control.send({ type: 'a' });
      const second = await s.control.send({ type: 'b' });
      const waiting = later(second.acknowledged({ timeoutMs: ctx.ms(15_000) }));
      await s.control.ack(first.offset);
      await s.control.ack(second.offset, 'done');
      const ack = await waiting;
      checkEqual(ack.data, { control: second.offset, data: 'done' }, 'the matching $ack');
    },
  },
  {
    id: 'control.ack-timeout',
    title: 'acknowledged() rejects with TIMEOUT when nobody acknowledges, and frees its subscription',
    clauses: ['C16', 'C20', 'C17'],
    async run(ctx) {
      const store = await ctx.connect();
      const s = ctx.session(store);
      const receipt = await s.control.send({ type: 'cancel' });
      await expectCode(receipt.acknowledged({ timeoutMs: 300 }), 'TIMEOUT', 'acknowledged() without an ack');
      await released(ctx, store);
    },
  },
  {
    id: 'control.ack-abort',
    title: 'acknowledged() rejects with ABORTED when its signal aborts',
    clauses: ['C16', 'C20', 'C17'],
    async run(ctx) {
      const store = await ctx.connect();
      const s = ctx.session(store);
      const receipt = await s.control.send({ type: 'cancel' });
      const ac = new AbortController();
      const waiting = later(receipt.acknowledged({ timeoutMs: ctx.ms(30_000), signal: ac.signal }));
      await liveTails(ctx, store);
      ac.abort();
      await expectCode(waiting, 'ABORTED', 'aborted acknowledged()');
      await released(ctx, store);
    },
  },
  {
    id: 'control.ack-after-end',
    title: 'acknowledged() rejects with SESSION_ENDED when the session ends without an ack',
    clauses: ['C16', 'C9'],
    async run(ctx) {
      const s = ctx.session(await ctx.connect());
      const receipt = await s.control.send({ type: 'cancel' });
      const waiting = later(receipt.acknowledged({ timeoutMs: ctx.ms(15_000) }));
      await s.end({ reason: 'cancelled' });
      await expectCode(waiting, 'SESSION_ENDED', 'acknowledged() of an ended session');
    },
  },
  {
    id: 'control.ack-invalid-offset',
    title: 'ack() of a malformed offset, an event offset or a foreign control offset fails with INVALID_OFFSET and appends nothing',
    clauses: ['C16', 'C12'],
    async run(ctx) {
      const store = await ctx.connect();
      const s = ctx.session(store);
      const other = ctx.session(store, '-other');
      const eventOffset = await s.append(ev('e'));
      const foreign = await other.control.send({ type: 'x' });
      await expectCode(s.control.ack('garbage'), 'INVALID_OFFSET', 'ack of a malformed offset');
      await expectCode(s.control.ack(eventOffset), 'INVALID_OFFSET', 'ack of an event offset');
      await expectCode(s.control.ack(foreign.offset), 'INVALID_OFFSET', 'ack of another session\'s control offset');
      checkSequence(keys(await readAll(s)), ['e'], 'event log');
    },
  },
  {
    id: 'control.resume-after-offset',
    title: 'An agent resuming the control log after the last message it handled gets only newer messages',
    clauses: ['C16', 'C2'],
    async run(ctx) {
      const store = await ctx.connect();
      const s = ctx.session(store);
      const offsets = [];
      for (let i = 0; i < 5; i++) offsets.push((await s.control.send(ev(`c${i}`, 'steer'))).offset);
      const got = await collect(s.control.subscribe({ from: offsets[2]! }), 2, ctx.ms(10_000));
      checkSequence(keys(got), ['c3', 'c4'], 'control messages after offset 2');
      check(got.every((m) => m.sessionId === s.id), 'control messages carry the session id');
    },
  },
  {
    id: 'control.ack-wait-on-closed-handle',
    title: 'acknowledged() on a handle that closes rejects with CLOSED, never claiming the session ended',
    clauses: ['C16', 'C20'],
    async run(ctx) {
      const store = await ctx.connect();
      const s = ctx.session(store);
      const receipt = await s.control.send({ type: 'cancel' });
      const waiting = later(receipt.acknowledged({ timeoutMs: ctx.ms(15_000) }));
      await liveTails(ctx, store);
      await s.close();
      await expectCode(waiting, 'CLOSED', 'acknowledged() after the handle closed');
      checkEqual((await store.session(s.id).info()).ended, false, 'the session is not ended');
    },
  },
]);
