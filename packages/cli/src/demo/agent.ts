import { randomUUID } from 'node:crypto';
import { connect, type DurableSession, type JsonValue, type PresenceOptions, type SessionStore } from '@durable-sessions/core';
import { convertToModelMessages, stepCountIs, streamText, tool, type LanguageModel, type UIMessage, type UIMessageChunk } from 'ai';
import type { Subscription } from 'rxjs';
import { z } from 'zod';
import { ChatFold, chatChunkEvent, isChatUser, onChatStop, pipeUIMessageStreamToSession, type ChatWriterSink } from '@durable-sessions/client';
import { createMockModel, DOCS, LOOKUP_TOOL } from './mock-model.js';
import type { ChatStopAck } from './stop-ack.js';

/** Options of {@link startAgent}. */
export interface DemoAgentOptions {
  /** The backend URL (the same the gateway serves). */
  url: string;
  /** The language model: the deterministic mock by default, or any AI SDK model (`'openai/gpt-4o-mini'` via the AI Gateway). */
  model?: LanguageModel;
  /** Delay between the mock model's tokens, in ms. @default 40 */
  tokenMs?: number;
  /** Presence timing: how soon a crashed agent shows as gone. */
  presence?: PresenceOptions;
  /** Progress and errors, one line each. */
  log?: (line: string) => void;
}

/** A running demo agent. */
export interface DemoAgent {
  /** Starts answering the chat session `sessionId` (idempotent): joins its presence and follows its user turns. */
  watch(sessionId: string): void;
  /**
   * Stops. `crash: true` simulates a killed process: nothing more is written, presence is not left (the agent shows
   * as gone only when its heartbeats time out). Otherwise runs are aborted and presence is left at once.
   */
  close(options?: { crash?: boolean }): Promise<void>;
}

/** Presence data the agent publishes; the page tells it from viewers by `role`. */
export interface AgentPresence {
  role: 'agent';
  name: string;
  status: 'idle' | 'thinking' | 'streaming';
  [key: string]: JsonValue;
}

const SYSTEM = 'You are the Durable Sessions demo agent. Look up the relevant topic with lookupDocs, then answer in a short paragraph.';

/** The agent's tools: one lookup, so every run has two steps (tool call, then the answer). */
const tools = {
  [LOOKUP_TOOL]: tool({
    description: 'Looks up a topic in the Durable Sessions notes.',
    inputSchema: z.object({ topic: z.enum(['resume', 'tabs', 'stop', 'presence', 'general']) }),
    execute: async ({ topic }) => ({ topic, fact: DOCS[topic] ?? DOCS.general! }),
  }),
};

/**
 * Starts the demo agent: for every chat session it watches, it enters presence, replays the history, and answers
 * each user turn with the AI SDK's `streamText`, piping the UI message chunks into the session through the core's
 * coalescing writer (the client package's `pipeUIMessageStreamToSession`). A `chat.stop` control message aborts
 * the run; the agent acknowledges it (`onChatStop`) once the run's `abort` chunk is durable.
 */
export async function startAgent(options: DemoAgentOptions): Promise<DemoAgent> {
  const store = await connect(options.url, { clientId: 'agent', ...(options.presence ? { presence: options.presence } : {}) });
  const model = options.model ?? createMockModel(options.tokenMs === undefined ? {} : { tokenMs: options.tokenMs });
  const log = options.log ?? (() => {});
  const workers = new Map<string, ChatWorker>();
  let closed = false;
  return {
    watch(sessionId) {
      if (closed || workers.has(sessionId)) return;
      const worker = new ChatWorker(store, sessionId, model, log);
      workers.set(sessionId, worker);
      worker.start().catch((err: unknown) => log(`agent: ${sessionId}: ${(err as Error).message}`));
    },
    async close({ crash = false } = {}) {
      if (closed) return;
      closed = true;
      await Promise.allSettled([...workers.values()].map((w) => w.close(crash)));
      await store.close();
    },
  };
}

interface Run {
  readonly runId: string;
  readonly abort: AbortController;
  tokens: number;
  done: Promise<void>;
}

/** One chat session the agent serves: its conversation, its queue of user turns, and the run in progress. */
class ChatWorker {
  private readonly session: DurableSession;
  /** The conversation as the model sees it, folded from the session with the client's chat fold. */
  private readonly fold = new ChatFold();
  private readonly queue: UIMessage[] = [];
  private subscription: Subscription | undefined;
  private offStop: (() => void) | undefined;
  private current: Run | undefined;
  private draining = false;
  private stopped = false;
  private crashed = false;
  private status: AgentPresence['status'] = 'idle';

  constructor(
    store: SessionStore,
    readonly sessionId: string,
    private readonly model: LanguageModel,
    private readonly log: (line: string) => void,
  ) {
    this.session = store.session(sessionId);
  }

  async start(): Promise<void> {
    await this.session.presence.enter(this.presence('idle'));
    // Replay the history first: a user turn nobody answered yet (the agent was down) is answered now; runs that a
    // crashed agent left without an end are closed with an error, so pages stop waiting for them.
    let from = 'start';
    for (;;) {
      const page = await this.session.read({ from, limit: 1000 });
      for (const event of page.events) this.fold.apply(event);
      from = page.next;
      if (page.upToDate || page.events.length === 0) break;
    }
    const history = this.fold.result;
    for (const run of history.runs) {
      if (run.status === 'active') await this.session.append(chatChunkEvent(run.runId, { type: 'error', errorText: 'The agent stopped before this run ended.' }));
    }
    const last = history.messages.at(-1);
    const unanswered = last?.role === 'user' && !history.runs.some((r) => r.replyTo === last.id) ? last : undefined;
    if (this.stopped) return;
    this.subscription = this.session.subscribe({ from }).subscribe({
      next: (event) => {
        this.fold.apply(event);
        if (isChatUser(event.data)) this.enqueue(event.data.message);
      },
      error: (err: unknown) => this.log(`agent: ${this.sessionId}: subscription failed: ${(err as Error).message}`),
    });
    this.offStop = onChatStop(this.session, (stop) => this.stop(stop.runId), {
      onError: (err) => this.log(`agent: ${this.sessionId}: stop: ${(err as Error).message}`),
    });
    if (unanswered) this.enqueue(unanswered);
  }

  async close(crash: boolean): Promise<void> {
    this.stopped = true;
    this.crashed = crash;
    this.subscription?.unsubscribe();
    this.offStop?.();
    this.current?.abort.abort();
    if (!crash) await this.current?.done;
    await this.session.close({ leave: !crash });
  }

  private presence(status: AgentPresence['status']): AgentPresence {
    return { role: 'agent', name: 'Demo agent', status };
  }

  private setStatus(status: AgentPresence['status']): void {
    if (this.status === status || this.stopped) return;
    this.status = status;
    this.session.presence.update(this.presence(status)).catch(() => {});
  }

  /** Stops the run in progress (or `runId`); resolves once its `abort` chunk is durable, with the acknowledgement. */
  private async stop(runId: string | undefined): Promise<ChatStopAck> {
    const run = this.current;
    if (!run || (runId !== undefined && runId !== run.runId)) return { runId: runId ?? null, stopped: false, afterTokens: 0 };
    run.abort.abort();
    await run.done;
    return { runId: run.runId, stopped: true, afterTokens: run.tokens };
  }

  private enqueue(message: UIMessage): void {
    this.queue.push(message);
    if (this.draining) return;
    this.draining = true;
    void (async () => {
      try {
        while (this.queue.length > 0 && !this.stopped) await this.run(this.queue.shift()!);
      } finally {
        this.draining = false;
      }
    })();
  }

  private async run(userMessage: UIMessage): Promise<void> {
    const runId = `run-${randomUUID().slice(0, 8)}`;
    const abort = new AbortController();
    let finished!: () => void;
    const run: Run = { runId, abort, tokens: 0, done: new Promise<void>((resolve) => (finished = resolve)) };
    this.current = run;
    this.setStatus('thinking');
    const writer = this.session.writer({ lingerMs: 10 });
    // A crashed agent writes nothing more: the sink swallows what the pipe would still write.
    const sink: ChatWriterSink = {
      write: (event) => (this.crashed ? Promise.resolve('') : writer.write(event)),
      flush: () => (this.crashed ? Promise.resolve() : writer.flush()),
      get pending() {
        return writer.pending;
      },
    };
    try {
      // The conversation up to this turn (later turns are queued behind this run).
      const messages = this.fold.result.messages;
      const upTo = messages.findIndex((m) => m.id === userMessage.id);
      const history = (upTo >= 0 ? messages.slice(0, upTo + 1) : [...messages, userMessage]).filter((m) => m.parts.length > 0);
      const result = streamText({
        model: this.model,
        system: SYSTEM,
        messages: await convertToModelMessages(history, { ignoreIncompleteToolCalls: true }),
        tools,
        stopWhen: stepCountIs(4),
        abortSignal: abort.signal,
      });
      const counted = result.toUIMessageStream({ onError: (err) => (err instanceof Error ? err.message : String(err)) }).pipeThrough(
        new TransformStream<UIMessageChunk, UIMessageChunk>({
          transform: (chunk, controller) => {
            if (chunk.type === 'text-delta') {
              run.tokens++;
              this.setStatus('streaming');
            }
            controller.enqueue(chunk);
          },
        }),
      );
      // Every run ends with finish, abort or error (the pipe guarantees it), so pages never wait forever.
      const piped = await pipeUIMessageStreamToSession(counted, sink, { runId, signal: abort.signal, replyTo: userMessage.id });
      if (piped.error !== undefined) this.log(`agent: run ${runId} failed: ${String(piped.error)}`);
    } catch (err) {
      this.log(`agent: run ${runId} failed: ${(err as Error).message}`);
    } finally {
      if (!this.crashed) await writer.close().catch((err: unknown) => this.log(`agent: writer: ${(err as Error).message}`));
      this.current = undefined;
      this.setStatus('idle');
      finished();
    }
  }
}
