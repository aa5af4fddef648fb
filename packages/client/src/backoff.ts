import type { ReconnectOptions } from './types.js';

/** Back-off settings with defaults applied. */
export type Backoff = Required<ReconnectOptions>;

/** Applies the defaults of {@link ReconnectOptions}. */
export function resolveBackoff(options: ReconnectOptions = {}): Backoff {
  return {
    initialDelayMs: options.initialDelayMs ?? 250,
    maxDelayMs: options.maxDelayMs ?? 15_000,
    factor: options.factor ?? 2,
    maxAttempts: options.maxAttempts ?? Infinity,
  };
}

/**
 * The delay before retry number `attempt` (0-based): exponential, capped, with "equal jitter" — half fixed, half
 * random — so a gateway restart does not see every client return in the same millisecond, yet no client retries
 * at once in a tight loop.
 */
export function backoffDelay(backoff: Backoff, attempt: number, random: () => number = Math.random): number {
  const base = Math.min(backoff.maxDelayMs, backoff.initialDelayMs * backoff.factor ** Math.min(attempt, 30));
  return Math.round(base / 2 + random() * (base / 2));
}
