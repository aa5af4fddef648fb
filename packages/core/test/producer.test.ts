import { describe, expect, it } from 'vitest';
import { advanceProducer, checkProducer, PRODUCER_WINDOW, type ProducerState } from '../src/producer.js';

const p = (seq: number, epoch = 0) => ({ id: 'p1', epoch, seq });

describe('producer rules', () => {
  it('starts a producer at seq 0 and advances by one', () => {
    expect(checkProducer(undefined, p(0))).toEqual({ action: 'append' });
    const state = advanceProducer(undefined, p(0), ['a']);
    expect(checkProducer(state, p(1))).toEqual({ action: 'append' });
  });

  it('reports a retry of a recent call as a duplicate with its offsets', () => {
    let state: ProducerState | undefined;
    for (let seq = 0; seq < 3; seq++) state = advanceProducer(state, p(seq), [`o${seq}`]);
    expect(checkProducer(state, p(2))).toEqual({ action: 'duplicate', offsets: ['o2'] });
    expect(checkProducer(state, p(0))).toEqual({ action: 'duplicate', offsets: ['o0'] });
  });

  it('forgets offsets beyond its window but still refuses to append twice', () => {
    let state: ProducerState | undefined;
    for (let seq = 0; seq < PRODUCER_WINDOW + 3; seq++) state = advanceProducer(state, p(seq), [`o${seq}`]);
    expect(state!.recent).toHaveLength(PRODUCER_WINDOW);
    expect(checkProducer(state, p(0))).toEqual({ action: 'duplicate', offsets: [] });
  });

  it('refuses a gap with SEQUENCE_GAP and the expected seq', () => {
    const state = advanceProducer(undefined, p(0), ['a']);
    expect(() => checkProducer(state, p(5))).toThrowError(expect.objectContaining({ code: 'SEQUENCE_GAP', details: { expectedSeq: 1, receivedSeq: 5 } }));
    expect(() => checkProducer(undefined, p(3))).toThrowError(expect.objectContaining({ code: 'SEQUENCE_GAP', details: { expectedSeq: 0, receivedSeq: 3 } }));
  });

  it('fences older epochs and requires a new epoch to start at 0', () => {
    const state = advanceProducer(undefined, p(0, 2), ['a']);
    expect(() => checkProducer(state, p(1, 1))).toThrowError(expect.objectContaining({ code: 'STALE_PRODUCER' }));
    expect(() => checkProducer(state, p(4, 3))).toThrowError(expect.objectContaining({ code: 'SEQUENCE_GAP' }));
    expect(checkProducer(state, p(0, 3))).toEqual({ action: 'append' });
    const next = advanceProducer(state, p(0, 3), ['b']);
    expect(next.recent).toEqual([{ seq: 0, offsets: ['b'] }]);
  });
});
