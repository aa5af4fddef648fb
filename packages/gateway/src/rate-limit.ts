/**
 * A token bucket: `rate` tokens per second, holding at most `burst`. Used per socket (frames) and per client
 * address (HTTP requests); memory is one small object per key.
 */
export class TokenBucket {
  private tokens: number;
  private last = Date.now();

  constructor(
    private readonly rate: number,
    private readonly burst: number,
  ) {
    this.tokens = burst;
  }

  /** Takes one token; returns 0 when allowed, else how many ms until one is available. */
  take(): number {
    const now = Date.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.rate);
    this.last = now;
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return 0;
    }
    return Math.ceil(((1 - this.tokens) / this.rate) * 1000);
  }

  /** True when the bucket is full again (the key can be forgotten). */
  get idle(): boolean {
    return this.tokens + ((Date.now() - this.last) / 1000) * this.rate >= this.burst;
  }
}

/** Buckets by key (a client address), pruned of idle keys so memory stays bounded by active clients. */
export class KeyedLimiter {
  private readonly buckets = new Map<string, TokenBucket>();
  private readonly prune: ReturnType<typeof setInterval>;

  constructor(private readonly rate: number) {
    this.prune = setInterval(() => {
      for (const [key, bucket] of this.buckets) if (bucket.idle) this.buckets.delete(key);
    }, 10_000);
    this.prune.unref();
  }

  take(key: string): number {
    let bucket = this.buckets.get(key);
    if (!bucket) this.buckets.set(key, (bucket = new TokenBucket(this.rate, this.rate * 2)));
    return bucket.take();
  }

  close(): void {
    clearInterval(this.prune);
  }
}
