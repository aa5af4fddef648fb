// A Vercel AI SDK `ChatTransport` over durable sessions: `useChat` sends through the session and reads the agent's
// run from it, so a reload, a second tab or a dropped socket picks the stream up where it is.
import type { ChatTransport, UIMessage, UIMessageChunk } from 'ai';
import type { Observable } from 'rxjs';
import type { ControlReceipt, EventInput, ProducerStamp, SessionEvent, StartPosition } from '@durable-sessions/core';
import type { DurableSessionsClient } from '../client.js';
import { DurableSessionError } from '../errors.js';
import { randomId } from '../wire.js';
import { readChat, type ChatHistorySource } from './history.js';
import { chatStopMessage, chatUserEvent, isChatChunk, isChatUser, isRunEnd } from './protocol.js';

/** What the transport needs of a session (a client session fits; so does a core session in Node). */
export interface ChatTransportSession extends ChatHistorySource {
  append(event: EventInput, options?: { producer?: ProducerStamp }): Promise<string>;
  subscribe(options: { from: StartPosition; signal?: AbortSignal }): Observable<SessionEvent>;
  control: { send(message: EventInput): Promise<ControlReceipt> };
}

/** A stop the transport sent for a run, with the receipt to wait for the agent's acknowledgement. */
export interface ChatStopSent {
  chatId: string;
  runId: string;
  /** `await receipt.acknowledged()` resolves with the agent's `$ack` once generation has stopped. */
  receipt: ControlReceipt;
}

/** Options of {@link createDurableChatTransport}: give `client` or `session`. */
export interface DurableChatTransportOptions {
  /** The client: the chat's session is `client.session(chatId)`. */
  client?: DurableSessionsClient;
  /** Or the session of a chat, from its id (another naming scheme, a core session in Node…). */
  session?: (chatId: string) => ChatTransportSession | Promise<ChatTransportSession>;
  /** Called when an aborted request has sent `chat.stop` for its run (to show the agent's acknowledgement). */
  onStop?: (stop: ChatStopSent) => void;
  /**
   * After a stop, how long the stream waits for the run's closing chunk (or, when the run has not started, for
   * it to start) before it gives up and closes. @default 30000
   */
  stopTimeoutMs?: number;
}

/** The transport, with its options' helpers. */
export interface DurableChatTransport<MESSAGE extends UIMessage = UIMessage> extends ChatTransport<MESSAGE> {
  /** Always true: a reconnect replays the run from its first chunk (`useChat` resets the partial message first). */
  readonly resumeStreamIsReplay: true;
}

/** Which chunks a followed stream delivers. */
interface Follow {
  session: ChatTransportSession;
  chatId: string;
  from: StartPosition;
  /** A run known up front (reconnect), or undefined to pick the first run that answers `replyTo`. */
  runId?: string;
  /** The user message whose answer to pick when `runId` is not known. */
  replyTo?: string;
  abortSignal?: AbortSignal;
}

/**
 * Creates a `ChatTransport` for `useChat` / `Chat` that speaks the chat protocol over a durable session (session
 * id = chat id):
 *
 * - `sendMessages` appends the new user message as a `chat.user` event (once, even when retried) and streams the
 *   `chat.chunk`s of the run that answers it, until its `finish`, `abort` or `error` chunk;
 * - `reconnectToStream` replays the run still streaming from its first chunk and follows it live (or `null`);
 * - aborting a request (`stop()`) sends `chat.stop` for its run over the control channel; a dropped connection
 *   does not: the client resumes from the last offset, and the agent keeps going.
 *
 * ```ts
 * const transport = createDurableChatTransport({ client });
 * const { messages } = await readChat(client.session(chatId));
 * const chat = useChat({ id: chatId, messages, transport, resume: true });
 * ```
 */
export function createDurableChatTransport<MESSAGE extends UIMessage = UIMessage>(options: DurableChatTransportOptions): DurableChatTransport<MESSAGE> {
  const { client } = options;
  const factory = options.session;
  if (!client && !factory) throw new DurableSessionError('INVALID_ARGUMENT', 'createDurableChatTransport needs `client` or `session`.');
  const stopTimeoutMs = options.stopTimeoutMs ?? 30_000;
  const sessionOf = async (chatId: string): Promise<ChatTransportSession> => (factory ? factory(chatId) : client!.session(chatId));

  function follow(f: Follow): ReadableStream<UIMessageChunk> {
    const ac = new AbortController();
    let runId = f.runId;
    let lastUser = f.replyTo;
    let consumerGone = false;
    let ended = false;
    let stopRequested = false;
    let stopSent = false;
    let stopTimer: ReturnType<typeof setTimeout> | undefined;
    let controller!: ReadableStreamDefaultController<UIMessageChunk>;

    const finish = (err?: unknown) => {
      if (ended) return;
      ended = true;
      clearTimeout(stopTimer);
      f.abortSignal?.removeEventListener('abort', onAbort);
      ac.abort();
      if (consumerGone) return;
      if (err === undefined) controller.close();
      else controller.error(err);
    };
    const sendStop = () => {
      if (stopSent || runId === undefined) return;
      stopSent = true;
      const id = runId;
      f.session.control.send(chatStopMessage(id)).then(
        (receipt) => options.onStop?.({ chatId: f.chatId, runId: id, receipt }),
        // The stop did not reach the session: nothing will end the run on our behalf.
        (err: unknown) => finish(consumerGone ? undefined : err),
      );
    };
    const onAbort = () => {
      stopRequested = true;
      sendStop();
      stopTimer = setTimeout(() => finish(), stopTimeoutMs);
    };

    return new ReadableStream<UIMessageChunk>({
      start(c) {
        controller = c;
        if (f.abortSignal?.aborted) onAbort();
        else f.abortSignal?.addEventListener('abort', onAbort, { once: true });
        f.session.subscribe({ from: f.from, signal: ac.signal }).subscribe({
          next(event) {
            if (ended) return;
            const data = event.data;
            if (isChatUser(data)) {
              lastUser = data.message.id;
              return;
            }
            if (!isChatChunk(data)) return;
            if (runId === undefined) {
              // Ours is the first run that starts after the user turn and answers it; runs that began earlier
              // (their `start` is before our position) or answer another turn are someone else's.
              if (data.chunk.type !== 'start' || (data.replyTo ?? lastUser) !== f.replyTo) return;
              runId = data.runId;
              if (stopRequested) sendStop();
            }
            if (data.runId !== runId) return;
            if (!consumerGone) controller.enqueue(data.chunk);
            if (isRunEnd(data.chunk)) finish();
          },
          error: (err: unknown) => finish(err),
          // The session ended (`$end`): no chunk can follow.
          complete: () => finish(),
        });
      },
      cancel() {
        consumerGone = true;
        // Keep listening only while a stop waits for its run to start.
        if (!(stopRequested && !stopSent)) finish();
      },
    });
  }

  return {
    resumeStreamIsReplay: true,

    async sendMessages({ chatId, messages, trigger, abortSignal }) {
      const message = messages.at(-1);
      if (!message || message.role !== 'user') {
        throw new DurableSessionError('INVALID_ARGUMENT', 'The durable chat transport sends user messages only (the last message must be the user\'s).');
      }
      const session = await sessionOf(chatId);
      const history = await readChat(session);
      let from: string;
      const last = history.lastUser;
      if (trigger === 'submit-message' && last && last.message.id === message.id && sameJson(last.message, message)) {
        // Already in the session (a retry, or the page appended it): answer from where it is.
        from = last.offset;
      } else {
        // A fresh producer per call: a resend after a lost answer is recognised by the gateway and stored once.
        from = await session.append(chatUserEvent(message), { producer: { id: `chat-${randomId()}`, seq: 0 } });
      }
      return follow({ session, chatId, from, replyTo: message.id, abortSignal });
    },

    async reconnectToStream({ chatId, abortSignal }) {
      const session = await sessionOf(chatId);
      const history = await readChat(session);
      if (abortSignal?.aborted) return null;
      if (history.activeRunId !== undefined && history.activeRunFrom !== undefined) {
        return follow({ session, chatId, from: history.activeRunFrom, runId: history.activeRunId, abortSignal });
      }
      // A user turn not answered yet (reloaded before the agent started): wait for its run.
      const last = history.lastUser;
      const lastMessage = history.messages.at(-1);
      if (last && lastMessage?.role === 'user' && lastMessage.id === last.message.id && !history.runs.some((r) => r.replyTo === last.message.id)) {
        return follow({ session, chatId, from: last.offset, replyTo: last.message.id, abortSignal });
      }
      return null;
    },
  };
}

/** Equal as JSON: key order and `undefined` properties do not matter (the stored copy went through JSON). */
function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((item, i) => sameJson(item, b[i]));
  const defined = (o: object) => Object.entries(o).filter(([, v]) => v !== undefined);
  const ea = defined(a);
  const eb = new Map(defined(b));
  return ea.length === eb.size && ea.every(([k, v]) => eb.has(k) && sameJson(v, eb.get(k)));
}
