import type { ChannelHandlers } from './transport.js';

/** Reconnect delays of an SSE subscription: quick after a drop, capped at 2 s while the server is away. */
const FIRST_RETRY_MS = 50;
const MAX_RETRY_MS = 2_000;

/**
 * An Upstash SSE subscription (`POST /subscribe/<channel>`) that reconnects until closed. @upstash/redis's own
 * Subscriber does not notice a stream that ended, so a dropped connection would silently stop wake-ups; this one
 * calls `ready()` after every (re)subscription so listeners re-check what they may have missed.
 */
export function openSse(baseUrl: string, token: string, channel: string, handlers: ChannelHandlers): () => void {
  const controller = new AbortController();
  let retry = FIRST_RETRY_MS;
  const run = async () => {
    while (!controller.signal.aborted) {
      try {
        const res = await fetch(`${baseUrl}/subscribe/${channel}`, {
          method: 'POST',
          headers: { Authorization: `Bearer ${token}`, Accept: 'text/event-stream', 'Cache-Control': 'no-cache' },
          signal: controller.signal,
        });
        if (!res.ok || !res.body) throw new Error(`SSE subscribe failed with HTTP ${res.status}`);
        const decoder = new TextDecoder();
        let buffer = '';
        for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
          buffer += decoder.decode(chunk, { stream: true });
          let newline: number;
          while ((newline = buffer.indexOf('\n')) >= 0) {
            const line = buffer.slice(0, newline).replace(/\r$/, '');
            buffer = buffer.slice(newline + 1);
            if (!line.startsWith('data:')) continue;
            const data = line.slice(5).trimStart();
            if (data.startsWith('subscribe,')) {
              retry = FIRST_RETRY_MS;
              handlers.ready();
            } else if (data.startsWith('message,')) {
              const rest = data.slice('message,'.length);
              const comma = rest.indexOf(',');
              if (comma >= 0) handlers.message(rest.slice(comma + 1));
            }
          }
        }
      } catch {
        // reconnect below
      }
      if (controller.signal.aborted) return;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, retry);
        controller.signal.addEventListener('abort', () => {
          clearTimeout(timer);
          resolve();
        }, { once: true });
      });
      retry = Math.min(MAX_RETRY_MS, retry * 2);
    }
  };
  void run();
  return () => controller.abort();
}
