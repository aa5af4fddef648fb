import { simulateReadableStream } from 'ai';
import { MockLanguageModelV3 } from 'ai/test';

/** The stream parts a language model emits (the provider spec's type, reached through the mock's constructor). */
type DoStream = Extract<NonNullable<ConstructorParameters<typeof MockLanguageModelV3>[0]>['doStream'], (...args: never[]) => unknown>;
type CallOptions = Parameters<DoStream>[0];
type StreamResult = Awaited<ReturnType<DoStream>>;
type StreamPart = StreamResult['stream'] extends ReadableStream<infer P> ? P : never;

/** The demo agent's one tool: the mock model calls it in its first step. */
export const LOOKUP_TOOL = 'lookupDocs';

/** What `lookupDocs` knows: one short fact per topic, so the answer is deterministic and testable. */
export const DOCS: Readonly<Record<string, string>> = {
  resume:
    'a client that reconnects subscribes strictly after the last offset it rendered, so nothing is lost and nothing is repeated',
  tabs: 'every tab and device subscribes to the same append-only session, so a second tab replays the whole answer and follows it live',
  stop: 'Stop is a durable control message on the session; the agent aborts the model call and appends an acknowledgement',
  presence: 'presence lists the viewers and the agent; a crashed agent stops its heartbeats and shows as gone after the timeout',
  general:
    'the agent appends every token to a durable, offset-addressed session through a coalescing writer, and clients subscribe from an offset',
};

/** Picks the documentation topic a question is about (what the mock model "decides" to look up). */
export function topicOf(question: string): string {
  const q = question.toLowerCase();
  if (/reload|resum|drop|network|reconnect/.test(q)) return 'resume';
  if (/tab|device|continu/.test(q)) return 'tabs';
  if (/stop|cancel|abort/.test(q)) return 'stop';
  if (/presence|who|crash|agent/.test(q)) return 'presence';
  return 'general';
}

/**
 * The full text the mock model answers `question` with, in its second step (after the tool result). Tests compare
 * the page with it: every token exactly once, in order.
 */
export function mockAnswer(question: string): string {
  const topic = topicOf(question);
  const fact = DOCS[topic] ?? DOCS.general!;
  const echo = question.trim().replace(/\s+/g, ' ').slice(0, 80);
  return (
    `You asked: "${echo}". I looked up "${topic}" in the Durable Sessions notes: ${fact}. ` +
    'This answer is being written token by token into the session log, not into this page: reload the page, open ' +
    'a second tab or drop the network and the text continues from the last offset you saw, with nothing lost or ' +
    'repeated. Press Stop and the agent aborts the model call, then acknowledges through the control channel. ' +
    'Each step of a run ends with a step finish, but only the final finish, abort or error chunk ends the run.'
  );
}

/** Splits text into model-like tokens: words with their leading space, punctuation on its own. */
export function tokenize(text: string): string[] {
  return text.match(/\s*[\w'’-]+|\s*[^\w\s]|\s+$/g) ?? [];
}

const USAGE = {
  inputTokens: { total: 20, noCache: 20, cacheRead: undefined, cacheWrite: undefined },
  outputTokens: { total: 0, text: 0, reasoning: undefined },
} as const;

/** The last user message's text in a model prompt. */
function lastUserText(options: CallOptions): string {
  for (let i = options.prompt.length - 1; i >= 0; i--) {
    const message = options.prompt[i]!;
    if (message.role !== 'user') continue;
    return message.content.map((part) => (part.type === 'text' ? part.text : '')).join('');
  }
  return '';
}

/** Options of {@link createMockModel}. */
export interface MockModelOptions {
  /** Delay between streamed tokens, in ms. @default 40 */
  tokenMs?: number;
}

/**
 * A deterministic two-step language model (the AI SDK's `MockLanguageModelV3`): step 1 calls `lookupDocs` with the
 * question's topic; step 2, given the tool result, streams {@link mockAnswer} token by token. Real `streamText`
 * runs it, so tool execution, step boundaries and abort behave as with a real provider.
 */
export function createMockModel(options: MockModelOptions = {}): MockLanguageModelV3 {
  const tokenMs = options.tokenMs ?? 40;
  return new MockLanguageModelV3({
    provider: 'durable-sessions-demo',
    modelId: 'mock-two-step',
    doStream: async (call) => {
      const question = lastUserText(call);
      const afterTool = call.prompt.at(-1)?.role === 'tool';
      const chunks: StreamPart[] = [{ type: 'stream-start', warnings: [] }];
      if (!afterTool) {
        const input = JSON.stringify({ topic: topicOf(question) });
        chunks.push(
          { type: 'tool-input-start', id: 'call-1', toolName: LOOKUP_TOOL },
          { type: 'tool-input-delta', id: 'call-1', delta: input },
          { type: 'tool-input-end', id: 'call-1' },
          { type: 'tool-call', toolCallId: 'call-1', toolName: LOOKUP_TOOL, input },
          { type: 'finish', finishReason: { unified: 'tool-calls', raw: 'tool_calls' }, usage: USAGE },
        );
      } else {
        const tokens = tokenize(mockAnswer(question));
        chunks.push({ type: 'text-start', id: 'text-1' });
        for (const delta of tokens) chunks.push({ type: 'text-delta', id: 'text-1', delta });
        chunks.push(
          { type: 'text-end', id: 'text-1' },
          { type: 'finish', finishReason: { unified: 'stop', raw: 'stop' }, usage: { ...USAGE, outputTokens: { total: tokens.length, text: tokens.length, reasoning: undefined } } },
        );
      }
      return { stream: simulateReadableStream({ chunks, initialDelayInMs: tokenMs, chunkDelayInMs: tokenMs }) };
    },
  });
}
