// Reading a chat's whole history page by page, folded as it goes.
import type { UIMessage } from 'ai';
import type { ReadOptions, ReadResult } from '@durable-sessions/core';
import { ChatFold, type ChatFoldResult } from './fold.js';
import { isChatUser } from './protocol.js';

/** What reading a chat needs of a session: `read` (a client or a core session fits). */
export interface ChatHistorySource {
  read(options?: ReadOptions): Promise<ReadResult>;
}

/** A chat's history folded, plus where the latest user turn is in the log. */
export interface ChatHistory<MESSAGE extends UIMessage = UIMessage> extends ChatFoldResult<MESSAGE> {
  /** The latest `chat.user` event: its offset and message. */
  lastUser?: { offset: string; message: MESSAGE };
}

const PAGE = 1000;

/**
 * Reads a chat session from its start and folds it: the messages to give `useChat` (`messages`) when a page
 * loads, and the run still streaming, if any (`activeRunId`), which the transport's `reconnectToStream` replays.
 *
 * ```ts
 * const { messages } = await readChat(client.session(chatId));
 * const chat = useChat({ id: chatId, messages, transport, resume: true });
 * ```
 */
export async function readChat<MESSAGE extends UIMessage = UIMessage>(session: ChatHistorySource): Promise<ChatHistory<MESSAGE>> {
  const fold = new ChatFold<MESSAGE>();
  let lastUser: ChatHistory<MESSAGE>['lastUser'];
  let from: ReadOptions['from'] = 'start';
  for (;;) {
    const page = await session.read({ from, limit: PAGE });
    for (const event of page.events) {
      fold.apply(event);
      if (isChatUser<MESSAGE>(event.data)) lastUser = { offset: event.offset, message: event.data.message };
    }
    if (page.upToDate || page.events.length === 0 || page.next === 'now') break;
    from = page.next;
  }
  const result: ChatHistory<MESSAGE> = fold.result;
  if (lastUser) result.lastUser = { offset: lastUser.offset, message: structuredClone(lastUser.message) };
  return result;
}
