import { describe, expect, it } from 'vitest';
import { DurableSessionError, isDurableSessionError, toDurableSessionError } from '../src/errors.js';

describe('DurableSessionError', () => {
  it('carries code, details, cause and a prefixed message', () => {
    const cause = new Error('socket closed');
    const err = new DurableSessionError('BACKEND_UNAVAILABLE', 'Redis is down.', { cause, backend: 'redis', details: { host: 'h' } });
    expect(err.message).toBe('[durable-sessions:redis] Redis is down.');
    expect(err.cause).toBe(cause);
    expect(err.retryable).toBe(true);
    expect(err.toJSON()).toEqual({ code: 'BACKEND_UNAVAILABLE', message: err.message, details: { host: 'h' } });
    expect(new DurableSessionError('SESSION_ENDED', 'x').retryable).toBe(false);
  });

  it('normalises unknown errors and passes typed ones through', () => {
    const typed = new DurableSessionError('CONFLICT', 'x');
    expect(toDurableSessionError(typed)).toBe(typed);
    const wrapped = toDurableSessionError(new Error('boom'), 'BACKEND_UNAVAILABLE', 'nats');
    expect(wrapped.code).toBe('BACKEND_UNAVAILABLE');
    expect(wrapped.message).toContain('boom');
    expect(toDurableSessionError('text').code).toBe('INTERNAL');
  });

  it('recognises errors from another copy of the library by name and code', () => {
    const foreign = Object.assign(new Error('x'), { name: 'DurableSessionError', code: 'TIMEOUT' });
    expect(isDurableSessionError(foreign)).toBe(true);
    expect(isDurableSessionError(foreign, 'TIMEOUT')).toBe(true);
    expect(isDurableSessionError(foreign, 'CLOSED')).toBe(false);
    expect(isDurableSessionError(new Error('x'))).toBe(false);
  });
});
