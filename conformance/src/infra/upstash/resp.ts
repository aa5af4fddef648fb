import { connect, type Socket } from 'node:net';

/** A RESP2 simple-string reply (`+OK`), kept apart from bulk strings because Upstash encodes them differently. */
export class RespSimple {
  constructor(readonly value: string) {}
}

/** A RESP2 error reply. */
export class RespError extends Error {
  override readonly name = 'RespError';
}

/** A parsed RESP2 reply: bulk strings stay bytes (Buffer), integers are numbers. */
export type RespValue = null | number | Buffer | RespSimple | RespError | RespValue[];

const CRLF = Buffer.from('\r\n');

/**
 * A minimal RESP2 connection to a redis-server for test infrastructure (the Upstash bridge and the launchers' admin
 * commands): pipelined commands answered in order, or, in push mode (pub/sub), every reply handed to `onPush`.
 */
export class RespConnection {
  private buffer: Buffer = Buffer.alloc(0);
  private readonly pending: Array<{ resolve(v: RespValue): void; reject(e: Error): void }> = [];
  private closedError: Error | undefined;
  /** Receives every reply in push mode. */
  onPush: ((value: RespValue) => void) | undefined;
  /** Called once when the socket closes. */
  onClose: ((err: Error) => void) | undefined;

  private constructor(private readonly socket: Socket) {
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.receive(chunk));
    const close = (err?: Error) => {
      if (this.closedError) return;
      this.closedError = err ?? new Error('connection to redis-server closed');
      for (const p of this.pending.splice(0)) p.reject(this.closedError);
      this.onClose?.(this.closedError);
    };
    socket.on('error', close);
    socket.on('close', () => close());
  }

  /** Connects to 127.0.0.1:port. */
  static open(port: number, host = '127.0.0.1', timeoutMs = 5_000): Promise<RespConnection> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host, port });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`connect to ${host}:${port} timed out`));
      }, timeoutMs);
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.removeListener('error', onError);
        resolve(new RespConnection(socket));
      });
      const onError = (err: Error) => {
        clearTimeout(timer);
        reject(err);
      };
      socket.once('error', onError);
    });
  }

  get closed(): boolean {
    return this.closedError !== undefined;
  }

  /** Sends one command; resolves with its reply (an error reply resolves as a RespError value). */
  command(args: ReadonlyArray<string | Buffer>): Promise<RespValue> {
    if (this.closedError) return Promise.reject(this.closedError);
    return new Promise((resolve, reject) => {
      this.pending.push({ resolve, reject });
      this.socket.write(encode(args));
    });
  }

  /** Sends several commands in one write, so nothing interleaves (MULTI … EXEC). */
  commands(list: ReadonlyArray<ReadonlyArray<string | Buffer>>): Promise<RespValue[]> {
    if (this.closedError) return Promise.reject(this.closedError);
    const replies = list.map(() => new Promise<RespValue>((resolve, reject) => this.pending.push({ resolve, reject })));
    this.socket.write(Buffer.concat(list.map(encode)));
    return Promise.all(replies);
  }

  /** Sends without expecting an ordered reply (push mode). */
  send(args: ReadonlyArray<string | Buffer>): void {
    if (!this.closedError) this.socket.write(encode(args));
  }

  close(): void {
    this.socket.destroy();
  }

  private receive(chunk: Buffer): void {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    for (;;) {
      const parsed = parse(this.buffer, 0);
      if (!parsed) return;
      this.buffer = this.buffer.subarray(parsed.next);
      if (this.onPush) this.onPush(parsed.value);
      else this.pending.shift()?.resolve(parsed.value);
    }
  }
}

function encode(args: ReadonlyArray<string | Buffer>): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const arg of args) {
    const bytes = typeof arg === 'string' ? Buffer.from(arg, 'utf8') : arg;
    parts.push(Buffer.from(`$${bytes.length}\r\n`), bytes, CRLF);
  }
  return Buffer.concat(parts);
}

function parse(buf: Buffer, at: number): { value: RespValue; next: number } | undefined {
  if (at >= buf.length) return undefined;
  const end = buf.indexOf(CRLF, at);
  if (end < 0) return undefined;
  const line = buf.toString('utf8', at + 1, end);
  const next = end + 2;
  switch (buf[at]) {
    case 0x2b: // +
      return { value: new RespSimple(line), next };
    case 0x2d: // -
      return { value: new RespError(line), next };
    case 0x3a: // :
      return { value: Number(line), next };
    case 0x24: {
      // $
      const length = Number(line);
      if (length < 0) return { value: null, next };
      if (buf.length < next + length + 2) return undefined;
      return { value: Buffer.from(buf.subarray(next, next + length)), next: next + length + 2 };
    }
    case 0x2a: {
      // *
      const count = Number(line);
      if (count < 0) return { value: null, next };
      const items: RespValue[] = [];
      let cursor = next;
      for (let i = 0; i < count; i++) {
        const item = parse(buf, cursor);
        if (!item) return undefined;
        items.push(item.value);
        cursor = item.next;
      }
      return { value: items, next: cursor };
    }
    default:
      throw new Error(`unexpected RESP byte ${buf[at]}`);
  }
}
