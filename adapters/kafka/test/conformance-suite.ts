import { connect, type StoreOptions } from '@durable-sessions/core';
import { afterAll, expect } from 'vitest';
import { describeConformance } from '@durable-sessions/conformance/vitest';
import type { RunningInfra } from '@durable-sessions/conformance/infra';
import { Kafka, logLevel } from 'kafkajs';
import { kafka, parseKafkaUrl, type ClientKind } from '../src/index.js';
import { startKafka, waitFor } from './helpers.js';

/**
 * Registers the conformance suite on `client` against one real Kafka broker started for the file by the suite's
 * own launcher on free loopback ports, and checks that no consumer group is left behind afterwards.
 */
export async function kafkaConformance(client: ClientKind): Promise<void> {
  const infra: RunningInfra = await startKafka();
  afterAll(async () => {
    try {
      // Every store the suite opened is closed by now: none may have left its consumer group on the broker.
      const admin = new Kafka({ brokers: parseKafkaUrl(infra.url), logLevel: logLevel.NOTHING }).admin();
      await admin.connect();
      try {
        let groups: string[] = [];
        await waitFor(async () => (groups = (await admin.listGroups()).groups.map((g) => g.groupId)).length === 0, 'no consumer groups', 15_000).catch(() => {});
        expect(groups).toEqual([]);
      } finally {
        await admin.disconnect();
      }
    } finally {
      await infra.stop();
    }
  });

  // kafkajs logs every reconnect attempt at ERROR level; the fault tests cause plenty on purpose.
  const quiet = { logLevel: logLevel.NOTHING };
  const url = `${infra.url}?client=${client}`;

  describeConformance({
    name: `kafka (${client})`,
    connect: (options: StoreOptions = {}) => connect({ backend: 'kafka', url, ...quiet, ...options }),
    backend: (options: StoreOptions = {}) => kafka({ brokers: parseKafkaUrl(infra.url), client, ...quiet, ...(options.retention ? { retention: options.retention } : {}) }),
    faults: { restart: () => infra.restart!(), dropConnections: () => infra.dropConnections!() },
  });
}
