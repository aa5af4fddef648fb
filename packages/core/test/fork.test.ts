import { describe, expect, it } from 'vitest';
import { forkOrigin, forkPosition, OriginCache, ownPrefix } from '../src/fork.js';
import { formatOffset, offsetTag, padNumber } from '../src/offsets.js';

const tagOf = (id: string) => offsetTag(id, 'events');
const plain = (id: string, n: number) => formatOffset(padNumber(n, 16), tagOf(id));

describe('fork offsets', () => {
  it('own offsets sort after every inherited offset, across forks of forks and digit boundaries', () => {
    const a = [1, 2, 9, 10, 99, 100].map((n) => plain('a', n));
    // b forks a at its 4th event; c forks b at b's second own event.
    const bPrefix = ownPrefix(a[3]!);
    const b = [1, 2, 10, 11].map((n) => bPrefix + plain('b', n));
    const cPrefix = ownPrefix(b[1]!);
    const c = [1, 5, 1000].map((n) => cPrefix + plain('c', n));
    const history = [...a.slice(0, 4), ...b.slice(0, 2), ...c];
    expect([...history].reverse().sort()).toEqual(history);
    // The source's later events never sort inside the fork's own range, and never before its fork point.
    for (const later of a.slice(4)) expect(later > a[3]!).toBe(true);
  });

  it('a fork at the start has own offsets with a bare prefix, sorting after any plain offset', () => {
    const prefix = ownPrefix(null);
    expect(prefix + plain('f', 0) > plain('zzz', 9_999_999)).toBe(true);
  });

  it('maps positions onto the inherited history or the own log, and refuses the rest', () => {
    const at = plain('src', 5);
    const record = plain('fork', 1);
    const origin = forkOrigin({ source: 'src', at, depth: 1 }, record);
    expect(forkPosition(origin, 'start', 'fork')).toEqual({ phase: 'inherited', after: 'start' });
    expect(forkPosition(origin, 'now', 'fork')).toEqual({ phase: 'own', from: 'now' });
    expect(forkPosition(origin, plain('src', 3), 'fork')).toEqual({ phase: 'inherited', after: plain('src', 3) });
    expect(forkPosition(origin, at, 'fork')).toEqual({ phase: 'inherited', after: at });
    expect(forkPosition(origin, origin.prefix + plain('fork', 7), 'fork')).toEqual({ phase: 'own', from: plain('fork', 7) });
    expect(() => forkPosition(origin, plain('src', 6), 'fork')).toThrow(expect.objectContaining({ code: 'INVALID_OFFSET' }));
    const atStart = forkOrigin({ source: 'src', at: null, depth: 1 }, record);
    expect(forkPosition(atStart, 'start', 'fork')).toEqual({ phase: 'own', from: record });
    expect(() => forkPosition(atStart, plain('src', 1), 'fork')).toThrow(expect.objectContaining({ code: 'INVALID_OFFSET' }));
  });
});

describe('OriginCache', () => {
  it('never caches empty sessions and evicts the oldest entry when full', () => {
    const cache = new OriginCache(2);
    cache.set('e', { kind: 'empty' });
    expect(cache.get('e')).toBeUndefined();
    cache.set('a', { kind: 'plain' });
    cache.set('b', { kind: 'plain' });
    cache.set('c', { kind: 'plain' });
    expect(cache.get('a')).toBeUndefined();
    expect(cache.get('b')).toEqual({ kind: 'plain' });
    expect(cache.get('c')).toEqual({ kind: 'plain' });
  });
});
