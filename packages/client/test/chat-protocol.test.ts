// The chat protocol's pure parts and the agent helpers, against a core session on the memory backend: what
// `streamText` produces is stored chunk by chunk, folds into the message the AI SDK itself builds, and stops on
// `chat.stop` with an acknowledgement.
import type { LanguageModelV3StreamPart } from '@ai-sdk/provider';
import type { SessionEvent, SessionStore } from '@durable-sessions/core';
import { jsonSchema, readUIMessageStream, simulateReadableStream, stepCountIs, streamText, tool, type UIMessage, type UIMessageChunk } from 'ai';
import { MockLanguageModelV3 } from 'ai/test';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ChatFold,
  chatChunkEvent,
  chatStopMessage,
  chatUserEvent,
  foldChat,
  isChatChunk,
  isChatStop,
  isChatUser,
  isRunEnd,
  onChatStop,
  pipeUIMessageStreamToSession,
  type ChatChunkData,
} from '../src/index.js';
import { memoryStore, sessionId, waitFor } from './helpers.js';

let store: SessionStore;
beforeAll(async () => {
  store = await memoryStore();
});
afterAll(() => store.close());

const usage = {
  inputTokens: { total: 3, noCache: 3, cacheRead: undefined, cacheWrite: undefined },
  outputTokens: { total: 5, text: 5, reasoning: undefined },
};
const finish = (unified: 'stop' | 'tool-calls'): LanguageModelV3StreamPart => ({ type: 'finish', finishReason: { unified, raw: undefined }, usage });

/** A model step that says `tokens`. */
function textStep(tokens: string[], id = 'txt'): LanguageModelV3StreamPart[] {
  return [{ type: 'text-start', id }, ...tokens.map((delta): LanguageModelV3StreamPart => ({ type: 'text-delta', id, delta })), { type: 'text-end', id }, finish('stop')];
}

/** A model step that calls the `weather` tool. */
function toolStep(toolCallId: string, city: string): LanguageModelV3StreamPart[] {
  return [{ type: 'tool-call', toolCallId, toolName: 'weather', input: JSON.stringify({ city }) }, finish('tool-calls')];
}

/** A mock model whose successive calls stream `steps` (one step per call). */
function model(steps: LanguageModelV3StreamPart[][]): MockLanguageModelV3 {
  return new MockLanguageModelV3({ doStream: steps.map((chunks) => ({ stream: simulateReadableStream({ chunks, chunkDelayInMs: null }) })) });
}

const weather = tool({
  description: 'The weather in a city',
  inputSchema: jsonSchema<{ city: string }>({ type: 'object', properties: { city: { type: 'string' } }, required: ['city'] }),
  execute: async ({ city }) => ({ city, celsius: 21 }),
});

async function history(id: string): Promise<SessionEvent[]> {
  return (await store.session(id).read({ from: 'start', limit: 1000 })).events;
}

function chunksOf(events: SessionEvent[], runId?: string): UIMessageChunk[] {
  return events.flatMap((e) => (isChatChunk(e.data) && (runId === undefined || e.data.runId === runId) ? [e.data.chunk] : []));
}

/** What the AI SDK's own reader makes of `chunks`: the reference the fold must match. */
async function sdkMessage(chunks: UIMessageChunk[]): Promise<UIMessage | undefined> {
  let last: UIMessage | undefined;
  for await (const m of readUIMessageStream({ stream: simulateReadableStream({ chunks, chunkDelayInMs: null }) })) last = m;
  return last;
}

describe('chat protocol', () => {
  it('builds events whose data the guards recognise, and rejects look-alikes', () => {
    const user = chatUserEvent({ id: 'u1', role: 'user', parts: [{ type: 'text', text: 'hi' }] });
    const chunk = chatChunkEvent('r1', { type: 'text-delta', id: 't', delta: 'x' }, 'u1');
    const stop = chatStopMessage('r1');
    expect(user.type).toBe('chat.user');
    expect(chunk).toEqual({ type: 'chat.chunk', data: { type: 'chat.chunk', runId: 'r1', chunk: { type: 'text-delta', id: 't', delta: 'x' }, replyTo: 'u1' } });
    expect(isChatUser(user.data)).toBe(true);
    expect(isChatChunk(chunk.data)).toBe(true);
    expect(isChatStop(stop.data)).toBe(true);
    expect(isChatStop(chatStopMessage().data)).toBe(true);
    expect(isChatUser(chunk.data)).toBe(false);
    expect(isChatChunk({ type: 'chat.chunk', chunk: { type: 'finish' } })).toBe(false);
    expect(isChatUser({ type: 'chat.user', message: 'hi' })).toBe(false);
    expect(isChatStop({ type: 'chat.stop', runId: 3 })).toBe(false);
    expect(isChatChunk(null)).toBe(false);
    expect(['finish', 'abort', 'error', 'finish-step', 'text-end'].map((type) => isRunEnd({ type }))).toEqual([true, true, true, false, false]);
  });

  it('pipes a streamText run token by token, with a start carrying the run id first and finish last', async () => {
    const id = sessionId('pipe');
    const tokens = Array.from({ length: 40 }, (_, i) => `w${i} `);
    const result = streamText({ model: model([textStep(tokens)]), prompt: 'hi' });
    const session = store.session(id);
    const writer = session.writer();
    const piped = await pipeUIMessageStreamToSession(result.toUIMessageStream(), writer, { runId: 'run-1', replyTo: 'u1' });
    await session.close();
    const events = await history(id);
    const chunks = chunksOf(events);
    expect(piped).toEqual({ runId: 'run-1', chunks: chunks.length, end: 'finish' });
    expect(chunks[0]).toEqual({ type: 'start', messageId: 'run-1' });
    expect(chunks.at(-1)?.type).toBe('finish');
    expect(chunks.flatMap((c) => (c.type === 'text-delta' ? [c.delta] : []))).toEqual(tokens);
    expect(events.every((e) => (e.data as unknown as ChatChunkData).replyTo === 'u1' && e.type === 'chat.chunk')).toBe(true);
    // The writer coalesced: the events carry its producer id.
    expect(new Set(events.map((e) => e.producer.producerId))).toEqual(new Set([writer.producerId]));
  });

  it('keeps a multi-step run whole: finish-step is not its end, and the fold matches the SDK message', async () => {
    const id = sessionId('steps');
    const result = streamText({
      model: model([toolStep('call-1', 'Paris'), textStep(['It is ', '21°C ', 'in Paris.'])]),
      prompt: 'weather?',
      tools: { weather },
      stopWhen: stepCountIs(3),
    });
    // A session as the sink: the pipe makes a writer of it.
    const session = store.session(id);
    await pipeUIMessageStreamToSession(result.toUIMessageStream(), session, { runId: 'run-steps' });
    await session.close();
    const events = await history(id);
    const chunks = chunksOf(events);
    const types = chunks.map((c) => c.type);
    // Step 1 calls the tool and finishes; step 2 answers; only then does the run finish.
    expect(types.join(' ')).toBe(
      'start start-step tool-input-available tool-output-available finish-step ' +
        'start-step text-start text-delta text-delta text-delta text-end finish-step finish',
    );

    const folded = foldChat([{ offset: '0', data: chatUserEvent({ id: 'u1', role: 'user', parts: [{ type: 'text', text: 'weather?' }] }).data }, ...events]);
    expect(folded.activeRunId).toBeUndefined();
    expect(folded.runs).toMatchObject([{ runId: 'run-steps', messageId: 'run-steps', status: 'finished', replyTo: 'u1', finishReason: 'stop' }]);
    expect(folded.messages).toHaveLength(2);
    const assistant = folded.messages[1]!;
    expect(assistant).toEqual(await sdkMessage(chunks));
    expect(assistant.parts.map((p) => p.type)).toEqual(['step-start', 'tool-weather', 'step-start', 'text']);
    expect(assistant.parts[1]).toMatchObject({ state: 'output-available', input: { city: 'Paris' }, output: { city: 'Paris', celsius: 21 } });
    expect(assistant.parts[3]).toMatchObject({ text: 'It is 21°C in Paris.', state: 'done' });
  });

  it('folds streamed tool input, reasoning, sources and data parts as the SDK does', async () => {
    const chunks: UIMessageChunk[] = [
      { type: 'start', messageId: 'm1', messageMetadata: { a: 1 } },
      { type: 'start-step' },
      { type: 'reasoning-start', id: 'r' },
      { type: 'reasoning-delta', id: 'r', delta: 'think' },
      { type: 'reasoning-end', id: 'r' },
      { type: 'tool-input-start', toolCallId: 'c1', toolName: 'search', dynamic: true },
      { type: 'tool-input-delta', toolCallId: 'c1', inputTextDelta: '{"q":' },
      { type: 'tool-input-delta', toolCallId: 'c1', inputTextDelta: '"x"}' },
      { type: 'tool-input-available', toolCallId: 'c1', toolName: 'search', input: { q: 'x' }, dynamic: true },
      { type: 'tool-output-error', toolCallId: 'c1', errorText: 'down' },
      { type: 'source-url', sourceId: 's1', url: 'https://example.com' },
      { type: 'data-progress', id: 'p', data: { done: 1 } },
      { type: 'data-progress', id: 'p', data: { done: 2 } },
      { type: 'data-note', data: 'transient', transient: true },
      { type: 'finish-step' },
      { type: 'message-metadata', messageMetadata: { b: 2 } },
      { type: 'finish', finishReason: 'stop', messageMetadata: { a: 3 } },
    ];
    const events = chunks.map((chunk, i) => ({ offset: String(i).padStart(4, '0'), data: chatChunkEvent('r1', chunk).data }));
    const folded = foldChat(events);
    expect(folded.messages).toEqual([await sdkMessage(chunks)]);
    expect(folded.messages[0]!.metadata).toEqual({ a: 3, b: 2 });
  });

  it('tracks the active run and the position that replays it; an edited user turn drops what followed', () => {
    const fold = new ChatFold();
    const u = (id: string, text: string) => chatUserEvent({ id, role: 'user', parts: [{ type: 'text', text }] }).data;
    const c = (runId: string, chunk: UIMessageChunk) => chatChunkEvent(runId, chunk).data;
    fold.apply({ offset: '01', data: u('u1', 'one') });
    fold.apply({ offset: '02', data: c('r1', { type: 'start' }) });
    fold.apply({ offset: '03', data: c('r1', { type: 'finish' }) });
    fold.apply({ offset: '04', data: { type: '$ack' } });
    fold.apply({ offset: '05', data: u('u2', 'two') });
    fold.apply({ offset: '06', data: { note: 'not chat' } });
    fold.apply({ offset: '07', data: c('r2', { type: 'start', messageId: 'a2' }) });
    fold.apply({ offset: '08', data: c('r2', { type: 'text-start', id: 't' }) });
    fold.apply({ offset: '09', data: c('r2', { type: 'text-delta', id: 't', delta: 'par' }) });
    let r = fold.result;
    expect(r.messages.map((m) => [m.id, m.role])).toEqual([['u1', 'user'], ['r1', 'assistant'], ['u2', 'user'], ['a2', 'assistant']]);
    expect(r).toMatchObject({ activeRunId: 'r2', activeRunStartOffset: '07', activeRunFrom: '06', activeMessageId: 'a2', lastOffset: '09' });
    expect(r.messages[3]!.parts).toEqual([{ type: 'text', text: 'par', state: 'streaming' }]);
    // Results are copies: later chunks do not change what a renderer holds.
    fold.apply({ offset: '10', data: c('r2', { type: 'abort' }) });
    expect(r.messages[3]!.parts).toEqual([{ type: 'text', text: 'par', state: 'streaming' }]);
    r = fold.result;
    expect(r.activeRunId).toBeUndefined();
    expect(r.runs.map((x) => [x.runId, x.status, x.replyTo])).toEqual([['r1', 'finished', 'u1'], ['r2', 'aborted', 'u2']]);
    // Chunks after a run's end are ignored; an edit of u1 replaces it and drops everything after it.
    expect(fold.apply({ offset: '11', data: c('r2', { type: 'text-delta', id: 't', delta: 'late' }) })).toBe(false);
    fold.apply({ offset: '12', data: u('u1', 'one, edited') });
    expect(fold.apply({ offset: '13', data: c('r1', { type: 'text-start', id: 'z' }) })).toBe(false);
    r = fold.result;
    expect(r.messages).toEqual([{ id: 'u1', role: 'user', parts: [{ type: 'text', text: 'one, edited' }] }]);
    expect(r.runs).toEqual([]);
  });

  it('ends an aborted pipe with an abort chunk and an errored source with an error chunk', async () => {
    const id = sessionId('abort');
    const session = store.session(id);
    const ac = new AbortController();
    let pulled = 0;
    // A source that yields two chunks and then waits forever, as a model mid-generation.
    const source = new ReadableStream<UIMessageChunk>({
      pull(c) {
        pulled++;
        if (pulled === 1) c.enqueue({ type: 'text-start', id: 't' });
        else if (pulled === 2) c.enqueue({ type: 'text-delta', id: 't', delta: 'a' });
        else return new Promise(() => {});
      },
    });
    const piping = pipeUIMessageStreamToSession(source, session.writer(), { runId: 'r-abort', signal: ac.signal });
    await waitFor(() => pulled >= 3, 'the source to be waiting');
    ac.abort();
    expect(await piping).toMatchObject({ end: 'abort' });
    expect(chunksOf(await history(id)).map((c) => c.type)).toEqual(['start', 'text-start', 'text-delta', 'abort']);

    async function* failing(): AsyncGenerator<UIMessageChunk> {
      yield { type: 'start' };
      yield { type: 'text-start', id: 't' };
      throw new Error('model overloaded');
    }
    const failed = await pipeUIMessageStreamToSession(failing(), session.writer(), { runId: 'r-err' });
    expect(failed).toMatchObject({ end: 'error', error: new Error('model overloaded') });
    expect(chunksOf(await history(id), 'r-err')).toEqual([{ type: 'start', messageId: 'r-err' }, { type: 'text-start', id: 't' }, { type: 'error', errorText: 'model overloaded' }]);
    await session.close();
  });

  it('hands chat.stop control messages to the handler and acknowledges them once it resolved', async () => {
    const id = sessionId('stop');
    const agent = store.session(id);
    const seen: Array<string | undefined> = [];
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    const off = onChatStop(agent, async ({ runId }) => {
      seen.push(runId);
      if (runId === 'slow') await released;
      if (runId === 'custom') return { stopped: false, why: 'not running' };
    }, { from: 'start' });
    const page = store.session(id);
    await page.control.send({ type: 'something-else' }); // not a stop: ignored
    const slow = await page.control.send(chatStopMessage('slow'));
    let acked = false;
    const slowAck = slow.acknowledged({ timeoutMs: 10_000 }).then((e) => ((acked = true), e));
    await waitFor(() => seen.includes('slow'), 'the handler to run');
    expect(acked).toBe(false); // not before the handler says generation stopped
    release();
    expect((await slowAck).data).toEqual({ control: slow.offset, data: { runId: 'slow', stopped: true } });
    const custom = await (await page.control.send(chatStopMessage('custom'))).acknowledged({ timeoutMs: 10_000 });
    expect((custom.data as { data: unknown }).data).toEqual({ stopped: false, why: 'not running' });
    const all = await (await page.control.send(chatStopMessage())).acknowledged({ timeoutMs: 10_000 });
    expect((all.data as { data: unknown }).data).toEqual({ runId: null, stopped: true });
    expect(seen).toEqual(['slow', 'custom', undefined]);
    off();
    await agent.close();
    await page.close();
  });
});
