// The Vercel AI SDK transport against a real gateway on the memory backend, with an agent that runs `streamText`
// on a mock model and pipes it into the session: what `useChat` would see on send, stop, reload and network cuts.
import type { LanguageModelV3StreamPart } from '@ai-sdk/provider';
import type { SessionStore } from '@durable-sessions/core';
import type { RunningGateway } from '@durable-sessions/gateway';
import {
  AbstractChat,
  convertToModelMessages,
  jsonSchema,
  simulateReadableStream,
  stepCountIs,
  streamText,
  tool,
  type ChatInit,
  type ChatState,
  type UIMessage,
  type UIMessageChunk,
} from 'ai';
import { MockLanguageModelV3 } from 'ai/test';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  ChatFold,
  createDurableChatTransport,
  foldChat,
  isChatChunk,
  isChatUser,
  onChatStop,
  pipeUIMessageStreamToSession,
  readChat,
  type ChatStopSent,
  type ClientSession,
  type DurableSessionsClient,
  type SessionEvent,
} from '../src/index.js';
import { client, closeAll, gateway, memoryStore, proxy, sessionId, stateWhere, token, waitFor, type Proxy } from './helpers.js';

let store: SessionStore;
let gw: RunningGateway;
let px: Proxy;

beforeAll(async () => {
  store = await memoryStore();
  gw = await gateway(store);
  px = await proxy(gw.port);
});
const agents: Agent[] = [];
afterEach(async () => {
  await Promise.allSettled(agents.splice(0).map((a) => a.close()));
  await closeAll();
});
afterAll(async () => {
  await px.close();
  await gw.close();
  await store.close();
});

// ---- the model ---------------------------------------------------------------------------------------------

const usage = {
  inputTokens: { total: 3, noCache: 3, cacheRead: undefined, cacheWrite: undefined },
  outputTokens: { total: 5, text: 5, reasoning: undefined },
};
const finish = (unified: 'stop' | 'tool-calls'): LanguageModelV3StreamPart => ({ type: 'finish', finishReason: { unified, raw: undefined }, usage });
const textStep = (tokens: string[]): LanguageModelV3StreamPart[] => [
  { type: 'text-start', id: 'txt' },
  ...tokens.map((delta): LanguageModelV3StreamPart => ({ type: 'text-delta', id: 'txt', delta })),
  { type: 'text-end', id: 'txt' },
  finish('stop'),
];
const tokens = (n: number, prefix = 'tok') => Array.from({ length: n }, (_, i) => `${prefix}${i} `);

/** A model step that pauses before part `pauseAt` until `release()`, as a model thinking mid-answer. */
function gatedStep(parts: LanguageModelV3StreamPart[], pauseAt: number) {
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  let emitted = 0;
  const stream = new ReadableStream<LanguageModelV3StreamPart>({
    async pull(c) {
      if (emitted === pauseAt) await gate;
      if (emitted < parts.length) c.enqueue(parts[emitted++]!);
      else c.close();
    },
  });
  return {
    stream,
    release,
    get emitted() {
      return emitted;
    },
  };
}

const weather = tool({
  description: 'The weather in a city',
  inputSchema: jsonSchema<{ city: string }>({ type: 'object', properties: { city: { type: 'string' } }, required: ['city'] }),
  execute: async ({ city }) => ({ city, celsius: 21 }),
});

// ---- the agent ---------------------------------------------------------------------------------------------

/** One step of a run: what the model streams for that call. */
type Step = LanguageModelV3StreamPart[] | ReadableStream<LanguageModelV3StreamPart>;

interface Agent {
  /** The prompts the model was called with, per call. */
  readonly prompts: unknown[];
  /** The abort signal of each model call (a real provider passes it to its HTTP request). */
  readonly modelSignals: Array<AbortSignal | undefined>;
  readonly stops: Array<string | undefined>;
  close(): Promise<void>;
}

/**
 * An agent on the backend side (a core session, as `durable-sessions demo` runs one): every `chat.user` starts a
 * run of `streamText` on the conversation so far, piped into the session; `chat.stop` aborts it and is acknowledged
 * once the run has written its `abort` chunk. `steps(turn)` gives the model's output for each call of a turn.
 */
/** An agent's session: a core session next to the backend, or a client session behind the gateway. */
type AgentSession = Pick<ClientSession, 'subscribe' | 'writer' | 'close' | 'control'>;

function startAgent(session: AgentSession, steps: (turn: number) => Step[]): Agent {
  const fold = new ChatFold();
  const runs = new Map<string, { controller: AbortController; done: Promise<unknown> }>();
  const prompts: unknown[] = [];
  const modelSignals: Array<AbortSignal | undefined> = [];
  const stops: Array<string | undefined> = [];
  let turn = 0;
  const subscription = session.subscribe({ from: 'start' }).subscribe((event) => {
    fold.apply(event);
    if (!isChatUser(event.data)) return;
    const replyTo = event.data.message.id;
    const messages = fold.result.messages;
    const calls = steps(turn++).map((s) => ({ stream: Array.isArray(s) ? simulateReadableStream({ chunks: s, chunkDelayInMs: null }) : s }));
    const model = new MockLanguageModelV3({
      doStream: async (options) => {
        prompts.push(options.prompt);
        modelSignals.push(options.abortSignal);
        return calls.shift()!;
      },
    });
    const runId = `run-${turn}`;
    const controller = new AbortController();
    const done = (async () => {
      const result = streamText({ model, messages: await convertToModelMessages(messages), tools: { weather }, stopWhen: stepCountIs(4), abortSignal: controller.signal });
      return pipeUIMessageStreamToSession(result.toUIMessageStream(), session.writer(), { runId, signal: controller.signal, replyTo });
    })();
    runs.set(runId, { controller, done });
  });
  const off = onChatStop(
    session,
    async ({ runId }) => {
      stops.push(runId);
      const targets = runId === undefined ? [...runs.values()] : [runs.get(runId)].filter((r) => r !== undefined);
      for (const run of targets) run.controller.abort();
      await Promise.all(targets.map((r) => r.done));
    },
    { from: 'start' },
  );
  const agent: Agent = {
    prompts,
    modelSignals,
    stops,
    async close() {
      off();
      subscription.unsubscribe();
      for (const run of runs.values()) run.controller.abort();
      await Promise.allSettled([...runs.values()].map((r) => r.done));
      await session.close();
    },
  };
  agents.push(agent);
  return agent;
}

// ---- the page ----------------------------------------------------------------------------------------------

/** The smallest `ChatState`: what `useChat` keeps in React state. */
class PlainState implements ChatState<UIMessage> {
  status: ChatState<UIMessage>['status'] = 'ready';
  error: Error | undefined;
  constructor(public messages: UIMessage[] = []) {}
  pushMessage = (message: UIMessage) => void (this.messages = [...this.messages, message]);
  popMessage = () => void (this.messages = this.messages.slice(0, -1));
  replaceMessage = (index: number, message: UIMessage) => void (this.messages = this.messages.map((m, i) => (i === index ? this.snapshot(message) : m)));
  snapshot = <T,>(thing: T): T => structuredClone(thing);
}

/** `useChat` without React: the SDK's own `AbstractChat` over a plain state. */
class PlainChat extends AbstractChat<UIMessage> {
  constructor(init: ChatInit<UIMessage>) {
    super({ ...init, state: new PlainState(init.messages) });
  }
}

/** Reads a stream in the background into `chunks`. */
function collect(stream: ReadableStream<UIMessageChunk>) {
  const chunks: UIMessageChunk[] = [];
  const reader = stream.getReader();
  const done = (async () => {
    for (;;) {
      const next = await reader.read();
      if (next.done) return chunks;
      chunks.push(next.value);
    }
  })();
  return { chunks, done, cancel: () => reader.cancel() };
}

async function events(id: string): Promise<SessionEvent[]> {
  const all: SessionEvent[] = [];
  let from = 'start';
  for (;;) {
    const page = await store.session(id).read({ from, limit: 1000 });
    all.push(...page.events);
    if (page.upToDate || page.events.length === 0) return all;
    from = page.next;
  }
}

async function storedRun(id: string, runId: string): Promise<UIMessageChunk[]> {
  return (await events(id)).flatMap((e) => (isChatChunk(e.data) && e.data.runId === runId ? [e.data.chunk] : []));
}

const userMessage = (id: string, text: string): UIMessage => ({ id, role: 'user', parts: [{ type: 'text', text }] });

async function chatClient(id: string, url = gw.url): Promise<DurableSessionsClient> {
  return client(url, { token: await token(id) });
}

const deltas = (chunks: UIMessageChunk[]) => chunks.flatMap((c) => (c.type === 'text-delta' ? [c.delta] : []));

describe('durable chat transport', () => {
  it('streams the answering run token by token, in order, and ends on its finish', async () => {
    const id = sessionId('chat-tokens');
    const said = tokens(60);
    startAgent(store.session(id), () => [textStep(said)]);
    const transport = createDurableChatTransport({ client: await chatClient(id) });
    const stream = await transport.sendMessages({ chatId: id, trigger: 'submit-message', messageId: undefined, messages: [userMessage('u1', 'hello')], abortSignal: undefined });
    const chunks = await collect(stream).done;
    expect(deltas(chunks)).toEqual(said);
    expect(chunks[0]).toEqual({ type: 'start', messageId: 'run-1' });
    expect(chunks.at(-1)).toMatchObject({ type: 'finish' });
    expect(chunks).toEqual(await storedRun(id, 'run-1'));
    // The user turn was stored once, before the run.
    const stored = await events(id);
    expect(stored.filter((e) => isChatUser(e.data)).map((e) => (e.data as unknown as { message: UIMessage }).message)).toEqual([userMessage('u1', 'hello')]);
  });

  it('delivers a multi-step run whole: the stream does not end at a finish-step', async () => {
    const id = sessionId('chat-steps');
    const toolCall: LanguageModelV3StreamPart[] = [{ type: 'tool-call', toolCallId: 'c1', toolName: 'weather', input: '{"city":"Oslo"}' }, finish('tool-calls')];
    startAgent(store.session(id), () => [toolCall, textStep(['Oslo: ', '21°C'])]);
    const transport = createDurableChatTransport({ client: await chatClient(id) });
    const stream = await transport.sendMessages({ chatId: id, trigger: 'submit-message', messageId: undefined, messages: [userMessage('u1', 'weather?')], abortSignal: undefined });
    const types = (await collect(stream).done).map((c) => c.type);
    expect(types).toEqual([
      'start', 'start-step', 'tool-input-available', 'tool-output-available', 'finish-step',
      'start-step', 'text-start', 'text-delta', 'text-delta', 'text-end', 'finish-step', 'finish',
    ]);
  });

  it('drives AbstractChat (useChat without React) to the conversation the session holds, turn after turn', async () => {
    const id = sessionId('chat-abstract');
    const toolCall: LanguageModelV3StreamPart[] = [{ type: 'tool-call', toolCallId: 'c1', toolName: 'weather', input: '{"city":"Rome"}' }, finish('tool-calls')];
    const agent = startAgent(store.session(id), (turn) =>
      turn === 0 ? [textStep(['Hi ', 'there.'])] : turn === 1 ? [toolCall, textStep(['Sunny ', 'in Rome.'])] : [textStep(['Rome: ', 'sunny.'])],
    );
    const c = await chatClient(id);
    const chat = new PlainChat({ id, transport: createDurableChatTransport({ client: c }) });
    await chat.sendMessage({ text: 'Hello' });
    expect(chat.status).toBe('ready');
    await chat.sendMessage({ text: 'Weather in Rome?' });
    expect(chat.status).toBe('ready');
    const folded = (await readChat(c.session(id))).messages;
    expect(chat.messages).toEqual(folded);
    expect(chat.messages.map((m) => m.role)).toEqual(['user', 'assistant', 'user', 'assistant']);
    expect(chat.messages[1]!.parts).toContainEqual(expect.objectContaining({ type: 'text', text: 'Hi there.' }));
    expect(chat.messages[3]!.parts.map((p) => p.type)).toEqual(['step-start', 'tool-weather', 'step-start', 'text']);
    // The agent answered the second turn knowing the first: its prompt holds the first answer.
    expect(JSON.stringify(agent.prompts[1])).toContain('Hi there.');
    // A second page rebuilding from history sees the same conversation.
    expect(foldChat(await events(id)).messages).toEqual(chat.messages);
    // Regenerating the last answer re-sends its user turn: the session's fold drops the old answer too.
    await chat.regenerate();
    expect(chat.messages.map((m) => m.role)).toEqual(['user', 'assistant', 'user', 'assistant']);
    expect(chat.messages[3]!.parts).toContainEqual(expect.objectContaining({ type: 'text', text: 'Rome: sunny.' }));
    expect(foldChat(await events(id)).messages).toEqual(chat.messages);
  });

  it('stops on abort: chat.stop over control, the agent acknowledges, and the stream ends with abort', async () => {
    const id = sessionId('chat-abort');
    const model = gatedStep(textStep(tokens(50)), 6);
    const agent = startAgent(store.session(id), () => [model.stream]);
    const stopsSent: ChatStopSent[] = [];
    const transport = createDurableChatTransport({ client: await chatClient(id), onStop: (s) => stopsSent.push(s) });
    const ac = new AbortController();
    const stream = await transport.sendMessages({ chatId: id, trigger: 'submit-message', messageId: undefined, messages: [userMessage('u1', 'go on')], abortSignal: ac.signal });
    const got = collect(stream);
    await waitFor(() => deltas(got.chunks).length === 5, 'the tokens before the pause');
    ac.abort();
    const chunks = await got.done;
    expect(chunks.at(-1)).toEqual({ type: 'abort' });
    expect(deltas(chunks)).toEqual(tokens(5));
    await waitFor(() => stopsSent.length === 1, 'the stop receipt');
    expect(stopsSent[0]).toMatchObject({ chatId: id, runId: 'run-1' });
    const ack = await stopsSent[0]!.receipt.acknowledged({ timeoutMs: 10_000 });
    expect(ack.data).toEqual({ control: stopsSent[0]!.receipt.offset, data: { runId: 'run-1', stopped: true } });
    expect(agent.stops).toEqual(['run-1']);
    expect(agent.modelSignals.map((s) => s?.aborted)).toEqual([true]);
    // Nothing of the run follows its abort chunk, and the ack came after it (generation had stopped).
    const stored = await events(id);
    const abortAt = stored.findIndex((e) => isChatChunk(e.data) && e.data.chunk.type === 'abort');
    expect(stored.slice(abortAt + 1).map((e) => e.type)).toEqual(['$ack']);
  });

  it('stops through AbstractChat.stop(): the agent stops and the chat keeps the partial answer', async () => {
    const id = sessionId('chat-stop');
    const model = gatedStep(textStep(tokens(50)), 4);
    const agent = startAgent(store.session(id), () => [model.stream]);
    const acks: Promise<SessionEvent>[] = [];
    const c = await chatClient(id);
    const chat = new PlainChat({ id, transport: createDurableChatTransport({ client: c, onStop: (s) => acks.push(s.receipt.acknowledged({ timeoutMs: 10_000 })) }) });
    const sending = chat.sendMessage({ text: 'long answer please' });
    await waitFor(() => chat.messages[1]?.parts.some((p) => p.type === 'text' && p.text === tokens(3).join('')) === true, 'the partial answer');
    await chat.stop();
    await sending;
    expect(chat.status).toBe('ready');
    await waitFor(() => acks.length === 1, 'the stop to be sent');
    expect(((await acks[0]!).data as { data: unknown }).data).toEqual({ runId: 'run-1', stopped: true });
    expect(agent.stops).toEqual(['run-1']);
    const history = await readChat(c.session(id));
    expect(history.activeRunId).toBeUndefined();
    expect(history.runs.map((r) => r.status)).toEqual(['aborted']);
  });

  it('an abort before the run started stops that run as soon as it starts, even with the stream cancelled', async () => {
    const id = sessionId('chat-early-stop');
    const stopsSent: ChatStopSent[] = [];
    const transport = createDurableChatTransport({ client: await chatClient(id), onStop: (s) => stopsSent.push(s) });
    const ac = new AbortController();
    const stream = await transport.sendMessages({ chatId: id, trigger: 'submit-message', messageId: undefined, messages: [userMessage('u1', 'quick')], abortSignal: ac.signal });
    // As AbstractChat does on stop(): abort, then cancel the reader. No agent is running yet.
    ac.abort();
    await stream.cancel();
    expect(stopsSent).toEqual([]);
    const model = gatedStep(textStep(tokens(20)), 3);
    const agent = startAgent(store.session(id), () => [model.stream]);
    await waitFor(() => stopsSent.length === 1, 'the stop, once the run started');
    expect(stopsSent[0]!.runId).toBe('run-1');
    await stopsSent[0]!.receipt.acknowledged({ timeoutMs: 10_000 });
    expect(agent.stops).toEqual(['run-1']);
    expect((await storedRun(id, 'run-1')).at(-1)).toEqual({ type: 'abort' });
  });

  it('reconnects mid-run: the whole run from its first chunk, then live, with no duplicates (raw and via useChat resume)', async () => {
    const id = sessionId('chat-resume');
    const said = tokens(40);
    const model = gatedStep(textStep(said), 12);
    startAgent(store.session(id), () => [model.stream]);
    const first = createDurableChatTransport({ client: await chatClient(id) });
    const original = collect(await first.sendMessages({ chatId: id, trigger: 'submit-message', messageId: undefined, messages: [userMessage('u1', 'tell me')], abortSignal: undefined }));
    await waitFor(() => deltas(original.chunks).length === 11, 'the run to be mid-way');

    // A reloaded page: a new client, the history folded, then the transport reconnects.
    const reloaded = await chatClient(id);
    const history = await readChat(reloaded.session(id));
    expect(history).toMatchObject({ activeRunId: 'run-1', activeMessageId: 'run-1' });
    expect(history.messages.map((m) => m.role)).toEqual(['user', 'assistant']);
    const transport = createDurableChatTransport({ client: reloaded });
    const resumed = collect((await transport.reconnectToStream({ chatId: id }))!);
    const chat = new PlainChat({ id, messages: history.messages, transport });
    const resuming = chat.resumeStream();
    await waitFor(() => deltas(resumed.chunks).length === 11, 'the replayed tokens');
    model.release();
    const chunks = await resumed.done;
    await resuming;
    await original.done;
    expect(chunks).toEqual(await storedRun(id, 'run-1'));
    expect(deltas(chunks)).toEqual(said);
    expect(original.chunks).toEqual(chunks);
    // useChat's view: the partial message was replaced by the replay, not duplicated.
    expect(chat.messages).toEqual((await readChat(reloaded.session(id))).messages);
    expect(chat.messages).toHaveLength(2);
    // Nothing to resume once the run finished.
    expect(await transport.reconnectToStream({ chatId: id })).toBeNull();
  });

  it('survives a socket cut mid-stream: nothing lost or repeated, and the agent was not stopped', async () => {
    const id = sessionId('chat-cut');
    const said = tokens(80);
    const model = gatedStep(textStep(said), 20);
    const agent = startAgent(store.session(id), () => [model.stream]);
    const c = await chatClient(id, px.url);
    const states: string[] = [];
    c.state$.subscribe((s) => states.push(s.status));
    const transport = createDurableChatTransport({ client: c });
    const got = collect(await transport.sendMessages({ chatId: id, trigger: 'submit-message', messageId: undefined, messages: [userMessage('u1', 'stream a lot')], abortSignal: undefined }));
    await waitFor(() => deltas(got.chunks).length === 19, 'tokens before the cut');
    px.cut();
    await stateWhere(c, (s) => s.status === 'reconnecting');
    // The agent keeps writing while the page is offline.
    model.release();
    const chunks = await got.done;
    expect(chunks).toEqual(await storedRun(id, 'run-1'));
    expect(deltas(chunks)).toEqual(said);
    expect(chunks.at(-1)).toMatchObject({ type: 'finish' });
    expect(agent.stops).toEqual([]);
    expect(states).toContain('reconnecting');
    expect(states.at(-1)).toBe('live');
  });

  it('works the same with an agent behind the gateway (a client session as sink and control channel)', async () => {
    const id = sessionId('chat-remote-agent');
    const said = tokens(30);
    const model = gatedStep(textStep(said), 8);
    const agentClient = await chatClient(id);
    const agent = startAgent(agentClient.session(id), () => [model.stream]);
    const stopsSent: ChatStopSent[] = [];
    const transport = createDurableChatTransport({ client: await chatClient(id), onStop: (s) => stopsSent.push(s) });
    const ac = new AbortController();
    const got = collect(await transport.sendMessages({ chatId: id, trigger: 'submit-message', messageId: undefined, messages: [userMessage('u1', 'hi')], abortSignal: ac.signal }));
    await waitFor(() => deltas(got.chunks).length === 7, 'the tokens before the pause');
    ac.abort();
    const chunks = await got.done;
    expect(deltas(chunks)).toEqual(said.slice(0, 7));
    expect(chunks.at(-1)).toEqual({ type: 'abort' });
    expect(chunks).toEqual(await storedRun(id, 'run-1'));
    await waitFor(() => stopsSent.length === 1, 'the stop');
    expect(((await stopsSent[0]!.receipt.acknowledged({ timeoutMs: 10_000 })).data as { data: unknown }).data).toEqual({ runId: 'run-1', stopped: true });
    expect(agent.stops).toEqual(['run-1']);
  });

  it('reconnects to a turn the agent has not answered yet, and refuses what it cannot send', async () => {
    const id = sessionId('chat-pending');
    const c = await chatClient(id);
    const transport = createDurableChatTransport({ client: c });
    expect(await transport.reconnectToStream({ chatId: id })).toBeNull();
    // The page sent and reloaded before any agent picked the turn up.
    const sent = await transport.sendMessages({ chatId: id, trigger: 'submit-message', messageId: undefined, messages: [userMessage('u1', 'anyone?')], abortSignal: undefined });
    await sent.cancel();
    const resumed = collect((await createDurableChatTransport({ client: await chatClient(id) }).reconnectToStream({ chatId: id }))!);
    startAgent(store.session(id), () => [textStep(['yes'])]);
    expect(deltas(await resumed.done)).toEqual(['yes']);

    expect(() => createDurableChatTransport({})).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    const assistantLast: UIMessage[] = [userMessage('u1', 'anyone?'), { id: 'a1', role: 'assistant', parts: [] }];
    await expect(transport.sendMessages({ chatId: id, trigger: 'submit-message', messageId: undefined, messages: assistantLast, abortSignal: undefined })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });

  it('appends a retried user message once, and picks its own run among concurrent ones', async () => {
    const id = sessionId('chat-retry');
    const slow = gatedStep(textStep(tokens(10, 'a')), 2);
    startAgent(store.session(id), (turn) => (turn === 0 ? [slow.stream] : [textStep(tokens(5, 'b'))]));
    const tabA = createDurableChatTransport({ client: await chatClient(id) });
    const tabB = createDurableChatTransport({ client: await chatClient(id) });
    const a = collect(await tabA.sendMessages({ chatId: id, trigger: 'submit-message', messageId: undefined, messages: [userMessage('a1', 'first')], abortSignal: undefined }));
    await waitFor(() => deltas(a.chunks).length === 1, 'run 1 under way');
    // Tab B asks while run 1 is still streaming: it gets run 2 only.
    const b = await collect(await tabB.sendMessages({ chatId: id, trigger: 'submit-message', messageId: undefined, messages: [userMessage('a1', 'first'), userMessage('b1', 'second')], abortSignal: undefined })).done;
    expect(deltas(b)).toEqual(tokens(5, 'b'));
    // The same send again (a retry): not stored twice, and answered by the same run.
    const again = await collect(await tabB.sendMessages({ chatId: id, trigger: 'submit-message', messageId: undefined, messages: [userMessage('a1', 'first'), userMessage('b1', 'second')], abortSignal: undefined })).done;
    expect(again).toEqual(b);
    slow.release();
    expect(deltas(await a.done)).toEqual(tokens(10, 'a'));
    const users = (await events(id)).filter((e) => isChatUser(e.data));
    expect(users).toHaveLength(2);
  });
});
