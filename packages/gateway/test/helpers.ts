import WebSocket from 'ws';

/** A received server frame. */
export type Frame = Record<string, unknown> & { op: string };

/** Waits until `check` returns a truthy value, polling on the event loop (no fixed sleeps). */
export async function waitFor<T>(check: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 5_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A tiny protocol client over `ws` for tests: requests with ids, and every frame kept in order. */
export class TestSocket {
  readonly frames: Frame[] = [];
  closeCode: number | undefined;
  private nextId = 1;
  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => this.frames.push(JSON.parse(data.toString()) as Frame));
    ws.on('close', (code) => (this.closeCode = code));
  }

  /** Opens a socket; resolves after `hello` (or when `expectHello` is false, once open). */
  static async open(baseUrl: string, query: Record<string, string> = {}, expectHello = true): Promise<TestSocket> {
    const url = new URL('/v1/ws', baseUrl.replace(/^http/, 'ws'));
    for (const [k, v] of Object.entries(query)) url.searchParams.set(k, v);
    const ws = new WebSocket(url);
    const socket = new TestSocket(ws);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
      ws.once('unexpected-response', (_req, res) => reject(Object.assign(new Error(`HTTP ${res.statusCode}`), { status: res.statusCode })));
    });
    if (expectHello) await socket.next((f) => f.op === 'hello');
    return socket;
  }

  /** Sends a request and resolves with its `ok` or `error` frame. */
  async request(frame: Record<string, unknown>, timeoutMs = 5_000): Promise<Frame> {
    const id = this.nextId++;
    this.ws.send(JSON.stringify({ ...frame, id }));
    return this.next((f) => f.id === id && (f.op === 'ok' || f.op === 'error' || f.op === 'pong'), timeoutMs);
  }

  /** Sends raw data. */
  raw(data: string | Buffer, binary = false): void {
    this.ws.send(data, { binary });
  }

  /** The first frame (already received or coming) matching `match`. */
  next(match: (f: Frame) => boolean, timeoutMs = 5_000): Promise<Frame> {
    return waitFor(() => this.frames.find(match), timeoutMs, 'a frame');
  }

  /** Events received for a subscription, in order. */
  events(sub: string): Array<{ offset: string; type: string; data: unknown }> {
    return this.frames.filter((f) => f.op === 'events' && f.sub === sub).flatMap((f) => f.events as Array<{ offset: string; type: string; data: unknown }>);
  }

  async close(): Promise<void> {
    if (this.ws.readyState === WebSocket.CLOSED) return;
    await new Promise<void>((resolve) => {
      this.ws.once('close', () => resolve());
      this.ws.close();
    });
  }

  /** Cuts the TCP connection without a close handshake (a network failure). */
  async cut(): Promise<void> {
    await new Promise<void>((resolve) => {
      this.ws.once('close', () => resolve());
      this.ws.terminate();
    });
  }
}

/** Reads an SSE response until `until` says stop; returns the parsed messages. */
export async function readSse(response: Response, until: (messages: SseMessage[]) => boolean, timeoutMs = 5_000): Promise<SseMessage[]> {
  const reader = response.body!.getReader();
  const decoder = new TextDecoder();
  const messages: SseMessage[] = [];
  let buffer = '';
  const timer = setTimeout(() => void reader.cancel(), timeoutMs);
  try {
    while (!until(messages)) {
      const { done, value } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let cut: number;
      while ((cut = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        const message: SseMessage = { event: 'message', data: '', id: undefined };
        const data: string[] = [];
        for (const line of block.split('\n')) {
          if (line.startsWith(':')) continue;
          const [field, ...rest] = line.split(':');
          const value = rest.join(':').replace(/^ /, '');
          if (field === 'event') message.event = value;
          else if (field === 'data') data.push(value);
          else if (field === 'id') message.id = value;
        }
        if (data.length === 0) continue;
        message.data = data.join('\n');
        messages.push(message);
      }
    }
  } finally {
    clearTimeout(timer);
    await reader.cancel().catch(() => {});
  }
  return messages;
}

/** One SSE message. */
export interface SseMessage {
  event: string;
  data: string;
  id: string | undefined;
}
