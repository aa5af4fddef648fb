/**
 * Shares one request among the callers that ask for the same thing before it is sent. The request goes out on the
 * next turn of the event loop, after every sharing caller made its call, so its answer is as fresh as each of them
 * needs (whatever completed before a call is seen). A burst of subscriptions to one session then costs one history
 * request instead of one each: the SDK sends REST requests over at most 40 sockets, and thousands queued behind
 * them time out (and count against Ably's request rate limits).
 */
export class Coalescer {
  private readonly forming = new Map<string, Promise<unknown>>();

  /** The result of `request()`, issued once for every caller of `key` until it is sent. */
  run<T>(key: string, request: () => Promise<T>): Promise<T> {
    const existing = this.forming.get(key);
    if (existing) return existing as Promise<T>;
    const promise = new Promise<T>((resolve, reject) => {
      setImmediate(() => {
        this.forming.delete(key);
        request().then(resolve, reject);
      });
    });
    this.forming.set(key, promise);
    return promise;
  }
}
