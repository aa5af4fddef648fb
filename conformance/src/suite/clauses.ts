/**
 * The numbered clauses of docs/contract.md. Every conformance test cites the clauses it checks, so a failure
 * points at the promise that was broken.
 */
export const CLAUSES = {
  C1: 'Offsets: opaque, strictly increasing, string-sortable, one per appended event',
  C2: 'Subscribe positions: start, strictly after an offset, now; exact suffix',
  C3: 'Replay-to-live hand-off without gap or duplicate under racing appends',
  C4: 'One total order seen by every subscriber, with concurrent producers',
  C5: 'Durability: an event is delivered only once persisted',
  C6: 'Batches: order, contiguity, atomicity when declared',
  C7: 'Idempotent producers: duplicates, SEQUENCE_GAP, STALE_PRODUCER',
  C8: 'The coalescing writer',
  C9: 'End-of-stream',
  C10: 'Read pages',
  C11: 'Session ids and isolation',
  C12: 'Offset validation: INVALID_OFFSET and OFFSET_TRIMMED',
  C13: 'Retention',
  C14: 'Payloads: JSON, bytes and Unicode round-trips, size limit, invalid events',
  C15: 'Presence',
  C16: 'Control channel and acknowledgements',
  C17: 'Resources: unsubscribe, abort and close free them',
  C18: 'Capabilities honesty',
  C19: 'Faults: backend restart, dropped connections',
  C20: 'Typed errors',
  C21: 'Fork: a new session branching from another at an offset',
} as const;

/** A contract clause id (`C1` … `C21`). */
export type ClauseId = keyof typeof CLAUSES;
