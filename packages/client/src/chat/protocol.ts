// The AI-chat protocol over a durable session: one session per chat (session id = chat id), holding the user's
// turns and the agent's UI-message-stream chunks as events; stopping a run is a control message.
// Types from `ai` are imported as types only: nothing of the AI SDK reaches the bundle.
import type { UIMessage, UIMessageChunk } from 'ai';
import type { EventInput, JsonValue } from '@durable-sessions/core';

/** Event type (and `data.type`) of a user turn. */
export const CHAT_USER = 'chat.user';
/** Event type (and `data.type`) of one chunk of agent output. */
export const CHAT_CHUNK = 'chat.chunk';
/** Control message type (and `data.type`) asking the agent to stop a run. */
export const CHAT_STOP = 'chat.stop';

/** Chunk types that end a run. A `finish-step` does not: a run may have many steps (tool calls in between). */
export const RUN_END_CHUNK_TYPES: readonly string[] = ['finish', 'abort', 'error'];

/** A user turn, appended by the transport (or by the page). A message whose id is already in the chat replaces it and everything after it (an edit, or a regeneration). */
export interface ChatUserData<MESSAGE extends UIMessage = UIMessage> {
  type: typeof CHAT_USER;
  /** The user message, as `useChat` holds it. */
  message: MESSAGE;
}

/** One chunk of the agent's output; a run is every chunk with one `runId`, ending with `finish`, `abort` or `error`. */
export interface ChatChunkData {
  type: typeof CHAT_CHUNK;
  /** The run this chunk belongs to (one assistant message per run). */
  runId: string;
  /** One UI-message-stream chunk, as `streamText(...).toUIMessageStream()` produces it. */
  chunk: UIMessageChunk;
  /** Optional: the id of the user message this run answers (lets a sender tell its answer from a concurrent run). */
  replyTo?: string;
}

/** The data of a `chat.stop` control message: stop `runId`, or every active run when it is absent. */
export interface ChatStopData {
  type: typeof CHAT_STOP;
  /** The run to stop; absent means every run in progress. */
  runId?: string;
}

/** The data of any chat event in the event log. */
export type ChatEventData<MESSAGE extends UIMessage = UIMessage> = ChatUserData<MESSAGE> | ChatChunkData;

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Uint8Array);
}

/** True when an event's `data` is a user turn. */
export function isChatUser<MESSAGE extends UIMessage = UIMessage>(data: unknown): data is ChatUserData<MESSAGE> {
  return isObject(data) && data.type === CHAT_USER && isObject(data.message) && typeof data.message.id === 'string' && Array.isArray(data.message.parts);
}

/** True when an event's `data` is a chunk of agent output. */
export function isChatChunk(data: unknown): data is ChatChunkData {
  return isObject(data) && data.type === CHAT_CHUNK && typeof data.runId === 'string' && isObject(data.chunk) && typeof data.chunk.type === 'string';
}

/** True when a control message's `data` asks to stop a run. */
export function isChatStop(data: unknown): data is ChatStopData {
  return isObject(data) && data.type === CHAT_STOP && (data.runId === undefined || typeof data.runId === 'string');
}

/** True when `chunk` ends its run (`finish`, `abort` or `error`); `finish-step` does not. */
export function isRunEnd(chunk: { type: string }): boolean {
  return RUN_END_CHUNK_TYPES.includes(chunk.type);
}

// UI messages and chunks are JSON by construction, but their TypeScript types are not `JsonValue`.
const asJson = (value: unknown): JsonValue => value as JsonValue;

/** The event to append for a user turn: `{ type: 'chat.user', data: { type: 'chat.user', message } }`. */
export function chatUserEvent(message: UIMessage): EventInput {
  const data: ChatUserData = { type: CHAT_USER, message };
  return { type: CHAT_USER, data: asJson(data) };
}

/** The event to append for one chunk of a run: `{ type: 'chat.chunk', data: { type: 'chat.chunk', runId, chunk } }`. */
export function chatChunkEvent(runId: string, chunk: UIMessageChunk, replyTo?: string): EventInput {
  const data: ChatChunkData = { type: CHAT_CHUNK, runId, chunk };
  if (replyTo !== undefined) data.replyTo = replyTo;
  return { type: CHAT_CHUNK, data: asJson(data) };
}

/** The control message that stops `runId` (or every active run): send it with `session.control.send(...)`. */
export function chatStopMessage(runId?: string): EventInput {
  const data: ChatStopData = runId === undefined ? { type: CHAT_STOP } : { type: CHAT_STOP, runId };
  return { type: CHAT_STOP, data: asJson(data) };
}
