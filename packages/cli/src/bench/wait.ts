import { DurableSessionError } from '@durable-sessions/core';

/** How long any single bench wait may take before the run fails instead of hanging on a broken backend. */
export const WAIT_TIMEOUT_MS = 120_000;

/** Rejects with `TIMEOUT` naming `what` if `promise` has not settled within `timeoutMs`. */
export async function within<T>(promise: Promise<T>, what: string, timeoutMs = WAIT_TIMEOUT_MS): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new DurableSessionError('TIMEOUT', `bench: ${what} did not happen within ${timeoutMs} ms.`)), timeoutMs);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Polls `condition` on every turn of the event loop until it holds (or {@link within}'s timeout). */
export async function until(condition: () => boolean, what: string, timeoutMs = WAIT_TIMEOUT_MS): Promise<void> {
  let stopped = false;
  const polling = new Promise<void>((resolve) => {
    const check = () => {
      if (stopped) return;
      if (condition()) resolve();
      else setImmediate(check);
    };
    check();
  });
  try {
    await within(polling, what, timeoutMs);
  } finally {
    stopped = true;
  }
}

/** Counts deliveries and resolves `reached` once `target` of them arrived; `fail` rejects it. */
export class Countdown {
  count = 0;
  readonly reached: Promise<void>;
  private resolve!: () => void;
  private reject!: (err: unknown) => void;

  constructor(private readonly target: number) {
    this.reached = new Promise<void>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
    this.reached.catch(() => {});
    if (target <= 0) this.resolve();
  }

  /** Records `n` deliveries. */
  hit(n = 1): void {
    this.count += n;
    if (this.count >= this.target) this.resolve();
  }

  /** Fails the wait (a subscription error). */
  fail(err: unknown): void {
    this.reject(err);
  }
}
