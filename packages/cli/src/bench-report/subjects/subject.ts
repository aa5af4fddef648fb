/** One token of the LLM-like stream: its index, the `performance.now()` it was written at, and its text. */
export interface Token {
  i: number;
  /** `performance.now()` in this process when the producer wrote it: delivery time minus this is end-to-end latency. */
  t: number;
  text: string;
}

/** The workloads of the report. */
export type WorkloadId = 'token' | 'bulk' | 'resume' | 'join' | 'fanout' | 'idle';

/** A token producer on one stream: fire-and-forget writes, then a durable end. */
export interface TokenProducer {
  /** Queues a token; never awaited by the caller (a token producer does not wait per token). */
  write(token: Token): void;
  /** Makes everything written durable and ends the stream (where the subject has an end marker). */
  end(): Promise<void>;
}

/** A stream written once for the read workloads: `mark` is where "resume from the middle" starts. */
export interface PreparedStream {
  readonly name: string;
  readonly length: number;
  /** Events before the resume point. */
  readonly mark: number;
  /** Releases what the subject holds for it (a resumable-stream producer stays alive until then). */
  release(): Promise<void>;
}

/**
 * One thing benchmarked: the Durable Sessions store on a backend, that backend's raw client, or a peer doing the
 * same job. Every workload is written once against this interface, so the same work runs on every subject.
 */
export interface Subject {
  /** Stable id (`redis/store`, `redis/raw`, `peer/durable-streams`). */
  readonly id: string;
  /** Shown in tables. */
  readonly label: string;
  readonly role: 'store' | 'raw' | 'peer';
  /** The backend it runs on (`memory`, `redis`…), or the peer's own (`durable-streams`). */
  readonly backend: string;
  /** Most events per batched write. */
  readonly batchSize: number;
  /** Workloads this subject cannot do, with the reason shown in the table. */
  readonly unsupported: Partial<Record<WorkloadId, string>>;
  /** Opens a token producer on a new stream. */
  producer(name: string): Promise<TokenProducer>;
  /** Appends tokens as one batched write, awaited. */
  appendBatch(name: string, tokens: Token[]): Promise<void>;
  /** Writes `tokens` to a new stream (ended when the subject can end streams), remembering the position after `mark` of them. */
  prepare(name: string, tokens: Token[], mark: number): Promise<PreparedStream>;
  /** Reads a prepared stream from its mark to its end (a client resuming); resolves with the number of tokens read. */
  resume(stream: PreparedStream): Promise<number>;
  /** Reads a prepared, finished stream from its start to its end, as a new tab does; resolves with the number read. */
  join(stream: PreparedStream): Promise<number>;
  /** Follows a stream live from now; resolves once following; the returned function stops it. */
  follow(name: string, onToken: (token: Token) => void): Promise<() => Promise<void>>;
  /** Closes the subject's clients. */
  close(): Promise<void>;
}

/**
 * The writers' linger in the token stream (Durable Sessions `writer({ lingerMs })`, the Durable Streams producer's
 * `lingerMs`): at 50 tokens/s a session's tokens are 20 ms apart, so a linger coalesces nothing and only delays
 * each token by up to its length (both default to 5 ms). 0 measures what the layers themselves cost.
 */
export const TOKEN_LINGER_MS = 0;

/** The text every token carries: token-sized, the typical AI streaming payload. */
export const TOKEN_TEXT = 'the quick brown fox ';

/** The i-th token, stamped now. */
export function token(i: number): Token {
  return { i, t: performance.now(), text: TOKEN_TEXT };
}

/** `count` tokens. */
export function tokens(count: number): Token[] {
  return Array.from({ length: count }, (_, i) => token(i));
}
