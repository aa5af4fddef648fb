/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
import {
  CHAT_USER,
  ChatFold,
  chatStopMessage,
  createClient,
  createDurableChatTransport,
  readChat,
  type ConnectionState,
  type ControlReceipt,
  type PresenceMember,
} from '@durable-sessions/client';
import type { ChatStopAck } from '../stop-ack.js';
import { PageChat } from './chat.js';
import { renderConversation, renderPresence, type RunState } from './render.js';

// The demo page: one client, one chat session (its id is in the URL). Everything the page shows comes from the
// session's log, so a reload, a second tab and a reconnect all show the same conversation.

const $ = <T extends HTMLElement = HTMLElement>(testId: string) => document.querySelector<T>(`[data-testid="${testId}"]`)!;

function randomId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(6));
  return [...bytes].map((b) => b.toString(16).padStart(2, '0')).join('');
}

const params = new URLSearchParams(location.search);
const chatId = params.get('chat') ?? randomId();
const sessionId = `chat-${chatId}`;
// One viewer id per tab, kept across reloads: the presence identity stays the same, so a reload is not a leave.
const viewerId = sessionStorage.getItem('ds-demo-viewer') ?? randomId();
sessionStorage.setItem('ds-demo-viewer', viewerId);

const client = createClient({
  url: location.origin,
  connectionId: `tab-${viewerId}`,
  getToken: async () => {
    const res = await fetch(`/api/token?chat=${encodeURIComponent(chatId)}&viewer=${encodeURIComponent(viewerId)}`);
    if (!res.ok) throw new Error(`token endpoint answered ${res.status}`);
    return ((await res.json()) as { token: string }).token;
  },
  // A dropped network is noticed by a closed socket here; pings catch silent ones within a few seconds.
  pingIntervalMs: 5_000,
  reconnect: { initialDelayMs: 200, maxDelayMs: 2_000 },
});
const session = client.session(sessionId);

// The conversation: the AI SDK's chat (`useChat` without a framework) over the durable chat transport. The
// transport sends a turn as a `chat.user` event and follows the run that answers it; `resumeStream` replays the run
// still streaming from its first chunk (after a reload, or a turn sent from another tab).
const transport = createDurableChatTransport({
  client,
  onStop: ({ runId, receipt }) => void awaitAck(runId, receipt),
});
let chat: PageChat | undefined;
// The session's events, folded by the client's chat fold: how each run stands (streaming, finished, stopped), the
// agent's stop acknowledgements, and turns sent from other tabs.
const fold = new ChatFold();
const acks = new Map<string, ChatStopAck>();
const conversation = $('conversation');
const stopButton = $<HTMLButtonElement>('stop-button');
const stopStatus = $('stop-status');
const input = $<HTMLInputElement>('composer-input');
let scheduled = false;

/** Renders on the next frame: many chunks in one frame cost one render. */
function schedule(): void {
  if (scheduled) return;
  scheduled = true;
  requestAnimationFrame(() => {
    scheduled = false;
    if (!chat) return;
    const atBottom = window.innerHeight + window.scrollY >= document.body.scrollHeight - 80;
    const runs = new Map<string, RunState>();
    const folded = fold.result;
    for (const run of folded.runs) {
      const ack = acks.get(run.runId);
      runs.set(run.messageId, { status: run.status, ...(ack ? { ack } : {}), ...(run.errorText ? { errorText: run.errorText } : {}) });
    }
    renderConversation(conversation, chat.messages, runs, (text) => void send(text));
    stopButton.disabled = folded.activeRunId === undefined;
    conversation.dataset.status = chat.status;
    conversation.dataset.lastOffset = folded.lastOffset ?? '';
    if (atBottom) window.scrollTo(0, document.body.scrollHeight);
  });
}

/** Follows a turn sent from another tab: take the fold's conversation, then resume the run that answers it. */
function followForeignTurns(): void {
  if (!chat || (chat.status !== 'ready' && chat.status !== 'error')) return;
  const known = new Set(chat.messages.map((m) => m.id));
  const folded = fold.result;
  if (folded.messages.every((m) => m.role !== 'user' || known.has(m.id))) return;
  chat.messages = folded.messages.filter((m) => m.role === 'user' || !folded.runs.some((r) => r.messageId === m.id && r.status === 'active'));
  void chat.resumeStream().finally(followForeignTurns);
}

async function start(): Promise<void> {
  const history = await readChat(session);
  chat = new PageChat({ id: sessionId, messages: history.messages, transport, onChange: schedule });
  // The whole log from the start, then live: across reconnects the client resumes strictly after the last event it
  // delivered, so the fold sees every event exactly once.
  session.subscribe({ from: 'start' }).subscribe({
    next: (event) => {
      fold.apply(event);
      if (event.type === '$ack') {
        const ack = (event.data as { data?: ChatStopAck } | null)?.data;
        if (ack?.runId) acks.set(ack.runId, ack);
      }
      if (event.type === CHAT_USER) followForeignTurns();
      schedule();
    },
  });
  // Reloaded mid-run (or before the agent started): replay the run in progress and follow it.
  const last = history.messages.at(-1);
  if (history.activeRunId !== undefined || last?.role === 'user') void chat.resumeStream().finally(followForeignTurns);
  schedule();
}
start().catch((err: unknown) => {
  stopStatus.textContent = `could not load the chat: ${(err as Error).message}`;
});

// Connection state.
const pill = $('connection-state');
function showState(state: ConnectionState): void {
  pill.dataset.status = state.status;
  if (state.status === 'live') pill.textContent = 'live';
  else if (state.status === 'connecting') pill.textContent = 'connecting…';
  else if (state.status === 'reconnecting') {
    const point = state.resuming.find((r) => r.session === sessionId && r.log === 'events');
    const from = point?.from ?? fold.result.lastOffset ?? 'start';
    pill.textContent = `reconnecting, resuming from ${from}`;
    pill.dataset.resumeFrom = String(from);
  } else pill.textContent = `stopped${state.error ? `: ${state.error.message}` : ''}`;
}
client.state$.subscribe(showState);

// Presence: every tab is a viewer; the agent is a member too, so a crashed agent visibly leaves.
const members = new Map<string, PresenceMember>();
const presenceBar = $('presence-bar');
const drawPresence = () => renderPresence(presenceBar, members.values(), client.presenceId);
void session.presence.enter({ role: 'viewer', name: `viewer ${viewerId.slice(0, 4)}` }).catch(() => {});
session.presence.changes().subscribe((change) => {
  if (change.action === 'leave') members.delete(change.member.connectionId);
  else members.set(change.member.connectionId, change.member);
  drawPresence();
});
client.state$.subscribe((state) => {
  if (state.status === 'live') drawPresence(); // presenceId is known once live
});

// Sending a turn: through the chat, so the transport appends it and streams the run that answers it.
async function send(text: string): Promise<void> {
  const trimmed = text.trim();
  if (!trimmed || !chat) return;
  input.value = '';
  stopStatus.textContent = '';
  delete stopStatus.dataset.acknowledged;
  await chat.sendMessage({ text: trimmed }).finally(followForeignTurns);
}
$('composer').addEventListener('submit', (e) => {
  e.preventDefault();
  void send(input.value);
});

/** Shows the agent's acknowledgement of a stop (the `$ack` the agent appends once the run has really stopped). */
async function awaitAck(runId: string, receipt: ControlReceipt): Promise<void> {
  stopStatus.textContent = 'stop sent — waiting for the agent…';
  delete stopStatus.dataset.acknowledged;
  try {
    const ack = await receipt.acknowledged({ timeoutMs: 15_000 });
    const data = (ack.data as { data?: ChatStopAck } | null)?.data;
    if (data?.runId) acks.set(data.runId, data);
    stopStatus.textContent = data?.stopped ? `stopped — agent acknowledged (after ${data.afterTokens} tokens)` : 'the agent acknowledged: the run had already ended';
    stopStatus.dataset.acknowledged = runId;
  } catch (err) {
    stopStatus.textContent = `no acknowledgement: ${(err as Error).message}`;
  }
  schedule();
}

// Stop: the chat aborts its request and the transport sends `chat.stop` for the run over the control channel; the
// agent aborts the model call, writes `abort`, then acknowledges. A run this tab does not follow is stopped directly.
stopButton.addEventListener('click', () => {
  stopButton.disabled = true;
  if (chat && (chat.status === 'streaming' || chat.status === 'submitted')) {
    void chat.stop();
    return;
  }
  const runId = fold.result.activeRunId;
  if (runId !== undefined) void session.control.send(chatStopMessage(runId)).then((receipt) => awaitAck(runId, receipt));
});

// Simulated network drop: the demo server cuts this tab's WebSocket (both TCP connections) and refuses its
// reconnects for a moment; the client shows "reconnecting", then resumes from its last offset.
$('drop-button').addEventListener('click', () => {
  void fetch(`/api/drop?connection=${encodeURIComponent(client.connectionId)}`, { method: 'POST' });
});

// Crash and restart the agent: a crash leaves no goodbye, so presence drops it only after the timeout.
const agentButton = $<HTMLButtonElement>('agent-button');
let agentState: 'running' | 'crashed' = 'running';
const drawAgentButton = () => {
  agentButton.textContent = agentState === 'running' ? 'Crash agent' : 'Restart agent';
  agentButton.dataset.agent = agentState;
};
agentButton.addEventListener('click', async () => {
  agentButton.disabled = true;
  try {
    const res = await fetch(`/api/agent?action=${agentState === 'running' ? 'crash' : 'restart'}`, { method: 'POST' });
    agentState = ((await res.json()) as { agent: typeof agentState }).agent;
  } finally {
    agentButton.disabled = false;
    drawAgentButton();
  }
});
void fetch('/api/agent')
  .then((res) => res.json() as Promise<{ agent: typeof agentState }>)
  .then((body) => {
    agentState = body.agent;
    drawAgentButton();
  });

const share = $<HTMLAnchorElement>('share-link');
share.href = location.href;
share.textContent = `?chat=${chatId}`;
