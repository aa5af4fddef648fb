import { connect, type StoreOptions } from '@durable-sessions/core';
import { describeConformance } from '@durable-sessions/conformance/vitest';
import { afterAll } from 'vitest';
import { createBackend } from '../src/index.js';
import { startEmulator } from './helpers.js';

// With ABLY_API_KEY set the suite runs against real Ably (the key's app needs the channel rules in docs/adapters/ably.md);
// otherwise against the project's emulator, with its fault hooks.
const key = process.env.ABLY_API_KEY?.trim();
const infra = key ? undefined : await startEmulator();
afterAll(() => infra?.stop());
// Real Ably: the key from ABLY_API_KEY; ABLY_CHANNEL_PREFIX picks the namespace carrying the channel rules (default ds).
const prefix = process.env.ABLY_CHANNEL_PREFIX?.trim();
const url = infra ? `${infra.url}&disconnectedRetryTimeout=500&suspendedRetryTimeout=1000` : `ably:${prefix ? `?prefix=${encodeURIComponent(prefix)}` : ''}`;
const backend = (options: StoreOptions = {}) => createBackend({ url, ...(options.retention ? { retention: options.retention } : {}) });

describeConformance({
  name: infra ? 'ably (emulator)' : 'ably (real Ably)',
  connect: async (options = {}) => connect({ ...options, backend: await backend(options) }),
  backend,
  ...(infra
    ? { faults: { restart: () => infra.restart(), dropConnections: () => infra.dropConnections() } }
    : {
        timeScale: 3,
        skip: { 'peers.large-backlog-slow-consumer': "20,000 events take 400 s under Ably's limit of 50 published messages/s per channel" },
      }),
});
