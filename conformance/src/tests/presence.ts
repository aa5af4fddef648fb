import type { PresenceChange } from '@durable-sessions/core';
import { check, checkEqual, expectCode } from '../suite/assert.js';
import { record } from '../suite/helpers.js';
import { all, crashableClient, presence } from '../suite/requires.js';
import type { TestContext } from '../suite/types.js';
import { defineTests } from './util.js';

/** Short presence timing so expiry tests finish in seconds. */
const FAST = { timeoutMs: 1_500, heartbeatMs: 300, pollMs: 100 };

function fast(ctx: TestContext) {
  return { timeoutMs: ctx.ms(FAST.timeoutMs), heartbeatMs: ctx.ms(FAST.heartbeatMs), pollMs: FAST.pollMs };
}

function describeChange(c: PresenceChange): string {
  return `${c.action}:${c.member.connectionId}${c.reason ? `:${c.reason}` : ''}`;
}

/** C15 presence. */
export const presenceTests = defineTests([
  {
    id: 'presence.enter-and-members',
    title: 'enter(data) makes this handle a member with its clientId, connectionId and data',
    clauses: ['C15'],
    requires: presence,
    async run(ctx) {
      const store = await ctx.connect({ clientId: 'agent:planner' });
      const s = ctx.session(store);
      checkEqual(await s.presence.members(), [], 'members before anyone entered');
      await s.presence.enter({ role: 'agent', status: 'thinking' });
      const members = await s.presence.members();
      checkEqual(members.length, 1, 'member count');
      const [m] = members;
      checkEqual([m!.clientId, m!.connectionId, m!.data], ['agent:planner', s.connectionId, { role: 'agent', status: 'thinking' }], 'member');
      check(typeof m!.enteredAt === 'number' && m!.updatedAt >= m!.enteredAt, 'enteredAt/updatedAt');
    },
  },
  {
    id: 'presence.update-and-leave',
    title: 'update() replaces the data (seen as an update change) and leave() removes the member (a leave with reason left)',
    clauses: ['C15'],
    requires: presence,
    async run(ctx) {
      const store = await ctx.connect({ clientId: 'u', presence: fast(ctx) });
      const observer = await ctx.connect({ presence: fast(ctx) });
      const s = ctx.session(store);
      const changes = record(observer.session(s.id).presence.changes());
      ctx.defer(() => changes.stop());
      await s.presence.enter({ status: 'idle' });
      await changes.untilCount(1, ctx.ms(10_000));
      await s.presence.update({ status: 'typing' });
      await changes.untilCount(2, ctx.ms(10_000));
      checkEqual((await observer.session(s.id).presence.members()).map((m) => m.data), [{ status: 'typing' }], 'members after update');
      await s.presence.leave();
      await changes.untilCount(3, ctx.ms(10_000));
      checkEqual(changes.items.map(describeChange), [`enter:${s.connectionId}`, `update:${s.connectionId}`, `leave:${s.connectionId}:left`], 'changes');
      checkEqual(changes.items[1]!.member.data, { status: 'typing' }, 'data of the update change');
      checkEqual(await s.presence.members(), [], 'members after leave');
    },
  },
  {
    id: 'presence.changes-start-with-current',
    title: 'changes() starts with an enter for every current member',
    clauses: ['C15'],
    requires: presence,
    async run(ctx) {
      const store = await ctx.connect({ clientId: 'u' });
      const s1 = ctx.session(store);
      const s2 = store.session(s1.id);
      await s1.presence.enter({ n: 1 });
      await s2.presence.enter({ n: 2 });
      const changes = record((await ctx.connect()).session(s1.id).presence.changes());
      ctx.defer(() => changes.stop());
      await changes.untilCount(2, ctx.ms(10_000));
      checkEqual(changes.items.map((c) => c.action), ['enter', 'enter'], 'first changes');
      checkEqual(new Set(changes.items.map((c) => c.member.connectionId)), new Set([s1.connectionId, s2.connectionId]), 'members announced');
    },
  },
  {
    id: 'presence.per-connection-identity',
    title: 'Two handles (tabs) of one clientId are two members; one leaving leaves the other present',
    clauses: ['C15'],
    tags: ['peers-15'],
    requires: presence,
    async run(ctx) {
      const store = await ctx.connect({ clientId: 'user-1' });
      const tab1 = ctx.session(store);
      const tab2 = store.session(tab1.id);
      await tab1.presence.enter({ tab: 1 });
      await tab2.presence.enter({ tab: 2 });
      const members = await tab1.presence.members();
      checkEqual(members.length, 2, 'members of two tabs');
      checkEqual(new Set(members.map((m) => m.clientId)), new Set(['user-1']), 'clientIds');
      checkEqual(new Set(members.map((m) => m.connectionId)), new Set([tab1.connectionId, tab2.connectionId]), 'connection ids');
      await tab1.presence.leave();
      checkEqual((await tab2.presence.members()).map((m) => m.data), [{ tab: 2 }], 'members after tab 1 left');
    },
  },
  {
    id: 'presence.close-leaves',
    title: "Closing a handle leaves its presence (seen by others as a leave with reason 'left')",
    clauses: ['C15', 'C17'],
    requires: presence,
    async run(ctx) {
      const store = await ctx.connect({ presence: fast(ctx) });
      const observer = await ctx.connect({ presence: fast(ctx) });
      const s = ctx.session(store);
      const changes = record(observer.session(s.id).presence.changes());
      ctx.defer(() => changes.stop());
      await s.presence.enter();
      await changes.untilCount(1, ctx.ms(10_000));
      await s.close();
      await changes.untilCount(2, ctx.ms(10_000));
      checkEqual(changes.items.map(describeChange), [`enter:${s.connectionId}`, `leave:${s.connectionId}:left`], 'changes');
    },
  },
  {
    id: 'presence.heartbeats-keep-alive',
    title: "A live member outlasts two presence timeouts thanks to heartbeats",
    clauses: ['C15'],
    requires: presence,
    async run(ctx) {
      const timing = fast(ctx);
      const store = await ctx.connect({ presence: timing });
      const observer = await ctx.connect({ presence: timing });
      const s = ctx.session(store);
      const changes = record(observer.session(s.id).presence.changes());
      ctx.defer(() => changes.stop());
      await s.presence.enter({ alive: true });
      const until = Date.now() + timing.timeoutMs * 2;
      // Waiting for time to pass is the point here: membership must hold across two timeouts.
      await ctx.waitFor(async () => {
        check((await observer.session(s.id).presence.members()).length === 1, 'the live member expired despite heartbeats');
        return Date.now() > until;
      }, 'two presence timeouts to pass', 30_000);
      checkEqual(changes.items.map((c) => c.action), ['enter'], 'changes while alive');
    },
  },
  {
    id: 'presence.crashed-member-times-out',
    title: "A member whose process crashes (no leave, heartbeats stop) is reported gone with reason 'timeout' within the timeout",
    clauses: ['C15'],
    tags: ['peers-14', 'peers-2'],
    requires: all(presence, crashableClient),
    timeoutMs: 30_000,
    async run(ctx) {
      const timing = fast(ctx);
      const { store, crash } = await ctx.connectCrashable({ clientId: 'agent', presence: timing });
      const observer = await ctx.connect({ presence: timing });
      const id = ctx.sessionId();
      const agent = store.session(id);
      const watcher = observer.session(id);
      const changes = record(watcher.presence.changes());
      ctx.defer(() => changes.stop());
      await agent.presence.enter({ status: 'thinking' });
      await changes.untilCount(1, ctx.ms(10_000));
      const crashedAt = Date.now();
      await crash();
      await changes.untilCount(2, ctx.ms(15_000));
      const goneAfter = Date.now() - crashedAt;
      checkEqual(changes.items.map(describeChange), [`enter:${agent.connectionId}`, `leave:${agent.connectionId}:timeout`], 'changes');
      checkEqual(await watcher.presence.members(), [], 'members after the crash');
      check(goneAfter < timing.timeoutMs + ctx.ms(10_000), `the crash was noticed after ${goneAfter} ms`);
    },
  },
  {
    id: 'presence.cross-process',
    title: 'Members entered through one store are seen by another store (another process) with the same data',
    clauses: ['C15'],
    requires: presence,
    async run(ctx) {
      const agentStore = await ctx.connect({ clientId: 'agent' });
      const userStore = await ctx.connect({ clientId: 'user' });
      const id = ctx.sessionId();
      await agentStore.session(id).presence.enter({ role: 'agent' });
      await userStore.session(id).presence.enter({ role: 'user' });
      for (const st of [agentStore, userStore]) {
        const members = await st.session(id).presence.members();
        checkEqual(new Map(members.map((m) => [m.clientId, m.data])), new Map([['agent', { role: 'agent' }], ['user', { role: 'user' }]]), 'members');
      }
    },
  },
  {
    id: 'presence.silent-close-times-out',
    title: "A handle closed with { leave: false } stops heartbeats and is reported gone with reason 'timeout'",
    clauses: ['C15', 'C17'],
    tags: ['peers-14'],
    requires: presence,
    timeoutMs: 30_000,
    async run(ctx) {
      const timing = fast(ctx);
      const store = await ctx.connect({ clientId: 'agent', presence: timing });
      const observer = await ctx.connect({ presence: timing });
      const agent = ctx.session(store);
      const changes = record(observer.session(agent.id).presence.changes());
      ctx.defer(() => changes.stop());
      await agent.presence.enter({ status: 'thinking' });
      await changes.untilCount(1, ctx.ms(10_000));
      await agent.close({ leave: false });
      checkEqual((await observer.session(agent.id).presence.members()).length, 1, 'members right after a silent close (not left yet)');
      await changes.untilCount(2, ctx.ms(15_000));
      checkEqual(changes.items.map(describeChange), [`enter:${agent.connectionId}`, `leave:${agent.connectionId}:timeout`], 'changes');
    },
  },
  {
    id: 'presence.reconnect-keeps-identity',
    title: 'A client that reconnects within the timeout with the same connectionId is never seen leaving',
    clauses: ['C15'],
    tags: ['peers-15'],
    requires: presence,
    timeoutMs: 30_000,
    async run(ctx) {
      const timing = fast(ctx);
      const first = await ctx.connect({ clientId: 'user', presence: timing });
      const second = await ctx.connect({ clientId: 'user', presence: timing });
      const observer = await ctx.connect({ presence: timing });
      const id = ctx.sessionId();
      const changes = record(observer.session(id).presence.changes());
      ctx.defer(() => changes.stop());
      const tab = first.session(id, { connectionId: 'tab-1' });
      checkEqual(tab.connectionId, 'tab-1', 'connectionId of the handle');
      await tab.presence.enter({ tab: 1 });
      await changes.untilCount(1, ctx.ms(10_000));
      await tab.close({ leave: false });
      const again = second.session(id, { connectionId: 'tab-1' });
      await again.presence.enter({ tab: 1, reconnected: true });
      const until = Date.now() + timing.timeoutMs * 2;
      // Time passing is the point: across two timeouts the member must never be reported gone.
      await ctx.waitFor(() => {
        check(!changes.items.some((c) => c.action === 'leave'), `the reconnected member was seen leaving: ${changes.items.map(describeChange).join(', ')}`);
        return Date.now() > until;
      }, 'two presence timeouts to pass', 30_000);
      const members = await observer.session(id).presence.members();
      checkEqual(members.map((m) => [m.connectionId, m.data]), [['tab-1', { tab: 1, reconnected: true }]], 'members after the reconnect');
      await expectCode(() => first.session(id, { connectionId: 'bad id!' }), 'INVALID_ARGUMENT', 'an invalid connectionId');
    },
  },
  {
    id: 'presence.changes-end-on-close',
    title: 'Closing a handle (or its store) ends the presence change streams it opened, so no poll keeps running',
    clauses: ['C15', 'C17'],
    requires: presence,
    async run(ctx) {
      const store = await ctx.connect({ presence: fast(ctx) });
      const s = ctx.session(store);
      const changes = record(s.presence.changes());
      ctx.defer(() => changes.stop());
      await s.presence.enter();
      await changes.untilCount(1, ctx.ms(10_000));
      await s.close();
      await ctx.waitFor(() => changes.completed || changes.error !== undefined, 'the change stream of a closed handle to end');
      const other = await ctx.connect({ presence: fast(ctx) });
      const viaStore = record(other.session(s.id).presence.changes());
      ctx.defer(() => viaStore.stop());
      await other.close();
      await ctx.waitFor(() => viaStore.completed || viaStore.error !== undefined, 'the change stream of a closed store to end');
    },
  },
]);
