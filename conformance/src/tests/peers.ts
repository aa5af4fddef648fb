import type { SessionEvent } from '@durable-sessions/core';
import { check, checkEqual, checkSequence, ev, keys, range } from '../suite/assert.js';
import { collect, record, type Recorder } from '../suite/helpers.js';
import { appendKeys, defineTests, liveTails, readAll, released, yieldToIo } from './util.js';

/** Failures users of peer products report (docs: peers.md), each as a scenario. */
export const peerTests = defineTests([
  {
    id: 'peers.fresh-client-joins-mid-stream',
    title: 'A client that has received nothing joins a running stream from start and gets everything, then the live rest',
    clauses: ['C2', 'C3'],
    tags: ['peers-6'],
    async run(ctx) {
      const agent = await ctx.connect({ clientId: 'agent' });
      const client = await ctx.connect({ clientId: 'user' });
      const id = ctx.sessionId();
      const writer = agent.session(id).writer({ lingerMs: 2 });
      const expected = range('t', 600);
      let joined: Promise<SessionEvent[]> | undefined;
      for (const [i, k] of expected.entries()) {
        void writer.write(ev(k));
        if (i === 300) joined = collect(client.session(id).subscribe({ from: 'start' }), Infinity, ctx.ms(20_000));
        if (i % 50 === 0) await yieldToIo();
      }
      await writer.close();
      await agent.session(id).end({ reason: 'complete' });
      checkSequence(keys(await joined!), [...expected, '$end'], 'what the late client received');
    },
  },
  {
    id: 'peers.new-device-gets-whole-session',
    title: 'A brand-new store (another tab or device) gets the whole session, ended or not',
    clauses: ['C2', 'C9'],
    tags: ['peers-7'],
    async run(ctx) {
      const first = await ctx.connect({ clientId: 'user' });
      const id = ctx.sessionId();
      await appendKeys(first.session(id), range('e', 30), 4);
      const tab = await ctx.connect({ clientId: 'user' });
      checkSequence(keys(await collect(tab.session(id).subscribe({ from: 'start' }), 30, ctx.ms(10_000))), range('e', 30), 'new tab before the end');
      await first.session(id).end();
      const device = await ctx.connect({ clientId: 'user' });
      checkSequence(keys(await collect(device.session(id).events({ from: 'start' }), Infinity, ctx.ms(10_000))), [...range('e', 30), '$end'], 'new device after the end');
    },
  },
  {
    id: 'peers.simultaneous-resumes',
    title: 'Many simultaneous resumes from one client (StrictMode double mounts) each get the exact suffix while the stream continues',
    clauses: ['C2', 'C3', 'C17'],
    tags: ['peers-12'],
    timeoutMs: 40_000,
    async run(ctx) {
      const agent = await ctx.connect();
      const client = await ctx.connect();
      const id = ctx.sessionId();
      const expected = range('e', 300);
      const offsets = await appendKeys(agent.session(id), expected.slice(0, 100), 10);
      const handle = client.session(id);
      const resumes = Array.from({ length: 12 }, (_, i) =>
        collect(i % 3 === 0 ? handle.events({ from: offsets[49]! }) : client.session(id).subscribe({ from: offsets[49]!, pageSize: 16 }), 250, ctx.ms(20_000)),
      );
      await appendKeys(agent.session(id), expected.slice(100), 7);
      for (const [i, resume] of resumes.entries()) checkSequence(keys(await resume), expected.slice(50), `resume ${i}`);
      await released(ctx, client);
    },
  },
  {
    id: 'peers.large-backlog-slow-consumer',
    title: 'A slow consumer catching up on 20k events with pageSize 200 gets them all in order, then the live tail and the end',
    clauses: ['C2', 'C3', 'C10'],
    tags: ['peers-9', 'slow'],
    timeoutMs: 90_000,
    async run(ctx) {
      const store = await ctx.connect();
      const producer = await ctx.connect();
      const id = ctx.sessionId();
      const p = producer.session(id);
      const backlog = range('b', 20_000);
      const batch = Math.min(500, ctx.capabilities.maxBatchSize);
      await appendKeys(p, backlog, batch);
      const seen: string[] = [];
      let liveAppended = false;
      const live = range('l', 300);
      for await (const event of store.session(id).events({ from: 'start', pageSize: 200 })) {
        seen.push(event.type === '$end' ? '$end' : (event.data as { k: string }).k);
        if (seen.length % 250 === 0) await yieldToIo();
        if (seen.length === 10_000 && !liveAppended) {
          liveAppended = true;
          await appendKeys(p, live, 30);
          await p.end();
        }
      }
      checkSequence(seen, [...backlog, ...live, '$end'], 'what the slow consumer received');
      await released(ctx, store);
    },
  },
  {
    id: 'peers.disconnect-is-not-stop',
    title: "A subscriber disconnecting never ends the session or stops the producer; an explicit stop is a control message",
    clauses: ['C9', 'C16', 'C17'],
    tags: ['peers-11'],
    async run(ctx) {
      const agent = await ctx.connect({ clientId: 'agent' });
      const client = await ctx.connect({ clientId: 'user' });
      const id = ctx.sessionId();
      const a = agent.session(id);
      const stops = record(a.control.subscribe({ from: 'start' }));
      ctx.defer(() => stops.stop());
      const viewer = record(client.session(id).subscribe({ from: 'start' }));
      const writer = a.writer({ lingerMs: 1 });
      for (const k of range('t', 100)) void writer.write(ev(k));
      await viewer.untilCount(20, ctx.ms(10_000));
      viewer.stop();
      const lastSeen = viewer.items[viewer.items.length - 1]!.offset;
      for (const k of range('t', 100, 100)) void writer.write(ev(k));
      await writer.flush();
      checkEqual((await a.info()).ended, false, 'ended after the viewer disconnected');
      const resumed = await collect(client.session(id).subscribe({ from: lastSeen }), 200 - viewer.items.length, ctx.ms(10_000));
      checkSequence([...keys(viewer.items), ...keys(resumed)], range('t', 200), 'viewer before and after reconnecting');
      await client.session(id).control.send({ type: 'stop' });
      checkEqual((await stops.untilCount(1, ctx.ms(10_000)))[0]!.type, 'stop', 'the explicit stop reached the agent');
    },
  },
  {
    id: 'peers.two-devices-do-not-cross-cancel',
    title: 'Two devices of one user are told apart: each control message and event carries its own connectionId',
    clauses: ['C15', 'C16'],
    tags: ['peers-15'],
    async run(ctx) {
      const phone = await ctx.connect({ clientId: 'user-1' });
      const laptop = await ctx.connect({ clientId: 'user-1' });
      const id = ctx.sessionId();
      const p = phone.session(id);
      const l = laptop.session(id);
      check(p.connectionId !== l.connectionId, 'two devices share a connectionId');
      const cancel = await p.control.send({ type: 'cancel' });
      const steer = await l.control.send({ type: 'steer' });
      const messages = await collect(l.control.subscribe({ from: 'start' }), 2, ctx.ms(10_000));
      checkEqual(messages.map((m) => [m.offset, m.producer.clientId, m.producer.connectionId]), [
        [cancel.offset, 'user-1', p.connectionId],
        [steer.offset, 'user-1', l.connectionId],
      ], 'control messages by device');
    },
  },
  {
    id: 'peers.live-handoff-with-writer',
    title: 'A subscriber started while a writer streams tokens live sees them exactly once, with no gap at the hand-off',
    clauses: ['C3', 'C8'],
    tags: ['peers-1'],
    timeoutMs: 40_000,
    async run(ctx) {
      const agent = await ctx.connect();
      const client = await ctx.connect();
      for (let round = 0; round < 8; round++) {
        const id = ctx.sessionId(`-r${round}`);
        const writer = agent.session(id).writer({ lingerMs: round % 3 });
        const expected = range('t', 400);
        let viewer: Recorder<SessionEvent> | undefined;
        for (const [i, k] of expected.entries()) {
          void writer.write(ev(k));
          if (i === 40 * (round + 1)) viewer = record(client.session(id).subscribe({ from: 'start', pageSize: 25 }));
          if (i % 20 === 0) await yieldToIo();
        }
        await writer.close();
        checkSequence(keys(await viewer!.untilCount(400, ctx.ms(15_000))), expected, `round ${round}`);
        viewer!.stop();
      }
      await released(ctx, client);
    },
  },
  {
    id: 'peers.subscriber-in-handler-appends',
    title: 'A subscriber that appends from inside its handler (an agent reacting to events) neither deadlocks nor reorders',
    clauses: ['C3', 'C4'],
    async run(ctx) {
      const store = await ctx.connect();
      const s = ctx.session(store);
      const seen: string[] = [];
      const done = new Promise<void>((resolve, reject) => {
        const sub = s.subscribe({ from: 'start' }).subscribe({
          next(event) {
            const k = (event.data as { k: string }).k;
            seen.push(k);
            if (k.startsWith('q')) void s.append(ev(`a${k.slice(1)}`)).catch(reject);
            if (seen.length === 20) {
              sub.unsubscribe();
              resolve();
            }
          },
          error: reject,
        });
      });
      await liveTails(ctx, store);
      await appendKeys(s, range('q', 10));
      await done;
      const log = keys(await readAll(s));
      checkSequence(seen, log.slice(0, 20), 'events seen vs the log');
      checkEqual(new Set(log.filter((k) => k.startsWith('a'))), new Set(range('a', 10)), 'answers appended from the handler');
    },
  },
]);
