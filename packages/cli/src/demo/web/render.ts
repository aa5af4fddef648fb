/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
import type { PresenceMember } from '@durable-sessions/client';
import type { ChatRunStatus } from '@durable-sessions/client';
import type { UIMessage } from 'ai';
import type { ChatStopAck } from '../stop-ack.js';

/** Creates an element with attributes and children. */
export function h(tag: string, attrs: Record<string, string | undefined> = {}, ...children: (Node | string)[]): HTMLElement {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) if (value !== undefined) el.setAttribute(name, value);
  el.append(...children);
  return el;
}

const SUGGESTIONS = ['What happens if I reload the page mid-answer?', 'How does Stop work?', 'Who is watching this chat?'];

/** How a run (one assistant message) stands, from the session's fold. */
export interface RunState {
  status: ChatRunStatus;
  /** The agent's acknowledgement of a Stop, once it is in the log. */
  ack?: ChatStopAck;
  errorText?: string;
}

type Part = UIMessage['parts'][number];

/**
 * Renders the conversation into `root`, reusing the elements of messages already shown, so that a streaming run
 * only updates its own parts.
 */
export function renderConversation(root: HTMLElement, messages: readonly UIMessage[], runs: ReadonlyMap<string, RunState>, onSuggest: (text: string) => void): void {
  if (messages.length === 0) {
    if (!root.querySelector('.empty')) {
      const prompts = h('div', { class: 'prompts' });
      for (const text of SUGGESTIONS) {
        const b = h('button', { type: 'button', 'data-testid': 'suggestion' }, text);
        b.addEventListener('click', () => onSuggest(text));
        prompts.append(b);
      }
      root.replaceChildren(h('div', { class: 'empty' }, 'Ask something. The agent answers in two steps: a tool call, then the text.', prompts));
    }
    return;
  }
  root.querySelector('.empty')?.remove();
  messages.forEach((message, index) => {
    let el = root.children[index] as HTMLElement | undefined;
    const key = `${message.role}:${message.id}`;
    if (!el || el.dataset.key !== key) {
      el =
        message.role === 'user'
          ? h('div', { class: 'msg user', 'data-testid': 'message-user', 'data-key': key }, textOf(message))
          : h('div', { class: 'msg assistant', 'data-testid': 'message-assistant', 'data-key': key, 'data-run-id': message.id });
      root.insertBefore(el, root.children[index] ?? null);
    }
    if (message.role === 'assistant') renderAssistant(el, message, runs.get(message.id) ?? { status: 'active' });
  });
  for (const extra of [...root.children].slice(messages.length)) extra.remove();
}

function textOf(message: UIMessage): string {
  return message.parts.map((p) => (p.type === 'text' ? p.text : '')).join('');
}

function renderAssistant(el: HTMLElement, message: UIMessage, run: RunState): void {
  el.dataset.status = run.status;
  const nodes: HTMLElement[] = [];
  let step = 0;
  message.parts.forEach((part, i) => {
    if (part.type === 'step-start') {
      // A step's end is not the run's end: after the tool result, the model goes on with the next step.
      if (step > 0) nodes.push(h('div', { class: 'step-end', 'data-testid': 'step-finish' }, `step ${step} finished — the run continues`));
      step++;
      return;
    }
    const node = renderPart(part, run, i === message.parts.length - 1);
    if (node) nodes.push(node);
  });
  const last = message.parts.at(-1);
  if (run.status === 'active' && last && isTool(last) && last.state === 'output-available') {
    nodes.push(h('div', { class: 'step-end', 'data-testid': 'step-finish' }, `step ${step} finished — waiting for the next step`));
  }
  nodes.push(h('span', { class: 'run-status', 'data-testid': 'run-status', 'data-status': run.status }, statusText(run, step)));
  const existing = [...el.children];
  nodes.forEach((node, i) => {
    const old = existing[i];
    if (old && old.outerHTML === node.outerHTML) return;
    if (old) el.replaceChild(node, old);
    else el.append(node);
  });
  for (const extra of existing.slice(nodes.length)) extra.remove();
}

function isTool(part: Part): part is Extract<Part, { toolCallId: string }> {
  return part.type.startsWith('tool-') || part.type === 'dynamic-tool';
}

function renderPart(part: Part, run: RunState, last: boolean): HTMLElement | undefined {
  if (part.type === 'text') {
    const streaming = run.status === 'active' && (part.state === 'streaming' || last);
    return h('div', { class: 'text', 'data-testid': 'assistant-text', 'data-streaming': streaming ? '' : undefined }, part.text);
  }
  if (isTool(part)) {
    const name = part.type === 'dynamic-tool' ? part.toolName : part.type.slice('tool-'.length);
    const input = part.input === undefined ? '…' : JSON.stringify(part.input);
    const output = part.state === 'output-available' ? `→ ${summarize(part.output)}` : part.state === 'output-error' ? `→ error: ${part.errorText}` : 'running…';
    return h('div', { class: 'tool', 'data-testid': 'tool-step', 'data-state': part.state }, h('b', {}, 'tool call '), `${name}(${input})`, h('span', { class: 'out' }, output));
  }
  return undefined;
}

function summarize(output: unknown): string {
  if (output && typeof output === 'object' && 'fact' in output) return String((output as { fact: unknown }).fact);
  return JSON.stringify(output);
}

function statusText(run: RunState, steps: number): string {
  switch (run.status) {
    case 'active':
      return steps === 0 ? 'thinking…' : 'streaming…';
    case 'finished':
      return `finished (${steps} steps)`;
    case 'aborted':
      return run.ack ? `stopped — agent acknowledged after ${run.ack.afterTokens} tokens` : 'stopped';
    case 'error':
      return `error: ${run.errorText ?? 'the run failed'}`;
  }
}

/** Presence data as the page and the agent publish it. */
interface MemberData {
  role?: string;
  name?: string;
  status?: string;
}

/** Renders the presence bar: viewers and the agent, "you" marked. */
export function renderPresence(root: HTMLElement, members: Iterable<PresenceMember>, selfId: string | undefined): void {
  const sorted = [...members].sort((a, b) => roleRank(a) - roleRank(b) || a.enteredAt - b.enteredAt);
  root.replaceChildren(
    ...sorted.map((member) => {
      const data = (member.data ?? {}) as MemberData;
      const agent = data.role === 'agent';
      const you = member.connectionId === selfId;
      const name = agent ? (data.name ?? 'agent') : you ? `you (${data.name ?? 'viewer'})` : (data.name ?? 'viewer');
      return h(
        'span',
        { class: 'member', 'data-testid': 'presence-member', 'data-role': agent ? 'agent' : 'viewer', 'data-you': you ? '' : undefined },
        h('span', { class: 'avatar' }, agent ? 'AI' : (data.name ?? 'v').replace(/^viewer /i, '').slice(0, 2)),
        name,
        ...(agent && data.status ? [h('span', { class: 'status' }, `· ${data.status}`)] : []),
      );
    }),
  );
  if (sorted.length === 0) root.append(h('span', { class: 'label' }, 'nobody yet'));
}

function roleRank(member: PresenceMember): number {
  return ((member.data ?? {}) as MemberData).role === 'agent' ? 0 : 1;
}
