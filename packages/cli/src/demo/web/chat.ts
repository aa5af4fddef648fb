import { AbstractChat, type ChatState, type ChatStatus, type ChatTransport, type UIMessage } from 'ai';

/**
 * The smallest `ChatState` the AI SDK's `AbstractChat` needs: plain fields, and a callback on every change so the
 * page re-renders (what `useChat` does with React state).
 */
class PageChatState implements ChatState<UIMessage> {
  private _status: ChatStatus = 'ready';
  private _error: Error | undefined;

  constructor(
    public messages: UIMessage[],
    private readonly changed: () => void,
  ) {}

  get status(): ChatStatus {
    return this._status;
  }
  set status(status: ChatStatus) {
    this._status = status;
    this.changed();
  }
  get error(): Error | undefined {
    return this._error;
  }
  set error(error: Error | undefined) {
    this._error = error;
    this.changed();
  }
  pushMessage = (message: UIMessage): void => {
    this.messages = [...this.messages, message];
    this.changed();
  };
  popMessage = (): void => {
    this.messages = this.messages.slice(0, -1);
    this.changed();
  };
  replaceMessage = (index: number, message: UIMessage): void => {
    this.messages = [...this.messages.slice(0, index), message, ...this.messages.slice(index + 1)];
    this.changed();
  };
  snapshot = <T>(thing: T): T => structuredClone(thing);
}

/** Options of {@link PageChat}. */
export interface PageChatOptions {
  /** The chat id: the session id. */
  id: string;
  /** The conversation so far (from `readChat`). */
  messages: UIMessage[];
  /** The durable chat transport. */
  transport: ChatTransport<UIMessage>;
  /** Called on every change of messages or status. */
  onChange: () => void;
}

/** `useChat` without a framework: the AI SDK's `AbstractChat` over {@link PageChatState}. */
export class PageChat extends AbstractChat<UIMessage> {
  constructor(options: PageChatOptions) {
    super({ id: options.id, transport: options.transport, state: new PageChatState(options.messages, options.onChange) });
  }
}
