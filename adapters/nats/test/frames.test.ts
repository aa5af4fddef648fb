import { describe, expect, it } from 'vitest';
import { chunkRecords, offsetOf, packRecords, parseRawOffset, unpackRecords } from '../src/frames.js';
import { parseServers, resolveOptions } from '../src/options.js';
import { RAW_OFFSET } from '@durable-sessions/core';

describe('offset encoding', () => {
  it('encodes stream sequences (and record indexes of packed messages) as fixed-width, string-sortable offsets', () => {
    expect(offsetOf(42, 0, 1)).toBe('0000000000000042');
    expect(offsetOf(42, 3, 5)).toBe('0000000000000042.0003');
    const offsets = [offsetOf(9, 0, 1), offsetOf(10, 0, 3), offsetOf(10, 1, 3), offsetOf(10, 2, 3), offsetOf(11, 0, 1), offsetOf(100, 0, 1), offsetOf(2 ** 53 - 1, 0, 1)];
    expect([...offsets].sort()).toEqual(offsets);
    for (const o of offsets) expect(o).toMatch(RAW_OFFSET);
  });

  it('parses its own offsets back and rejects anything else with INVALID_OFFSET', () => {
    expect(parseRawOffset('0000000000000042')).toEqual({ seq: 42, index: -1 });
    expect(parseRawOffset('0000000000000042.0003')).toEqual({ seq: 42, index: 3 });
    for (const bad of ['42', '0000000000000042.3', 'abc', '0000000000000042.00030', '']) {
      expect(() => parseRawOffset(bad)).toThrow(expect.objectContaining({ code: 'INVALID_OFFSET' }));
    }
  });

  it('packs records into one body and back, byte-exactly, whatever they contain', () => {
    const records = ['{"t":"a"}', '', 'é🙂 ,\n"quoted"', 'x'.repeat(10_000)];
    const { body, lengths } = packRecords(records);
    expect(unpackRecords(body, lengths)).toEqual(records);
    const single = packRecords(['only']);
    expect(single.lengths).toBeUndefined();
    expect(unpackRecords(single.body, single.lengths)).toEqual(['only']);
  });

  it('splits a batch into ordered chunks under the byte and record limits', () => {
    const records = Array.from({ length: 10 }, (_, i) => `${i}`.padEnd(100, '.'));
    const chunks = chunkRecords(records, 350, 1_000);
    expect(chunks.flat()).toEqual(records);
    expect(chunks.every((c) => c.length <= 3)).toBe(true);
    expect(chunkRecords(records, 1_000_000, 1).length).toBe(10);
  });
});

describe('options', () => {
  it('parses comma-separated servers and takes credentials out of the URLs', () => {
    expect(parseServers('nats://u:p%40ss@a:1,nats://b:2,c')).toEqual({
      servers: ['nats://a:1', 'nats://b:2', 'nats://c:4222'],
      user: 'u',
      pass: 'p@ss',
      token: undefined,
    });
    expect(parseServers('nats://s3cret@127.0.0.1:4222').token).toBe('s3cret');
  });

  it('rejects malformed configuration with CONFIG_INVALID', () => {
    for (const bad of [{ url: 'redis://x' }, { stream: 'a.b' }, { subjectPrefix: 'ds.*' }, { replicas: 0 }, { retention: { maxEvents: -1 } }]) {
      expect(() => resolveOptions(bad as never)).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID' }));
    }
  });

  it('gives every retention setting its own stream unless one is named', () => {
    expect(resolveOptions({}).stream).toBe('DS_SESSIONS');
    expect(resolveOptions({}).subjectPrefix).toBe('ds_sessions');
    expect(resolveOptions({ retention: { maxAgeMs: 60_000, maxEvents: 5 } }).stream).toBe('DS_SESSIONS_A60000_E5');
    expect(resolveOptions({ stream: 'MINE', retention: { maxEvents: 5 } }).stream).toBe('MINE');
  });
});

describe('URL parameters', () => {
  it('reads stream, subjectPrefix, replicas and storage from the query; explicit options win', () => {
    const o = resolveOptions({ url: 'nats://a:1,nats://b:2/?stream=CHAT&replicas=3&storage=memory' });
    expect(o).toMatchObject({ servers: ['nats://a:1', 'nats://b:2'], stream: 'CHAT', subjectPrefix: 'chat', replicas: 3, storage: 'memory' });
    expect(resolveOptions({ url: 'nats://a:1?replicas=3', replicas: 1 }).replicas).toBe(1);
    expect(() => resolveOptions({ url: 'nats://a:1?bogus=1' })).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID' }));
  });
});
