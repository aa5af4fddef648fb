import type { SessionEvent } from '@durable-sessions/core';
import { check, checkEqual, checkIncreasing, checkSequence, ev, expectCode, keys, range } from '../suite/assert.js';
import { collect, record } from '../suite/helpers.js';
import { idempotent, presence, trimsByCount } from '../suite/requires.js';
import { appendKeys, defineTests, liveTails, readAll } from './util.js';

/** Offsets of events. */
function offsetsOf(events: readonly SessionEvent[]): string[] {
  return events.map((e) => e.offset);
}

/**
 * C21 forks. A fork's history is its source's events up to the fork point, then its own; it behaves like any
 * session. Reads go through a second store where it matters, so a reader that never saw the fork being created
 * (another process) is covered too.
 */
export const forkTests = defineTests([
  {
    id: 'fork.capability-declared',
    title: 'The store declares capabilities.fork (the core forks on every backend)',
    clauses: ['C21', 'C18'],
    async run(ctx) {
      const store = await ctx.connect();
      checkEqual(store.capabilities.fork, true, 'capabilities.fork');
    },
  },
  {
    id: 'fork.at-middle',
    title: 'A fork at a middle offset holds the source events up to and including it, at the same offsets, then its own appends',
    clauses: ['C21', 'C1'],
    async run(ctx) {
      const writer = await ctx.connect();
      const reader = await ctx.connect();
      const source = ctx.session(writer, '-src');
      const sourceOffsets = await appendKeys(source, range('s', 10), 3);
      const target = ctx.sessionId('-fork');
      const result = await writer.fork(source.id, { target, at: sourceOffsets[4]! });
      checkEqual(result, { id: target, source: source.id, at: sourceOffsets[4]! }, 'fork result');
      const fork = writer.session(target);
      const own = await appendKeys(fork, range('f', 3));
      const expected = [...range('s', 5), ...range('f', 3)];
      const read = await readAll(reader.session(target));
      checkSequence(keys(read), expected, 'fork read by another store');
      checkEqual(offsetsOf(read), [...sourceOffsets.slice(0, 5), ...own], 'fork offsets: inherited ones are the source offsets');
      checkIncreasing(offsetsOf(read), 'fork offsets');
      check(read.every((e) => e.sessionId === target), 'inherited events carry the fork session id');
      checkSequence(keys(await collect(reader.session(target).subscribe({ from: 'start' }), 8, ctx.ms(10_000))), expected, 'subscribe from start');
      checkSequence(keys(await collect(reader.session(target).events({ from: 'start', pageSize: 2 }), 8, ctx.ms(10_000))), expected, 'iterator from start, pages of 2');
      const info = await reader.session(target).info();
      checkEqual(info, { id: target, lastOffset: own[2]!, ended: false, fork: { source: source.id, at: sourceOffsets[4]! } }, 'fork info');
      checkSequence(keys(await readAll(reader.session(source.id))), range('s', 10), 'source unchanged');
    },
  },
  {
    id: 'fork.at-end-and-start',
    title: "A fork at 'end' (the default) inherits everything so far and ends at the source's last offset; at 'start' it inherits nothing",
    clauses: ['C21'],
    async run(ctx) {
      const store = await ctx.connect();
      const source = ctx.session(store, '-src');
      const offsets = await appendKeys(source, range('s', 4));
      const whole = ctx.sessionId('-end');
      checkEqual((await store.fork(source.id, { target: whole })).at, offsets[3]!, "default fork point ('end')");
      checkEqual(await store.session(whole).info(), { id: whole, lastOffset: offsets[3]!, ended: false, fork: { source: source.id, at: offsets[3]! } }, 'info of a fork without own events');
      checkSequence(keys(await readAll(store.session(whole))), range('s', 4), 'fork at end');
      const explicit = ctx.sessionId('-end2');
      await store.fork(source.id, { target: explicit, at: 'end' });
      checkSequence(keys(await readAll(store.session(explicit))), range('s', 4), "fork at 'end'");
      const empty = ctx.sessionId('-start');
      checkEqual((await store.fork(source.id, { target: empty, at: 'start' })).at, null, "fork point of 'start'");
      const e = store.session(empty);
      checkEqual(await e.info(), { id: empty, lastOffset: null, ended: false, fork: { source: source.id, at: null } }, 'info of a fork at start');
      checkEqual((await e.read()).events, [], 'fork at start reads nothing');
      const own = await appendKeys(e, ['x', 'y']);
      const read = await readAll(store.session(empty));
      checkSequence(keys(read), ['x', 'y'], 'fork at start, after appends');
      checkEqual(offsetsOf(read), own, 'offsets read back');
      await appendKeys(source, ['later']);
      checkSequence(keys(await readAll(store.session(whole))), range('s', 4), 'later source appends are not inherited');
    },
  },
  {
    id: 'fork.of-a-fork',
    title: 'A fork of a fork inherits across both boundaries; offsets stay strictly increasing as strings',
    clauses: ['C21', 'C1'],
    async run(ctx) {
      const store = await ctx.connect();
      const reader = await ctx.connect();
      const a = ctx.session(store, '-a');
      const aOffsets = await appendKeys(a, range('a', 6));
      const bId = ctx.sessionId('-b');
      await store.fork(a.id, { target: bId, at: aOffsets[2]! });
      const b = store.session(bId);
      const bOwn = await appendKeys(b, range('b', 4), 2);
      const cId = ctx.sessionId('-c');
      await store.fork(bId, { target: cId, at: bOwn[1]! });
      const c = store.session(cId);
      const cOwn = await appendKeys(c, range('c', 3));
      await appendKeys(b, ['b-late']);
      const read = await readAll(reader.session(cId), 'start', 2);
      checkSequence(keys(read), [...range('a', 3), 'b0', 'b1', ...range('c', 3)], 'fork of a fork');
      checkEqual(offsetsOf(read), [...aOffsets.slice(0, 3), ...bOwn.slice(0, 2), ...cOwn], 'offsets across two boundaries');
      checkIncreasing(offsetsOf(read), 'offsets');
      const sorted = [...offsetsOf(read)].reverse().sort();
      checkEqual(sorted, offsetsOf(read), 'offsets sorted as strings');
      // Forking at an inherited offset of a fork, and at 'start' of a fork.
      const dId = ctx.sessionId('-d');
      await store.fork(cId, { target: dId, at: aOffsets[1]! });
      checkSequence(keys(await readAll(reader.session(dId))), range('a', 2), 'fork at an inherited offset of a fork');
      const eId = ctx.sessionId('-e');
      await store.fork(cId, { target: eId, at: 'start' });
      checkEqual((await readAll(reader.session(eId))).length, 0, "fork at 'start' of a fork");
    },
  },
  {
    id: 'fork.resume-from-any-offset',
    title: 'Reading or subscribing to a fork from any offset (before, at or after the fork point) delivers exactly the suffix',
    clauses: ['C21', 'C2', 'C10'],
    async run(ctx) {
      const store = await ctx.connect();
      const reader = await ctx.connect();
      const source = ctx.session(store, '-src');
      const sourceOffsets = await appendKeys(source, range('s', 6), 2);
      const target = ctx.sessionId('-fork');
      await store.fork(source.id, { target, at: sourceOffsets[3]! });
      const own = await appendKeys(store.session(target), range('f', 3));
      const all = [...range('s', 4), ...range('f', 3)];
      const offsets = [...sourceOffsets.slice(0, 4), ...own];
      const fork = reader.session(target);
      for (let i = 0; i < offsets.length; i++) {
        const expected = all.slice(i + 1);
        checkSequence(keys(await readAll(fork, offsets[i]!, 2)), expected, `read after offset ${i}`);
        const n = expected.length;
        if (n === 0) continue;
        checkSequence(keys(await collect(fork.subscribe({ from: offsets[i]! }), n, ctx.ms(10_000))), expected, `subscribe after offset ${i}`);
        checkSequence(keys(await collect(fork.events({ from: offsets[i]!, pageSize: 1 }), n, ctx.ms(10_000))), expected, `events after offset ${i}`);
      }
      const page = await fork.read({ from: sourceOffsets[1]!, limit: 3 });
      checkSequence(keys(page.events), ['s2', 's3', 'f0'], 'one page across the fork point');
      checkEqual([page.next, page.upToDate], [own[0]!, false], 'page position');
    },
  },
  {
    id: 'fork.live-tail-isolated',
    title: "A live subscriber of a fork sees the fork's appends and never the source's later ones; the source never sees the fork's",
    clauses: ['C21', 'C3'],
    async run(ctx) {
      const store = await ctx.connect();
      const watcher = await ctx.connect();
      const source = ctx.session(store, '-src');
      await appendKeys(source, range('s', 3));
      const target = ctx.sessionId('-fork');
      await store.fork(source.id, { target });
      const fromStart = record(watcher.session(target).subscribe({ from: 'start' }));
      const fromNow = record(watcher.session(target).subscribe({ from: 'now' }));
      const onSource = record(watcher.session(source.id).subscribe({ from: 'now' }));
      ctx.defer(() => [fromStart, fromNow, onSource].forEach((r) => r.stop()));
      await liveTails(ctx, watcher, 3);
      const fork = store.session(target);
      for (let i = 0; i < 5; i++) {
        await appendKeys(source, [`s-late${i}`]);
        await appendKeys(fork, [`f${i}`]);
      }
      checkSequence(keys(await fromStart.untilCount(8, ctx.ms(10_000))), [...range('s', 3), ...range('f', 5)], 'fork subscriber from start');
      checkSequence(keys(await fromNow.untilCount(5, ctx.ms(10_000))), range('f', 5), "fork subscriber from 'now'");
      checkSequence(keys(await onSource.untilCount(5, ctx.ms(10_000))), range('s-late', 5), 'source subscriber');
      checkSequence(keys(await readAll(store.session(source.id))), [...range('s', 3), ...range('s-late', 5)], 'source log');
    },
  },
  {
    id: 'fork.end-of-stream',
    title: "A fork ends on its own: subscribers complete after the fork's $end, the source stays open, and a source's $end is never inherited",
    clauses: ['C21', 'C9'],
    async run(ctx) {
      const store = await ctx.connect();
      const source = ctx.session(store, '-src');
      await appendKeys(source, range('s', 2));
      const target = ctx.sessionId('-fork');
      await store.fork(source.id, { target });
      const fork = store.session(target);
      const live = record(fork.subscribe({ from: 'start' }));
      ctx.defer(() => live.stop());
      await appendKeys(fork, ['f0']);
      const endOffset = await fork.end({ reason: 'complete' });
      checkSequence(keys(await live.untilComplete(ctx.ms(10_000))), ['s0', 's1', 'f0', '$end'], 'live fork subscriber');
      checkSequence(keys(await collect(store.session(target).subscribe({ from: 'start' }), Infinity, ctx.ms(10_000))), ['s0', 's1', 'f0', '$end'], 'late subscriber completes');
      checkEqual(await collect(fork.subscribe({ from: endOffset }), Infinity, ctx.ms(10_000)), [], 'subscribe from the fork $end');
      checkEqual(await collect(fork.events({ from: 'now' }), Infinity, ctx.ms(10_000)), [], "iterator from 'now' on the ended fork");
      await expectCode(fork.append(ev('late')), 'SESSION_ENDED', 'append after the fork ended');
      checkEqual((await source.info()).ended, false, 'source ended');
      await appendKeys(source, ['s2']);
      // Forking an ended source: the branch inherits everything but the end marker and stays open.
      const sourceEnd = await source.end();
      const branch = ctx.sessionId('-branch');
      checkEqual((await store.fork(source.id, { target: branch })).at, sourceEnd, 'fork point of an ended source');
      const b = store.session(branch);
      checkEqual((await b.info()).ended, false, 'fork of an ended source is open');
      await appendKeys(b, ['b0']);
      checkSequence(keys(await readAll(b)), ['s0', 's1', 's2', 'b0'], 'fork of an ended source');
      checkSequence(keys(await collect(b.subscribe({ from: sourceEnd }), 1, ctx.ms(10_000))), ['b0'], "resume on the branch from the source's $end");
    },
  },
  {
    id: 'fork.bad-fork-point',
    title: 'A malformed, foreign, control-log or future fork point fails with INVALID_OFFSET and creates nothing',
    clauses: ['C21', 'C12', 'C20'],
    async run(ctx) {
      const store = await ctx.connect();
      const source = ctx.session(store, '-src');
      const other = ctx.session(store, '-other');
      const [first] = await appendKeys(source, range('s', 3));
      const [foreign] = await appendKeys(other, ['o']);
      const control = (await source.control.send({ type: 'stop' })).offset;
      const cut = first!.lastIndexOf('-');
      const last = (await source.info()).lastOffset!;
      const beyond = `${last.slice(0, last.lastIndexOf('-'))}z${last.slice(last.lastIndexOf('-'))}`;
      const target = ctx.sessionId('-fork');
      for (const [at, what] of [
        ['garbage', 'malformed'],
        [`${first!.slice(0, cut)}-zzzzzzz`, 'wrong tag'],
        ['now', "'now'"],
        ['', 'empty'],
        [foreign!, 'offset of another session'],
        [control, 'control-log offset'],
        [beyond, 'beyond the end'],
      ] as const) {
        await expectCode(store.fork(source.id, { target, at }), 'INVALID_OFFSET', `fork at a ${what} offset`);
      }
      checkEqual(await store.session(target).info(), { id: target, lastOffset: null, ended: false }, 'target after refused forks');
      await store.fork(source.id, { target, at: first! });
      checkSequence(keys(await readAll(store.session(target))), ['s0'], 'target forked after the refusals');
    },
  },
  {
    id: 'fork.trimmed-fork-point',
    title: 'A fork point below the source retention watermark fails with OFFSET_TRIMMED',
    clauses: ['C21', 'C12', 'C13'],
    requires: trimsByCount,
    async run(ctx) {
      const store = await ctx.connect({ retention: { maxEvents: 5 } });
      const source = ctx.session(store, '-src');
      const offsets = await appendKeys(source, range('s', 20));
      await expectCode(store.fork(source.id, { target: ctx.sessionId('-fork'), at: offsets[1]! }), 'OFFSET_TRIMMED', 'fork at a trimmed offset');
      const target = ctx.sessionId('-ok');
      await store.fork(source.id, { target, at: offsets[18]! });
      checkSequence(keys(await readAll(store.session(target))).slice(-2), ['s17', 's18'], 'fork at a retained offset');
    },
  },
  {
    id: 'fork.refusals',
    title: 'Forking into an existing session fails with CONFLICT (repeating the same fork succeeds); missing source, bad ids and self-forks are refused',
    clauses: ['C21', 'C11', 'C20'],
    async run(ctx) {
      const store = await ctx.connect();
      const source = ctx.session(store, '-src');
      const offsets = await appendKeys(source, range('s', 3));
      const existing = ctx.session(store, '-existing');
      await appendKeys(existing, ['x']);
      await expectCode(store.fork(source.id, { target: existing.id }), 'CONFLICT', 'fork into a session with events');
      checkSequence(keys(await readAll(existing)), ['x'], 'existing target untouched');
      const ended = ctx.session(store, '-ended');
      await ended.end();
      await expectCode(store.fork(source.id, { target: ended.id }), 'CONFLICT', 'fork into an ended session');
      const target = ctx.sessionId('-fork');
      const first = await store.fork(source.id, { target, at: offsets[1]! });
      checkEqual(await store.fork(source.id, { target, at: offsets[1]! }), first, 'the same fork again');
      await expectCode(store.fork(source.id, { target, at: offsets[2]! }), 'CONFLICT', 'a different fork into an existing fork');
      await expectCode(store.fork(existing.id, { target, at: 'start' }), 'CONFLICT', 'a fork of another source into an existing fork');
      const missing = await expectCode(store.fork(ctx.sessionId('-missing'), { target: ctx.sessionId('-t') }), 'INVALID_ARGUMENT', 'fork of a session never written');
      checkEqual(missing.details.reason, 'source-missing', 'details.reason');
      await expectCode(store.fork(source.id, { target: source.id }), 'INVALID_ARGUMENT', 'fork into itself');
      await expectCode(store.fork('', { target: ctx.sessionId() }), 'INVALID_SESSION_ID', 'empty source id');
      await expectCode(store.fork(source.id, { target: 'a\u0000b' }), 'INVALID_SESSION_ID', 'target id with a control character');
      await expectCode(store.fork(source.id, { target: 'x'.repeat(300) }), 'INVALID_SESSION_ID', 'target id too long');
    },
  },
  {
    id: 'fork.offsets-do-not-leak',
    title: "Source offsets after the fork point are refused on the fork, and the fork's own offsets on the source, with INVALID_OFFSET",
    clauses: ['C21', 'C12'],
    async run(ctx) {
      const store = await ctx.connect();
      const source = ctx.session(store, '-src');
      const offsets = await appendKeys(source, range('s', 3));
      const target = ctx.sessionId('-fork');
      await store.fork(source.id, { target, at: offsets[0]! });
      const fork = store.session(target);
      const [own] = await appendKeys(fork, ['f0']);
      await expectCode(fork.read({ from: offsets[2]! }), 'INVALID_OFFSET', 'read the fork from a later source offset');
      await expectCode(() => collect(fork.subscribe({ from: offsets[1]! }), 1, ctx.ms(5_000)), 'INVALID_OFFSET', 'subscribe the fork from a later source offset');
      await expectCode(source.read({ from: own! }), 'INVALID_OFFSET', "read the source from the fork's own offset");
      await expectCode(fork.read({ from: `${own!}x` }), 'INVALID_OFFSET', 'a forged own offset');
    },
  },
  {
    id: 'fork.independent-producers-and-control',
    title: 'A fork has its own producer state and control log: the same producer stamps append on both; control messages stay apart',
    clauses: ['C21', 'C7', 'C16'],
    requires: idempotent,
    async run(ctx) {
      const store = await ctx.connect();
      const source = ctx.session(store, '-src');
      await source.append(ev('s0'), { producer: { id: 'agent', seq: 0 } });
      await source.append(ev('s1'), { producer: { id: 'agent', seq: 1 } });
      const target = ctx.sessionId('-fork');
      await store.fork(source.id, { target });
      const fork = store.session(target);
      const f0 = await fork.append(ev('f0'), { producer: { id: 'agent', seq: 0 } });
      checkEqual(await fork.append(ev('f0'), { producer: { id: 'agent', seq: 0 } }), f0, 'a retry on the fork returns the original offset');
      await expectCode(fork.append(ev('gap'), { producer: { id: 'agent', seq: 5 } }), 'SEQUENCE_GAP', 'gap on the fork');
      await source.append(ev('s2'), { producer: { id: 'agent', seq: 2 } });
      const writer = fork.writer({ lingerMs: 1 });
      for (const k of range('w', 20)) void writer.write(ev(k));
      await writer.close();
      checkSequence(keys(await readAll(fork)), ['s0', 's1', 'f0', ...range('w', 20)], 'fork log');
      checkSequence(keys(await readAll(source)), ['s0', 's1', 's2'], 'source log');
      await source.control.send({ type: 'cancel' });
      const receipt = await fork.control.send({ type: 'steer' });
      checkEqual(keys(await collect(fork.control.subscribe({ from: 'start' }), 1, ctx.ms(10_000))), ['steer'], 'fork control log');
      const agent = store.session(target);
      const [message] = await collect(agent.control.subscribe({ from: 'start' }), 1, ctx.ms(10_000));
      const ackOffset = await agent.control.ack(message!);
      const ack = await receipt.acknowledged({ timeoutMs: ctx.ms(10_000) });
      checkEqual(ack.offset, ackOffset, 'the $ack on the fork reaches the sender');
      checkEqual(keys(await collect(source.control.subscribe({ from: 'start' }), 1, ctx.ms(10_000))), ['cancel'], 'source control log');
    },
  },
  {
    id: 'fork.independent-presence',
    title: 'Presence on a fork is its own: members of the source are not members of the fork',
    clauses: ['C21', 'C15'],
    requires: presence,
    async run(ctx) {
      const store = await ctx.connect({ clientId: 'user' });
      const source = ctx.session(store, '-src');
      await appendKeys(source, ['s0']);
      const target = ctx.sessionId('-fork');
      await store.fork(source.id, { target });
      await source.presence.enter({ where: 'source' });
      const fork = store.session(target);
      await fork.presence.enter({ where: 'fork' });
      await ctx.waitFor(async () => (await fork.presence.members()).length === 1 && (await source.presence.members()).length === 1, 'one member each');
      checkEqual((await fork.presence.members()).map((m) => m.data), [{ where: 'fork' }], 'fork members');
      checkEqual((await source.presence.members()).map((m) => m.data), [{ where: 'source' }], 'source members');
    },
  },
]);
