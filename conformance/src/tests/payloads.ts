import type { EventInput, JsonValue } from '@durable-sessions/core';
import { check, checkEqual, ev, expectCode, keys } from '../suite/assert.js';
import { collect } from '../suite/helpers.js';
import { testableBatchLimit, testablePayloadLimit } from '../suite/requires.js';
import { defineTests, readAll } from './util.js';

const UNICODE = ['emoji 😀👩‍👩‍👧‍👦🏳️‍🌈', 'RTL שלום مرحبا', 'NUL\u0000inside', 'CJK 漢字かなカナ', 'combining é (e\u0301)', 'astral 𝄞 𐍈', 'zero-width \u200b\u200d\ufeff', '\\ "quotes" \n\t\r'];

/** C14 payloads. */
export const payloadTests = defineTests([
  {
    id: 'payloads.json-round-trip',
    title: 'JSON data (nested objects, arrays, numbers, booleans, null, strings) round-trips exactly through read and subscribe',
    clauses: ['C14'],
    async run(ctx) {
      const s = ctx.session(await ctx.connect());
      const values: JsonValue[] = [
        null,
        true,
        false,
        0,
        -1.5e-7,
        Number.MAX_SAFE_INTEGER,
        '',
        'plain',
        [],
        {},
        [1, 'two', { three: [null, false] }],
        { nested: { deep: { deeper: { list: [1, 2, 3], s: 'x' } } }, 'key with spaces': 1, '': 'empty key' },
        'x'.repeat(10_000),
      ];
      await s.append(values.map((data) => ({ type: 'json', data })));
      const read = await readAll(s);
      checkEqual(read.map((e) => e.data), values, 'data read back');
      const delivered = await collect(s.subscribe({ from: 'start' }), values.length, ctx.ms(10_000));
      checkEqual(delivered.map((e) => e.data), values, 'data delivered');
      await s.append({ type: 'no-data' });
      checkEqual((await readAll(s)).pop()?.data, null, 'data of an event appended without data');
    },
  },
  {
    id: 'payloads.binary-all-bytes',
    title: 'Binary data with all 256 byte values, and empty bytes, round-trips byte-exact as Uint8Array',
    clauses: ['C14'],
    async run(ctx) {
      const s = ctx.session(await ctx.connect());
      const all = new Uint8Array(512).map((_, i) => i % 256);
      const empty = new Uint8Array(0);
      const slice = new Uint8Array([9, 9, 1, 2, 3, 9]).subarray(2, 5);
      await s.append([{ type: 'bin', data: all }, { type: 'bin', data: empty }, { type: 'bin', data: slice }]);
      for (const [how, events] of [
        ['read', await readAll(s)],
        ['subscribe', await collect(s.subscribe({ from: 'start' }), 3, ctx.ms(10_000))],
      ] as const) {
        for (const e of events) check(e.data instanceof Uint8Array, `${how}: binary data came back as ${Object.prototype.toString.call(e.data)}`);
        checkEqual(Array.from(events[0]!.data as Uint8Array), Array.from(all), `${how}: all byte values`);
        checkEqual((events[1]!.data as Uint8Array).length, 0, `${how}: empty bytes`);
        checkEqual(Array.from(events[2]!.data as Uint8Array), [1, 2, 3], `${how}: a subarray (only its own bytes)`);
      }
    },
  },
  {
    id: 'payloads.unicode-round-trip',
    title: 'Unicode (emoji, RTL, NUL inside a string, astral, combining, zero-width) round-trips in data, types and headers',
    clauses: ['C14'],
    async run(ctx) {
      const s = ctx.session(await ctx.connect());
      await s.append(UNICODE.map((text) => ({ type: `t ${text}`, data: { text, [text]: text }, headers: { [text]: text } })));
      const read = await readAll(s);
      for (const [i, text] of UNICODE.entries()) {
        checkEqual(read[i]!.type, `t ${text}`, `type ${i}`);
        checkEqual(read[i]!.data, { text, [text]: text }, `data ${i}`);
        checkEqual(read[i]!.headers, { [text]: text }, `headers ${i}`);
      }
    },
  },
  {
    id: 'payloads.headers-round-trip',
    title: 'Headers round-trip; an event without headers has an empty headers object',
    clauses: ['C14'],
    async run(ctx) {
      const s = ctx.session(await ctx.connect());
      const headers = { 'content-type': 'text/plain', 'x-trace': 'abc-123', empty: '', 'with space': 'v a l' };
      await s.append([{ type: 'h', data: 1, headers }, { type: 'none', data: 2 }, { type: 'e', headers: {} }]);
      const read = await readAll(s);
      checkEqual(read.map((e) => e.headers), [headers, {}, {}], 'headers');
      const delivered = await collect(s.subscribe({ from: 'start' }), 3, ctx.ms(10_000));
      checkEqual(delivered.map((e) => e.headers), [headers, {}, {}], 'headers delivered');
    },
  },
  {
    id: 'payloads.event-metadata',
    title: 'Delivered events carry their sessionId, type, a timestamp near the append time, clientId and connectionId',
    clauses: ['C14'],
    tags: ['peers-15'],
    async run(ctx) {
      const store = await ctx.connect({ clientId: 'user-42' });
      const anonymous = await ctx.connect();
      const s = ctx.session(store);
      const before = Date.now();
      await s.append({ type: 'hello', data: 'x' });
      await anonymous.session(s.id).append({ type: 'anon' });
      const [event, anon] = await readAll(s);
      checkEqual([event?.sessionId, event?.type, event?.producer.clientId, event?.producer.connectionId], [s.id, 'hello', 'user-42', s.connectionId], 'metadata');
      check(typeof event?.timestamp === 'number' && Math.abs(event.timestamp - before) < 10 * 60_000, `timestamp ${event?.timestamp} is not near ${before}`);
      checkEqual(anon?.producer.clientId, undefined, 'clientId of a store without one');
      check(typeof anon?.producer.connectionId === 'string' && anon.producer.connectionId !== s.connectionId, 'connection ids of two handles must differ');
    },
  },
  {
    id: 'payloads.size-limit',
    title: 'Events just under maxPayloadBytes are stored; one byte over (counted in UTF-8 bytes) fails with PAYLOAD_TOO_LARGE',
    clauses: ['C14', 'C20'],
    tags: ['peers-16'],
    requires: testablePayloadLimit,
    timeoutMs: 40_000,
    async run(ctx) {
      const s = ctx.session(await ctx.connect());
      const max = ctx.capabilities.maxPayloadBytes;
      // The stored record adds an envelope (type, timestamp, connection id) of well under 512 bytes.
      const under = 'u'.repeat(Math.max(1, max - 512));
      const offset = await s.append({ type: 'big', data: under });
      check(typeof offset === 'string', 'append just under the limit');
      const err = await expectCode(s.append({ type: 'big', data: 'o'.repeat(max + 1) }), 'PAYLOAD_TOO_LARGE', 'one byte over');
      checkEqual(err.details.maxBytes, max, 'details.maxBytes');
      // Two UTF-8 bytes per character: fewer characters than the limit, more bytes.
      await expectCode(s.append({ type: 'big', data: 'é'.repeat(Math.ceil(max / 2) + 1) }), 'PAYLOAD_TOO_LARGE', 'multi-byte text over the limit');
      await expectCode(s.append({ type: 'big', data: new Uint8Array(max + 1) }), 'PAYLOAD_TOO_LARGE', 'bytes over the limit');
      const read = await readAll(s);
      checkEqual(read.length, 1, 'events stored');
      checkEqual((read[0]!.data as string).length, under.length, 'the big event read back');
    },
  },
  {
    id: 'payloads.oversized-batch-stores-nothing',
    title: 'A batch with one oversized event is refused whole (PAYLOAD_TOO_LARGE) and stores nothing',
    clauses: ['C14', 'C6'],
    tags: ['peers-16'],
    requires: testablePayloadLimit,
    async run(ctx) {
      const s = ctx.session(await ctx.connect());
      const big = 'x'.repeat(ctx.capabilities.maxPayloadBytes + 1);
      await expectCode(s.append([ev('a'), { type: 'big', data: big }, ev('c')]), 'PAYLOAD_TOO_LARGE', 'batch with an oversized event');
      checkEqual((await s.read()).events.length, 0, 'events stored');
    },
  },
  {
    id: 'payloads.batch-size-limit',
    title: 'A batch above maxBatchSize fails with PAYLOAD_TOO_LARGE; one of exactly maxBatchSize is stored',
    clauses: ['C6', 'C14'],
    requires: testableBatchLimit,
    timeoutMs: 40_000,
    async run(ctx) {
      const s = ctx.session(await ctx.connect());
      const n = ctx.capabilities.maxBatchSize;
      await expectCode(s.append(Array.from({ length: n + 1 }, (_, i) => ev(`e${i}`))), 'PAYLOAD_TOO_LARGE', `batch of ${n + 1}`);
      checkEqual((await s.read()).events.length, 0, 'events stored by the refused batch');
      const offsets = await s.append(Array.from({ length: n }, (_, i) => ev(`e${i}`)));
      checkEqual(offsets.length, n, `offsets for a batch of ${n}`);
    },
  },
  {
    id: 'payloads.invalid-events',
    title: 'Reserved `$` types, non-JSON data (NaN, Infinity, functions, symbols, bigint, class instances) and malformed events fail with INVALID_EVENT',
    clauses: ['C14', 'C20'],
    async run(ctx) {
      const s = ctx.session(await ctx.connect());
      class Custom {
        x = 1;
      }
      const bad: Array<[string, unknown]> = [
        ['reserved $end', { type: '$end' }],
        ['reserved $ack', { type: '$ack', data: { control: 'x' } }],
        ['reserved $custom', { type: '$custom' }],
        ['empty type', { type: '' }],
        ['missing type', { data: 1 }],
        ['numeric type', { type: 7 }],
        ['type of 257 characters', { type: 't'.repeat(257) }],
        ['NaN', { type: 'x', data: Number.NaN }],
        ['Infinity', { type: 'x', data: { n: Number.POSITIVE_INFINITY } }],
        ['function', { type: 'x', data: { f: () => 1 } }],
        ['symbol', { type: 'x', data: [Symbol('s')] }],
        ['bigint', { type: 'x', data: 1n }],
        ['Date instance', { type: 'x', data: new Date() }],
        ['Map instance', { type: 'x', data: new Map() }],
        ['class instance', { type: 'x', data: new Custom() }],
        ['non-string header', { type: 'x', headers: { a: 1 } }],
        ['array headers', { type: 'x', headers: ['a'] }],
        ['null event', null],
        ['string event', 'token'],
        ['array nested 100 deep', { type: 'x', data: JSON.parse('['.repeat(100) + ']'.repeat(100)) }],
      ];
      for (const [what, event] of bad) await expectCode(s.append(event as EventInput), 'INVALID_EVENT', what);
      await expectCode(s.append([]), 'INVALID_EVENT', 'empty batch');
      await expectCode(s.append([ev('ok'), { type: 'x', data: Number.NaN }, ev('ok2')]), 'INVALID_EVENT', 'batch with one invalid event');
      checkEqual((await s.read()).events.length, 0, 'events stored');
      await s.append(ev('after'));
      checkEqual(keys((await s.read()).events), ['after'], 'a valid append afterwards');
    },
  },
  {
    id: 'payloads.connection-id-option',
    title: 'A handle opened with a connectionId stamps it on its events and control messages',
    clauses: ['C14', 'C16'],
    tags: ['peers-15'],
    async run(ctx) {
      const store = await ctx.connect({ clientId: 'user' });
      const id = ctx.sessionId();
      const s = store.session(id, { connectionId: 'device_A-1' });
      checkEqual(s.connectionId, 'device_A-1', 'handle.connectionId');
      await s.append(ev('a'));
      const receipt = await s.control.send({ type: 'stop' });
      const [event] = await readAll(s);
      checkEqual([event?.producer.clientId, event?.producer.connectionId], ['user', 'device_A-1'], 'event producer');
      const [message] = await collect(s.control.subscribe({ from: 'start' }), 1, ctx.ms(10_000));
      checkEqual([message?.offset, message?.producer.connectionId], [receipt.offset, 'device_A-1'], 'control message producer');
      for (const bad of ['', 'has space', 'x'.repeat(65), 'a.b']) {
        await expectCode(() => store.session(id, { connectionId: bad }), 'INVALID_ARGUMENT', `connectionId ${JSON.stringify(bad)}`);
      }
    },
  },
]);
