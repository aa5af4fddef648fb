import { randomUUID } from 'node:crypto';
import { infraLauncher, type RunningInfra } from '@durable-sessions/conformance/infra';
import { encodeSessionKey, type LogRef } from '@durable-sessions/core';
import { kafka, parseKafkaUrl, type ClientKind, type KafkaOptions } from '../src/index.js';

/** The client libraries the adapter runs on; the tests run on each. */
export const CLIENTS = ['kafkajs', 'platformatic'] as const satisfies readonly ClientKind[];

/** Starts the project's Kafka launcher (downloads the jars on first use). */
export async function startKafka(): Promise<RunningInfra> {
  const launcher = await infraLauncher('kafka');
  if (!launcher) throw new Error('no kafka launcher registered');
  return launcher.start({ log: (line) => (/Download|ERROR|WARN/.test(line) ? console.error(line) : undefined) });
}

/** A backend on the test broker with quiet logs. */
export function backendOn(infra: RunningInfra, options: KafkaOptions = {}) {
  return kafka({ brokers: parseKafkaUrl(infra.url), logLevel: 0, ...options });
}

/** A fresh log reference. */
export function logRef(kind: LogRef['kind'] = 'events'): LogRef {
  const sessionId = `t-${randomUUID()}`;
  return { sessionId, key: encodeSessionKey(sessionId), kind };
}

/** Polls `condition` until it holds, failing with `what` after `timeoutMs`. */
export async function waitFor(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
