// Builds one assistant message from its run's chunks, the way the AI SDK's `processUIMessageStream` (behind
// `readUIMessageStream` and `useChat`) does, but synchronously and without the SDK at run time, so a page can
// rebuild a conversation from history in a render and the bundle stays free of the SDK.
import type { UIMessage, UIMessageChunk } from 'ai';

type Part = Record<string, unknown> & { type: string };

interface PartialToolCall {
  text: string;
  toolName: string;
  dynamic: boolean;
  inputEncoding?: string;
  title?: string;
  toolMetadata?: unknown;
}

/** The streaming state of one assistant message. */
export interface MessageState {
  /** The message being built. Mutated in place by {@link applyChunk}. */
  message: UIMessage;
  /** `finishReason` of the `finish` chunk, once seen. */
  finishReason?: string;
  activeText: Map<string, Part>;
  activeReasoning: Map<string, Part>;
  partialTools: Map<string, PartialToolCall>;
}

/** A fresh, empty assistant message with id `id`. */
export function createMessageState(id: string): MessageState {
  return {
    message: { id, role: 'assistant', metadata: undefined, parts: [] },
    activeText: new Map(),
    activeReasoning: new Map(),
    partialTools: new Map(),
  };
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Deep merge of message metadata, as the SDK merges successive `messageMetadata`. */
function mergeMetadata(base: unknown, update: unknown): unknown {
  if (!isPlainObject(base) || !isPlainObject(update)) return update;
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(update)) out[key] = mergeMetadata(base[key], value);
  return out;
}

function parts(state: MessageState): Part[] {
  return state.message.parts as unknown as Part[];
}

/** Parts since the last `step-start`: tool parts are matched within the current step first. */
function currentStepParts(state: MessageState): Part[] {
  const all = parts(state);
  let i = all.length - 1;
  while (i >= 0 && all[i]!.type !== 'step-start') i--;
  return all.slice(i + 1);
}

function isToolPart(part: Part): boolean {
  return part.type === 'dynamic-tool' || part.type.startsWith('tool-');
}

function findTool(state: MessageState, toolCallId: string): Part | undefined {
  const inStep = currentStepParts(state).find((p) => isToolPart(p) && p.toolCallId === toolCallId);
  if (inStep) return inStep;
  return [...parts(state)].reverse().find((p) => isToolPart(p) && p.toolCallId === toolCallId);
}

/** The fields of a tool part update, as the SDK passes them (absent ones reset `input`, `output`, `rawInput`…). */
interface ToolUpdate {
  toolCallId: string;
  toolName: string;
  dynamic: boolean;
  state: string;
  input?: unknown;
  output?: unknown;
  errorText?: unknown;
  rawInput?: unknown;
  inputEncoding?: unknown;
  preliminary?: unknown;
  providerExecuted?: unknown;
  providerMetadata?: unknown;
  title?: unknown;
  toolMetadata?: unknown;
}

/** Creates or updates a tool part (static `tool-<name>` or `dynamic-tool`), field for field as the SDK does. */
function upsertTool(state: MessageState, u: ToolUpdate, known?: Part): void {
  const result = u.state === 'output-available' || u.state === 'output-error';
  const metadata = u.providerMetadata != null ? { [result ? 'resultProviderMetadata' : 'callProviderMetadata']: u.providerMetadata } : {};
  const existing = known ?? currentStepParts(state).find((p) => (u.dynamic ? p.type === 'dynamic-tool' : p.type.startsWith('tool-')) && p.toolCallId === u.toolCallId);
  if (existing) {
    existing.state = u.state;
    if (u.dynamic) existing.toolName = u.toolName;
    else existing.type = `tool-${u.toolName}`;
    existing.input = u.input;
    existing.output = u.output;
    existing.errorText = u.errorText;
    existing.rawInput = u.rawInput;
    if (u.inputEncoding != null) existing.inputEncoding = u.inputEncoding;
    else delete existing.inputEncoding;
    existing.preliminary = u.preliminary;
    if (u.title !== undefined) existing.title = u.title;
    if (u.toolMetadata !== undefined) existing.toolMetadata = u.toolMetadata;
    existing.providerExecuted = u.providerExecuted ?? existing.providerExecuted;
    Object.assign(existing, metadata);
    return;
  }
  const common = {
    toolCallId: u.toolCallId,
    state: u.state,
    input: u.input,
    ...(u.inputEncoding != null ? { inputEncoding: u.inputEncoding } : {}),
    output: u.output,
    errorText: u.errorText,
    preliminary: u.preliminary,
    providerExecuted: u.providerExecuted,
    title: u.title,
    ...(u.toolMetadata !== undefined ? { toolMetadata: u.toolMetadata } : {}),
    ...metadata,
  };
  parts(state).push(u.dynamic ? { type: 'dynamic-tool', toolName: u.toolName, ...common } : { type: `tool-${u.toolName}`, ...common, rawInput: u.rawInput });
}

/** Parses partial tool input when it is complete JSON; otherwise keeps what the part had. */
function partialInput(call: PartialToolCall, previous: unknown): unknown {
  if (call.inputEncoding === 'text') return call.text;
  try {
    return JSON.parse(call.text) as unknown;
  } catch {
    return previous;
  }
}

/**
 * Applies one chunk to the message. Unknown or out-of-order chunks (a delta without its start) are ignored rather
 * than thrown: a history is shown as far as it makes sense.
 */
export function applyChunk(state: MessageState, chunk: UIMessageChunk): void {
  const c = chunk as unknown as Record<string, unknown> & { type: string };
  const all = parts(state);
  switch (c.type) {
    case 'start':
      if (typeof c.messageId === 'string') state.message.id = c.messageId;
      if (c.messageMetadata != null) state.message.metadata = mergeMetadata(state.message.metadata, c.messageMetadata);
      return;
    case 'finish':
      if (typeof c.finishReason === 'string') state.finishReason = c.finishReason;
      if (c.messageMetadata != null) state.message.metadata = mergeMetadata(state.message.metadata, c.messageMetadata);
      return;
    case 'message-metadata':
      if (c.messageMetadata != null) state.message.metadata = mergeMetadata(state.message.metadata, c.messageMetadata);
      return;
    case 'start-step':
      all.push({ type: 'step-start' });
      return;
    case 'finish-step':
      state.activeText.clear();
      state.activeReasoning.clear();
      return;
    case 'text-start': {
      const part: Part = { type: 'text', text: '', providerMetadata: c.providerMetadata, state: 'streaming' };
      state.activeText.set(String(c.id), part);
      all.push(part);
      return;
    }
    case 'reasoning-start': {
      const part: Part = { type: 'reasoning', id: c.id, text: '', providerMetadata: c.providerMetadata, state: 'streaming' };
      state.activeReasoning.set(String(c.id), part);
      all.push(part);
      return;
    }
    case 'text-delta':
    case 'reasoning-delta': {
      const part = (c.type === 'text-delta' ? state.activeText : state.activeReasoning).get(String(c.id));
      if (!part) return;
      part.text = String(part.text) + String(c.delta ?? '');
      if (c.providerMetadata != null) part.providerMetadata = c.providerMetadata;
      return;
    }
    case 'text-end':
    case 'reasoning-end': {
      const active = c.type === 'text-end' ? state.activeText : state.activeReasoning;
      const part = active.get(String(c.id));
      if (!part) return;
      part.state = 'done';
      if (c.providerMetadata != null) part.providerMetadata = c.providerMetadata;
      active.delete(String(c.id));
      return;
    }
    case 'file':
      all.push({ type: 'file', mediaType: c.mediaType, url: c.url, ...(c.providerMetadata != null ? { providerMetadata: c.providerMetadata } : {}) });
      return;
    case 'source-url':
      all.push({ type: 'source-url', sourceId: c.sourceId, url: c.url, title: c.title, providerMetadata: c.providerMetadata });
      return;
    case 'source-document':
      all.push({ type: 'source-document', sourceId: c.sourceId, mediaType: c.mediaType, title: c.title, filename: c.filename, providerMetadata: c.providerMetadata });
      return;
    case 'tool-input-start': {
      const call: PartialToolCall = { text: '', toolName: String(c.toolName), dynamic: c.dynamic === true };
      if (typeof c.inputEncoding === 'string') call.inputEncoding = c.inputEncoding;
      if (typeof c.title === 'string') call.title = c.title;
      if (c.toolMetadata !== undefined) call.toolMetadata = c.toolMetadata;
      state.partialTools.set(String(c.toolCallId), call);
      upsertTool(state, {
        toolCallId: String(c.toolCallId),
        toolName: call.toolName,
        dynamic: call.dynamic,
        state: 'input-streaming',
        inputEncoding: call.inputEncoding,
        providerExecuted: c.providerExecuted,
        title: call.title,
        toolMetadata: call.toolMetadata,
        providerMetadata: c.providerMetadata,
      });
      return;
    }
    case 'tool-input-delta': {
      const call = state.partialTools.get(String(c.toolCallId));
      if (!call) return;
      call.text += String(c.inputTextDelta ?? '');
      const previous = findTool(state, String(c.toolCallId))?.input;
      upsertTool(state, {
        toolCallId: String(c.toolCallId),
        toolName: call.toolName,
        dynamic: call.dynamic,
        state: 'input-streaming',
        inputEncoding: call.inputEncoding,
        input: partialInput(call, previous),
        rawInput: call.text,
        title: call.title,
        toolMetadata: call.toolMetadata,
      });
      return;
    }
    case 'tool-input-available':
      upsertTool(state, {
        toolCallId: String(c.toolCallId),
        toolName: String(c.toolName),
        dynamic: c.dynamic === true,
        state: 'input-available',
        input: c.input,
        providerExecuted: c.providerExecuted,
        providerMetadata: c.providerMetadata,
        title: c.title,
        toolMetadata: c.toolMetadata,
      });
      return;
    case 'tool-input-error': {
      const existing = currentStepParts(state).find((p) => isToolPart(p) && p.toolCallId === c.toolCallId);
      const dynamic = existing ? existing.type === 'dynamic-tool' : c.dynamic === true;
      upsertTool(state, {
        toolCallId: String(c.toolCallId),
        toolName: String(c.toolName),
        dynamic,
        state: 'output-error',
        input: dynamic ? c.input : undefined,
        rawInput: dynamic ? undefined : c.input,
        errorText: c.errorText,
        providerExecuted: c.providerExecuted,
        providerMetadata: c.providerMetadata,
        toolMetadata: c.toolMetadata,
      });
      return;
    }
    case 'tool-approval-request': {
      const part = findTool(state, String(c.toolCallId));
      if (!part) return;
      part.state = 'approval-requested';
      part.approval = {
        id: c.approvalId,
        ...(c.approvalDescriptor != null ? { descriptor: c.approvalDescriptor } : {}),
        ...(Object.prototype.hasOwnProperty.call(c, 'inputSchemaInput') ? { inputSchemaInput: c.inputSchemaInput } : {}),
        ...(c.signature != null ? { signature: c.signature } : {}),
      };
      return;
    }
    case 'tool-output-denied': {
      const part = findTool(state, String(c.toolCallId));
      if (part) part.state = 'output-denied';
      return;
    }
    case 'tool-output-available':
    case 'tool-output-error': {
      const part = findTool(state, String(c.toolCallId));
      if (!part) return;
      const dynamic = part.type === 'dynamic-tool';
      const available = c.type === 'tool-output-available';
      upsertTool(
        state,
        {
          toolCallId: String(c.toolCallId),
          toolName: dynamic ? String(part.toolName) : part.type.slice('tool-'.length),
          dynamic,
          state: available ? 'output-available' : 'output-error',
          input: part.input,
          ...(available ? { output: c.output, preliminary: c.preliminary } : { errorText: c.errorText }),
          ...(!available && !dynamic ? { rawInput: part.rawInput } : {}),
          providerExecuted: c.providerExecuted,
          providerMetadata: c.providerMetadata,
          title: part.title,
          toolMetadata: c.toolMetadata ?? part.toolMetadata,
        },
        part,
      );
      return;
    }
    default:
      if (c.type.startsWith('data-')) {
        if (c.transient === true) return;
        const existing = c.id != null ? all.find((p) => p.type === c.type && p.id === c.id) : undefined;
        if (existing) existing.data = c.data;
        else all.push({ ...c });
      }
  }
}
