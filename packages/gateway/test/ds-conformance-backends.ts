import { infraLauncher } from '@durable-sessions/conformance/infra';
import { runConformanceTests } from '@durable-streams/server-conformance-tests';
import { afterAll } from 'vitest';
import { startGateway } from '../src/index.js';

/**
 * Runs the Durable Streams conformance suite (0.3.6) against the gateway over a real backend started by the
 * project's launcher (`redis`, `nats`, `kafka`, …). Call it at the top level of a test file.
 */
export async function dsConformanceOn(launcherName: string): Promise<void> {
  const infra = await (await infraLauncher(launcherName))!.start();
  const gateway = await startGateway({ store: infra.url, auth: false, longPollMs: 500, limits: { requestsPerSecond: 100_000 } });
  afterAll(async () => {
    await gateway.close();
    await infra.stop();
  });
  // The suite uses this only as the timeout of its long-poll tests (its default is 20 s): a backend that takes a few
  // hundred ms per request (Kafka under a loaded CI) must not fail a test that waits on nothing but requests.
  runConformanceTests({ baseUrl: gateway.url, longPollTimeoutMs: 5_000 });
}
