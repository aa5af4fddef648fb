import { describe, expect, it } from 'vitest';
import { oneAtATimePerKey } from '../src/one-at-a-time.js';

/** A promise with its resolve and reject, so a test decides when a task finishes. */
function gate<T = void>() {
  let resolve!: (value: T) => void;
  let reject!: (err: unknown) => void;
  const promise = new Promise<T>((res, rej) => ((resolve = res), (reject = rej)));
  return { promise, resolve, reject };
}

describe('oneAtATimePerKey', () => {
  it('starts a key\'s next task only when the previous one settled, while other keys run at once', async () => {
    const run = oneAtATimePerKey();
    const started: string[] = [];
    const first = gate<string>();
    const a1 = run('a', () => (started.push('a1'), first.promise));
    const a2 = run('a', async () => (started.push('a2'), 'a2'));
    const b1 = run('b', async () => (started.push('b1'), 'b1'));
    expect(await b1).toBe('b1');
    expect(started).toEqual(['a1', 'b1']);
    first.resolve('a1');
    expect(await Promise.all([a1, a2])).toEqual(['a1', 'a2']);
    expect(started).toEqual(['a1', 'b1', 'a2']);
  });

  it('runs the tasks queued behind a failed one and hands each caller its own result', async () => {
    const run = oneAtATimePerKey();
    const failing = gate();
    const a1 = run('a', () => failing.promise);
    const a2 = run('a', async () => 'after');
    failing.reject(new Error('boom'));
    await expect(a1).rejects.toThrow('boom');
    expect(await a2).toBe('after');
  });
});
