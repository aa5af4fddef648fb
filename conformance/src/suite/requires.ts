import type { Requirement } from './types.js';

/** All requirements must hold; the first unmet one gives the reason. */
export function all(...requirements: Requirement[]): Requirement {
  return (env) => {
    for (const requirement of requirements) {
      const reason = requirement(env);
      if (reason !== undefined) return reason;
    }
    return undefined;
  };
}

/** The backend declares idempotent appends. */
export const idempotent: Requirement = ({ capabilities }) =>
  capabilities.idempotentAppend ? undefined : 'backend declares idempotentAppend: false';

/** The backend does not declare idempotent appends (for NOT_SUPPORTED checks). */
export const notIdempotent: Requirement = ({ capabilities }) =>
  capabilities.idempotentAppend ? 'backend declares idempotentAppend: true (the NOT_SUPPORTED path cannot occur)' : undefined;

/** The backend offers presence. */
export const presence: Requirement = ({ capabilities }) => (capabilities.presence === 'none' ? "backend declares presence: 'none'" : undefined);

/** The backend offers no presence (for NOT_SUPPORTED checks). */
export const noPresence: Requirement = ({ capabilities }) =>
  capabilities.presence === 'none' ? undefined : `backend declares presence: '${capabilities.presence}' (the NOT_SUPPORTED path cannot occur)`;

/** Batches are atomic. */
export const atomicBatch: Requirement = ({ capabilities }) => (capabilities.atomicBatch ? undefined : 'backend declares atomicBatch: false');

/** End is atomic with appends. */
export const atomicEnd: Requirement = ({ capabilities }) => (capabilities.atomicEnd ? undefined : 'backend declares atomicEnd: false');

/** Retention by event count, with trimmed-offset detection. */
export const trimsByCount: Requirement = ({ capabilities }) =>
  !capabilities.retention.maxEvents
    ? 'backend declares retention.maxEvents: false'
    : !capabilities.detectsTrimmedOffsets
      ? 'backend declares detectsTrimmedOffsets: false'
      : undefined;

/** Retention by age. */
export const trimsByAge: Requirement = ({ capabilities }) => (capabilities.retention.maxAge ? undefined : 'backend declares retention.maxAge: false');

/** Events survive restarts. */
export const durable: Requirement = ({ capabilities }) => (capabilities.durable ? undefined : 'backend declares durable: false (a restart loses the log)');

/** The target can restart its backend. */
export const restartHook: Requirement = ({ target }) => (target.faults?.restart ? undefined : 'no restart hook');

/** The target can drop client connections. */
export const dropHook: Requirement = ({ target }) => (target.faults?.dropConnections ? undefined : 'no dropConnections hook');

/** The target can hand out raw backends, so the suite can crash a client. */
export const crashableClient: Requirement = ({ target }) =>
  target.backend ? undefined : 'no target.backend factory (the suite cannot crash a client without leaving)';

/** A batch limit small enough to exceed in a test. */
export const testableBatchLimit: Requirement = ({ capabilities }) =>
  capabilities.maxBatchSize <= 100_000 ? undefined : `maxBatchSize ${capabilities.maxBatchSize} is too large to exceed in a test`;

/** A payload limit small enough to exceed in a test. */
export const testablePayloadLimit: Requirement = ({ capabilities }) =>
  capabilities.maxPayloadBytes <= 64 * 1024 * 1024 ? undefined : `maxPayloadBytes ${capabilities.maxPayloadBytes} is too large to exceed in a test`;

/**
 * Marks a test that fails because of a known bug in packages/core (not in adapters). The test stays in the suite,
 * visible as skipped with the bug; delete the marker once the core is fixed.
 */
export function knownCoreBug(bug: string): Requirement {
  return () => `TODO(core): ${bug}`;
}
