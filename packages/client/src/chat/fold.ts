// Rebuilds a conversation from a chat session's history: the same fold on the page (after a reload), in the
// transport (to find the run to reconnect to) and in the agent (to build the model's prompt).
import type { UIMessage, UIMessageChunk } from 'ai';
import type { StartPosition } from '@durable-sessions/core';
import { applyChunk, createMessageState, type MessageState } from './message-state.js';
import { isChatChunk, isChatUser, isRunEnd } from './protocol.js';

/** How a run ended, or `active` while it streams. */
export type ChatRunStatus = 'active' | 'finished' | 'aborted' | 'error';

/** One run (one assistant message) as the fold saw it. */
export interface ChatRun {
  /** The run id of its chunks. */
  runId: string;
  /** The id of the assistant message it builds (the `start` chunk's `messageId`, else the run id). */
  messageId: string;
  /** `active` until a `finish`, `abort` or `error` chunk. */
  status: ChatRunStatus;
  /** The offset of the run's first chunk event (when the events carried offsets). */
  startOffset?: string;
  /** Where to subscribe (strictly after) to receive the run from its first chunk: the offset of the event before it, or `'start'`. */
  from: StartPosition;
  /** The offset of the chunk that ended it. */
  endOffset?: string;
  /** The user message it answers: the chunks' `replyTo`, else the last user message before the run started. */
  replyTo?: string;
  /** The `finish` chunk's `finishReason`. */
  finishReason?: string;
  /** The `error` chunk's text. */
  errorText?: string;
}

/** The conversation a history folds into. */
export interface ChatFoldResult<MESSAGE extends UIMessage = UIMessage> {
  /** User and assistant messages in order, the active run's partial message included (copies: safe to keep). */
  messages: MESSAGE[];
  /** Every run still in the conversation, in the order they started. */
  runs: ChatRun[];
  /** The most recent run that has not ended, if any. */
  activeRunId?: string;
  /** The offset of the active run's first chunk event. */
  activeRunStartOffset?: string;
  /** Subscribe strictly after this position to replay the active run from its first chunk. */
  activeRunFrom?: StartPosition;
  /** The id of the active run's assistant message. */
  activeMessageId?: string;
  /** The offset of the last event folded (any type). */
  lastOffset?: string;
}

/** What the fold needs of an event: its `data` (and `offset`, for positions). A `SessionEvent` fits. */
export interface ChatEventLike {
  offset?: string;
  data: unknown;
}

interface RunRecord {
  info: ChatRun;
  state: MessageState;
  dropped: boolean;
}

type Entry = { kind: 'user'; message: UIMessage } | { kind: 'run'; run: RunRecord };

/**
 * An incremental fold of a chat session: `apply` each event in log order (history, then live events) and read
 * `result` whenever the page renders. Non-chat events (`$ack`, your own types) only move `lastOffset`.
 */
export class ChatFold<MESSAGE extends UIMessage = UIMessage> {
  private entries: Entry[] = [];
  private readonly runs = new Map<string, RunRecord>();
  private lastOffset: string | undefined;

  /** Applies one event. Returns true when it changed the conversation. */
  apply(event: ChatEventLike): boolean {
    const previous = this.lastOffset;
    if (event.offset !== undefined) this.lastOffset = event.offset;
    const data = event.data;
    if (isChatUser(data)) {
      this.addUser(data.message);
      return true;
    }
    if (!isChatChunk(data)) return false;
    let run = this.runs.get(data.runId);
    if (run?.dropped) return false;
    if (!run) {
      const replyTo = data.replyTo ?? this.lastUserId();
      run = {
        info: { runId: data.runId, messageId: data.runId, status: 'active', from: previous ?? 'start' },
        state: createMessageState(data.runId),
        dropped: false,
      };
      if (event.offset !== undefined) run.info.startOffset = event.offset;
      if (replyTo !== undefined) run.info.replyTo = replyTo;
      this.runs.set(data.runId, run);
      this.entries.push({ kind: 'run', run });
    }
    if (run.info.status !== 'active') return false;
    this.applyRunChunk(run, data.chunk, event.offset);
    return true;
  }

  /** The conversation so far (fresh copies on every read). */
  get result(): ChatFoldResult<MESSAGE> {
    const messages = this.entries.map((e) => structuredClone(e.kind === 'user' ? e.message : e.run.state.message) as MESSAGE);
    const runs = this.entries.flatMap((e) => (e.kind === 'run' ? [{ ...e.run.info }] : []));
    const result: ChatFoldResult<MESSAGE> = { messages, runs };
    const active = [...runs].reverse().find((r) => r.status === 'active');
    if (active) {
      result.activeRunId = active.runId;
      if (active.startOffset !== undefined) result.activeRunStartOffset = active.startOffset;
      result.activeRunFrom = active.from;
      result.activeMessageId = active.messageId;
    }
    if (this.lastOffset !== undefined) result.lastOffset = this.lastOffset;
    return result;
  }

  /** The run `runId`, if it is part of the conversation. */
  run(runId: string): ChatRun | undefined {
    const run = this.runs.get(runId);
    return run && !run.dropped ? { ...run.info } : undefined;
  }

  private addUser(message: UIMessage): void {
    // A message id already in the chat is an edit or a regeneration: it replaces that turn and drops what followed.
    const at = this.entries.findIndex((e) => e.kind === 'user' && e.message.id === message.id);
    if (at !== -1) {
      for (const e of this.entries.splice(at)) if (e.kind === 'run') e.run.dropped = true;
    }
    this.entries.push({ kind: 'user', message });
  }

  private lastUserId(): string | undefined {
    for (let i = this.entries.length - 1; i >= 0; i--) {
      const e = this.entries[i]!;
      if (e.kind === 'user') return e.message.id;
    }
    return undefined;
  }

  private applyRunChunk(run: RunRecord, chunk: UIMessageChunk, offset: string | undefined): void {
    applyChunk(run.state, chunk);
    run.info.messageId = run.state.message.id;
    if (!isRunEnd(chunk)) return;
    run.info.status = chunk.type === 'finish' ? 'finished' : chunk.type === 'abort' ? 'aborted' : 'error';
    if (offset !== undefined) run.info.endOffset = offset;
    if (chunk.type === 'finish' && run.state.finishReason !== undefined) run.info.finishReason = run.state.finishReason;
    if (chunk.type === 'error') run.info.errorText = chunk.errorText;
  }
}

/**
 * Folds a chat session's events (from its start, in log order) into the conversation: every message as `useChat`
 * would hold it, and the run still streaming, if any, with the position to replay it from.
 *
 * ```ts
 * const { events } = await session.read({ from: 'start' }); // or collect every page
 * const { messages, activeRunId } = foldChat(events);
 * ```
 */
export function foldChat<MESSAGE extends UIMessage = UIMessage>(events: Iterable<ChatEventLike>): ChatFoldResult<MESSAGE> {
  const fold = new ChatFold<MESSAGE>();
  for (const event of events) fold.apply(event);
  return fold.result;
}
