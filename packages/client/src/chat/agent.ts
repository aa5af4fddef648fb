// The agent's side of the chat protocol: write a UI message stream into the session as `chat.chunk` events, and
// obey `chat.stop` control messages. Structural types only, so it works with the core's sessions and writers
// (a Node agent next to the backend) as well as with this client's (an agent behind the gateway).
import type { UIMessageChunk } from 'ai';
import type { Observable } from 'rxjs';
import type { ControlMessage, EventInput, JsonValue, StartPosition } from '@durable-sessions/core';
import { chatChunkEvent, isChatStop, isRunEnd, CHAT_STOP } from './protocol.js';

/** A coalescing writer: `session.writer()` of the core or of this client. */
export interface ChatWriterSink {
  write(event: EventInput): Promise<unknown>;
  flush(): Promise<void>;
  /** Events written and not yet durable (used to bound memory when the store is slower than the model). */
  readonly pending?: number;
}

/** A session (core or client): the pipe makes a writer of it when it can, else appends one event at a time. */
export interface ChatAppendSink {
  append(event: EventInput): Promise<unknown>;
  writer?: () => ChatWriterSink & { close(): Promise<void> };
}

/** Where a run's chunks go: a writer (preferred: coalesced, idempotent) or a session. */
export type ChatSink = ChatWriterSink | ChatAppendSink;

/** Options of {@link pipeUIMessageStreamToSession}. */
export interface PipeOptions {
  /** The run id stamped on every chunk (one assistant message per run). */
  runId: string;
  /** Stops the run: reading ends, the source is cancelled and an `abort` chunk ends the run. */
  signal?: AbortSignal;
  /** The user message this run answers (lets a sender tell its answer from a concurrent run). */
  replyTo?: string;
  /** Writes buffered before the pipe waits for the store. @default 1024 */
  maxPending?: number;
}

/** How a piped run ended. */
export interface PipeResult {
  runId: string;
  /** Chunks written, the closing one included. */
  chunks: number;
  /** The chunk type that ended the run. */
  end: 'finish' | 'abort' | 'error';
  /** What the source threw, when it failed. */
  error?: unknown;
}

// Chunks are stored as JSON: drop `undefined`, turn dates into strings, now rather than at the store.
function toJson(chunk: UIMessageChunk): UIMessageChunk {
  return JSON.parse(JSON.stringify(chunk)) as UIMessageChunk;
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

// Reads either kind of source; `onCancel` receives a way to cancel it from outside (an abort while a read waits).
// Leaving the loop early cancels the source too, so a model stream never keeps running unread.
async function* iterate<T>(source: ReadableStream<T> | AsyncIterable<T>, onCancel: (cancel: () => Promise<void>) => void): AsyncGenerator<T> {
  if (!('getReader' in source)) {
    const it = source[Symbol.asyncIterator]();
    let done = false;
    onCancel(async () => void (await it.return?.()));
    try {
      for (;;) {
        const next = await it.next();
        if (next.done) return void (done = true);
        yield next.value;
      }
    } finally {
      if (!done) await it.return?.();
    }
  }
  const reader = source.getReader();
  let done = false;
  onCancel(() => reader.cancel());
  try {
    for (;;) {
      const next = await reader.read();
      if (next.done) return void (done = true);
      yield next.value;
    }
  } finally {
    if (!done) await reader.cancel().catch(() => {});
    reader.releaseLock();
  }
}

/**
 * Writes a UI message stream (`streamText(...).toUIMessageStream()`) into a chat session, one `chat.chunk` event
 * per chunk, and resolves once every chunk is durable. The run always has a beginning and an end that clients can
 * rely on: a `start` chunk (carrying `messageId`, the run id unless the source chose one) comes first, and a
 * `finish`, `abort` (when `signal` fired) or `error` (when the source threw) chunk comes last.
 *
 * ```ts
 * const controller = new AbortController();
 * const result = streamText({ model, messages, abortSignal: controller.signal });
 * await pipeUIMessageStreamToSession(result.toUIMessageStream(), session.writer(), { runId, signal: controller.signal });
 * ```
 */
export async function pipeUIMessageStreamToSession(
  stream: ReadableStream<UIMessageChunk> | AsyncIterable<UIMessageChunk>,
  sink: ChatSink,
  options: PipeOptions,
): Promise<PipeResult> {
  const { runId, signal, replyTo } = options;
  const maxPending = Math.max(1, options.maxPending ?? 1024);
  let ownWriter: (ChatWriterSink & { close(): Promise<void> }) | undefined;
  let writer: ChatWriterSink | undefined;
  if ('write' in sink && typeof sink.write === 'function') writer = sink;
  else if ('writer' in sink && typeof sink.writer === 'function') writer = ownWriter = sink.writer();
  const appendSink = writer ? undefined : (sink as ChatAppendSink);

  let failure: unknown;
  let chunks = 0;
  const put = async (chunk: UIMessageChunk): Promise<void> => {
    chunks++;
    const event = chatChunkEvent(runId, chunk, replyTo);
    if (!writer) {
      await appendSink!.append(event);
      return;
    }
    // Fire and forget keeps tokens coalescing; a failure stops the pipe at the next chunk.
    writer.write(event).catch((err: unknown) => (failure ??= err));
    if ((writer.pending ?? 0) >= maxPending) await writer.flush();
  };

  let cancelSource: (() => Promise<void>) | undefined;
  const onAbort = () => void cancelSource?.().catch(() => {});
  signal?.addEventListener('abort', onAbort, { once: true });
  let end: PipeResult['end'] | undefined;
  let error: unknown;
  try {
    let started = false;
    try {
      for await (const raw of iterate(stream, (cancel) => (cancelSource = cancel))) {
        if (failure !== undefined) throw failure;
        if (signal?.aborted) break;
        let chunk = toJson(raw);
        if (!started) {
          started = true;
          if (chunk.type !== 'start') await put({ type: 'start', messageId: runId });
          else if (chunk.messageId == null) chunk = { ...chunk, messageId: runId };
        }
        await put(chunk);
        if (isRunEnd(chunk)) {
          end = chunk.type as PipeResult['end'];
          break;
        }
      }
    } catch (err) {
      if (failure !== undefined && err === failure) throw err;
      error = err;
    }
    if (end === undefined) {
      if (!started) await put({ type: 'start', messageId: runId });
      if (signal?.aborted) {
        end = 'abort';
        await put({ type: 'abort', ...(typeof signal.reason === 'string' ? { reason: signal.reason } : {}) });
      } else if (error !== undefined) {
        end = 'error';
        await put({ type: 'error', errorText: errorText(error) });
      } else {
        end = 'finish';
        await put({ type: 'finish' });
      }
    }
    if (writer) await writer.flush();
    if (failure !== undefined) throw failure;
  } finally {
    signal?.removeEventListener('abort', onAbort);
    await ownWriter?.close().catch(() => {});
  }
  const result: PipeResult = { runId, chunks, end };
  if (error !== undefined) result.error = error;
  return result;
}

/** A `chat.stop` control message, as {@link onChatStop} hands it over. */
export interface ChatStopRequest {
  /** The run to stop; `undefined` means every run in progress. */
  runId?: string;
  /** The control message (for its offset). */
  message: ControlMessage;
}

/** What {@link onChatStop} needs of a session: its control channel (a core or a client session fits). */
export interface ChatControlSource {
  control: {
    subscribe(options: { from: StartPosition; signal?: AbortSignal }): Observable<ControlMessage>;
    ack(message: ControlMessage | string, data?: JsonValue): Promise<string>;
  };
}

/** Options of {@link onChatStop}. */
export interface OnChatStopOptions {
  /** Where to start reading control messages (strictly after an offset). @default 'now' */
  from?: StartPosition;
  /** Called when a handler or an ack fails (the listener keeps going). */
  onError?: (err: unknown) => void;
}

/**
 * Listens for `chat.stop` control messages and acknowledges each once `handler` has finished: make the handler
 * resolve when generation has really stopped (e.g. after aborting the run and awaiting its pipe), so the `$ack`
 * a page waits for means "stopped". The ack's data is what the handler returns, or
 * `{ runId, stopped: true }` (`stopped: false` with `error` if the handler threw). Returns a function that stops
 * listening.
 *
 * ```ts
 * const off = onChatStop(session, async ({ runId }) => {
 *   const run = runs.get(runId ?? current);
 *   run?.controller.abort();
 *   await run?.done; // the pipe has written its `abort` chunk
 * });
 * ```
 */
export function onChatStop(
  session: ChatControlSource,
  handler: (stop: ChatStopRequest) => JsonValue | void | Promise<JsonValue | void>,
  options: OnChatStopOptions = {},
): () => void {
  const ac = new AbortController();
  const report = (err: unknown) => options.onError?.(err);
  const subscription = session.control.subscribe({ from: options.from ?? 'now', signal: ac.signal }).subscribe({
    next: (message) => {
      const data = message.data;
      // Accept a bare `chat.stop` message type too, whatever its data.
      if (!isChatStop(data) && message.type !== CHAT_STOP) return;
      const runId = isChatStop(data) ? data.runId : undefined;
      const request: ChatStopRequest = runId === undefined ? { message } : { runId, message };
      void (async () => {
        let ackData: JsonValue;
        try {
          const answer = await handler(request);
          ackData = answer === undefined ? { runId: runId ?? null, stopped: true } : answer;
        } catch (err) {
          report(err);
          ackData = { runId: runId ?? null, stopped: false, error: errorText(err) };
        }
        await session.control.ack(message, ackData).catch(report);
      })();
    },
    error: report,
  });
  return () => {
    subscription.unsubscribe();
    ac.abort();
  };
}
