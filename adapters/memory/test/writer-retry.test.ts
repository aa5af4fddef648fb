import { connect, DurableSessionError, type Backend } from '@durable-sessions/core';
import { firstValueFrom, take, toArray } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { memory } from '../src/index.js';

/**
 * Wraps the real memory backend so chosen appends fail the way a network does: either before reaching the backend,
 * or AFTER the backend stored the batch (the response was lost). Only the second kind can create duplicates, which
 * the writer's idempotent retry must prevent.
 */
function lossyBackend(plan: Array<'ok' | 'fail-before' | 'fail-after'>): { backend: Backend; calls: () => number } {
  const inner = memory();
  let calls = 0;
  const backend: Backend = {
    ...inner,
    async append(log, request) {
      const step = plan[calls++] ?? 'ok';
      if (step === 'fail-before') throw new DurableSessionError('BACKEND_UNAVAILABLE', 'connection reset before send');
      const result = await inner.append(log, request);
      if (step === 'fail-after') throw new DurableSessionError('TIMEOUT', 'response lost after the write landed');
      return result;
    },
  };
  return { backend, calls: () => calls };
}

describe('writer retries', () => {
  it('stores each event exactly once when responses are lost after the write landed', async () => {
    const { backend, calls } = lossyBackend(['fail-after', 'fail-after', 'ok', 'fail-before', 'ok']);
    const store = await connect({ backend });
    const session = store.session('retry-once');
    const writer = session.writer({ lingerMs: 0, maxBatch: 3, retryBackoffMs: 1 });
    const tokens = Array.from({ length: 6 }, (_, i) => `t${i}`);
    const offsets = await Promise.all(tokens.map((t) => writer.write({ type: 'token', data: t })));
    await writer.close();
    const page = await session.read({ limit: 100 });
    expect(page.events.map((e) => e.data)).toEqual(tokens);
    expect(offsets).toEqual(page.events.map((e) => e.offset));
    expect(calls()).toBeGreaterThan(2);
    await store.close();
  });

  it('fails the writer, not silently, when retries are exhausted, and rejects later writes', async () => {
    const { backend } = lossyBackend(Array(20).fill('fail-before'));
    const store = await connect({ backend });
    const writer = store.session('retry-exhausted').writer({ lingerMs: 0, maxRetries: 2, retryBackoffMs: 1 });
    const first = writer.write({ type: 'token', data: 'a' });
    await expect(first).rejects.toMatchObject({ code: 'BACKEND_UNAVAILABLE' });
    await expect(writer.flush()).rejects.toMatchObject({ code: 'BACKEND_UNAVAILABLE' });
    await expect(writer.write({ type: 'token', data: 'b' })).rejects.toMatchObject({ code: 'BACKEND_UNAVAILABLE' });
    await store.close();
  });

  it('does not retry when the backend cannot de-duplicate', async () => {
    const { backend, calls } = lossyBackend(['fail-after', 'ok']);
    const store = await connect({ backend: { ...backend, capabilities: { ...backend.capabilities, idempotentAppend: false } } });
    const session = store.session('no-idempotence');
    const writer = session.writer({ lingerMs: 0, retryBackoffMs: 1 });
    await expect(writer.write({ type: 'token', data: 'a' })).rejects.toMatchObject({ code: 'TIMEOUT' });
    expect(calls()).toBe(1);
    await store.close();
  });

  it('keeps order across batches while later writes linger behind an in-flight batch', async () => {
    const store = await connect({ backend: memory() });
    const session = store.session('order');
    const writer = session.writer({ lingerMs: 1, maxBatch: 7 });
    const received = firstValueFrom(session.subscribe({ from: 'start' }).pipe(take(500), toArray()));
    for (let i = 0; i < 500; i++) void writer.write({ type: 'token', data: i });
    await writer.flush();
    expect((await received).map((e) => e.data)).toEqual(Array.from({ length: 500 }, (_, i) => i));
    await store.close();
  });

  it('flushes lingering writer events before the end marker', async () => {
    const store = await connect({ backend: memory() });
    const session = store.session('end-after-writer');
    const writer = session.writer({ lingerMs: 10_000, maxBatch: 1_000 });
    void writer.write({ type: 'token', data: 'last words' });
    await session.end({ reason: 'complete' });
    const page = await session.read();
    expect(page.events.map((e) => e.type)).toEqual(['token', '$end']);
    await store.close();
  });
});
