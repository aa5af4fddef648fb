import { checkEqual, checkSequence, ev, expectCode, keys } from '../suite/assert.js';
import { record } from '../suite/helpers.js';
import { presence } from '../suite/requires.js';
import { defineTests, liveTails, readAll } from './util.js';

/** Suffixes that are wildcards, separators, path segments or templates on some backend. */
const HOSTILE = ['*', '>', '.', '.a.b', '.a.*', '.>', '.*.*', ' with spaces', '/../x', '/..', '{tag}', '{tag}x', ':1', '#', '%2F', '\\x', '😀', ' שלום', '_', '__', '-', ':*'];

/** C11 session ids and isolation. */
export const isolationTests = defineTests([
  {
    id: 'isolation.hostile-ids',
    title: 'Ids with wildcards, separators, path segments, braces, spaces and emoji are distinct sessions that never see each other',
    clauses: ['C11'],
    timeoutMs: 40_000,
    async run(ctx) {
      const store = await ctx.connect();
      const base = ctx.sessionId();
      const ids = [base, ...HOSTILE.map((suffix) => `${base}${suffix}`)];
      ids.forEach((id) => ctx.note(id));
      const live = ids.map((id) => record(store.session(id).subscribe({ from: 'start' })));
      ctx.defer(() => live.forEach((r) => r.stop()));
      await liveTails(ctx, store, ids.length);
      for (const [i, id] of ids.entries()) await store.session(id).append([ev(`s${i}-a`), ev(`s${i}-b`)]);
      for (const [i, id] of ids.entries()) {
        const log = await readAll(store.session(id));
        checkSequence(keys(log), [`s${i}-a`, `s${i}-b`], `read of session ${JSON.stringify(id)}`);
        checkEqual(log.map((e) => e.sessionId), [id, id], `sessionId of events of ${JSON.stringify(id)}`);
        checkSequence(keys(await live[i]!.untilCount(2, ctx.ms(10_000))), [`s${i}-a`, `s${i}-b`], `live subscriber of ${JSON.stringify(id)}`);
      }
      for (const [i, rec] of live.entries()) checkEqual(rec.items.length, 2, `events delivered to ${JSON.stringify(ids[i])}`);
    },
  },
  {
    id: 'isolation.case-sensitive',
    title: 'Ids differing only by case are different sessions',
    clauses: ['C11'],
    async run(ctx) {
      const store = await ctx.connect();
      const base = ctx.sessionId();
      const ids = [`${base}-Case`, `${base}-case`, `${base}-CASE`, `${base}-ÉTÉ`, `${base}-été`];
      ids.forEach((id) => ctx.note(id));
      for (const [i, id] of ids.entries()) await store.session(id).append(ev(`s${i}`));
      for (const [i, id] of ids.entries()) checkSequence(keys(await readAll(store.session(id))), [`s${i}`], `session ${JSON.stringify(id)}`);
    },
  },
  {
    id: 'isolation.prefix-ids',
    title: 'Ids that are prefixes of one another (a, a-b, a_b, ab) never share events, live or replayed',
    clauses: ['C11'],
    async run(ctx) {
      const store = await ctx.connect();
      const base = ctx.sessionId();
      const ids = [base, `${base}-b`, `${base}_b`, `${base}b`, `${base}-b-c`, `_${base}`];
      ids.forEach((id) => ctx.note(id));
      const live = ids.map((id) => record(store.session(id).subscribe({ from: 'now' })));
      ctx.defer(() => live.forEach((r) => r.stop()));
      await liveTails(ctx, store, ids.length);
      for (const [i, id] of ids.entries()) await store.session(id).append(ev(`s${i}`));
      for (const [i, id] of ids.entries()) {
        checkSequence(keys(await readAll(store.session(id))), [`s${i}`], `read of ${JSON.stringify(id)}`);
        checkSequence(keys(await live[i]!.untilCount(1, ctx.ms(10_000))), [`s${i}`], `live ${JSON.stringify(id)}`);
      }
      for (const [i, rec] of live.entries()) checkEqual(rec.items.length, 1, `events delivered to ${JSON.stringify(ids[i])}`);
    },
  },
  {
    id: 'isolation.longest-ids',
    title: 'Ids of exactly 256 UTF-8 bytes (ASCII, and 4-byte emoji) work and stay distinct',
    clauses: ['C11'],
    async run(ctx) {
      const store = await ctx.connect();
      const base = ctx.sessionId();
      const ascii = base + 'x'.repeat(256 - Buffer.byteLength(base));
      const pad = 256 - Buffer.byteLength(base);
      const emoji = base + 'y'.repeat(pad % 4) + '😀'.repeat(Math.floor(pad / 4));
      const sibling = ascii.slice(0, -1) + 'z';
      for (const id of [ascii, emoji, sibling]) {
        ctx.note(id);
        checkEqual(Buffer.byteLength(id), 256, `byte length of ${id.slice(0, 20)}…`);
      }
      await store.session(ascii).append(ev('ascii'));
      await store.session(emoji).append(ev('emoji'));
      await store.session(sibling).append(ev('sibling'));
      checkSequence(keys(await readAll(store.session(ascii))), ['ascii'], 'ascii id');
      checkSequence(keys(await readAll(store.session(emoji))), ['emoji'], 'emoji id');
      checkSequence(keys(await readAll(store.session(sibling))), ['sibling'], 'sibling id');
    },
  },
  {
    id: 'isolation.invalid-ids',
    title: 'Empty ids, control characters, ids over 256 UTF-8 bytes, lone surrogates and non-strings fail with INVALID_SESSION_ID',
    clauses: ['C11', 'C20'],
    async run(ctx) {
      const store = await ctx.connect();
      const bad: Array<[string, unknown]> = [
        ['empty', ''],
        ['NUL', 'a\u0000b'],
        ['newline', 'a\nb'],
        ['tab', 'a\tb'],
        ['DEL', 'a\u007fb'],
        ['257 ASCII bytes', 'x'.repeat(257)],
        ['257 bytes with emoji', 'x'.repeat(253) + '😀'.slice(0, 2) + 'x'],
        ['lone high surrogate', 'a\ud800b'],
        ['lone low surrogate', '\udc00'],
        ['number', 42],
        ['null', null],
        ['undefined', undefined],
      ];
      for (const [what, id] of bad) await expectCode(() => store.session(id as string), 'INVALID_SESSION_ID', what);
      checkEqual(store.stats().handles, 0, 'handles opened by refused ids');
    },
  },
  {
    id: 'isolation.control-and-presence',
    title: "Control messages and presence of one session are invisible to another (including a wildcard-like id)",
    clauses: ['C11', 'C15', 'C16'],
    requires: presence,
    async run(ctx) {
      const store = await ctx.connect();
      const a = ctx.session(store, '.a');
      const b = store.session(a.id.replace(/\.a$/, '.*'));
      ctx.note(b.id);
      await a.control.send({ type: 'stop' });
      await a.presence.enter({ role: 'agent' });
      checkEqual((await b.read()).events.length, 0, 'events of the other session');
      checkEqual(await b.presence.members(), [], 'members of the other session');
      const controlB = record(b.control.subscribe({ from: 'start' }));
      ctx.defer(() => controlB.stop());
      await liveTails(ctx, store, 1);
      await b.control.send({ type: 'own' });
      checkSequence((await controlB.untilCount(1, ctx.ms(10_000))).map((m) => m.type), ['own'], 'control messages of the other session');
      checkEqual((await a.presence.members()).length, 1, 'members of the first session');
    },
  },
]);
