/** How big each workload is for one group of subjects. Arrays are the points of a scaling curve (≥ 3). */
export interface ReportSizes {
  /** Measured runs per point (the median is reported). */
  reps: number;
  /** Concurrent sessions of the token stream. */
  tokenSessions: number[];
  /** Tokens per second per session. */
  tokenRate: number;
  /** How long each session streams, per run. */
  tokenSeconds: number;
  /** Events of the bulk append. */
  bulkEvents: number;
  /** Session lengths a new tab replays; the longest is also resumed from its middle. */
  joinLengths: number[];
  /** Subscribers of one session in the fan-out. */
  fanoutSubscribers: number[];
  /** Events appended during the fan-out. */
  fanoutEvents: number;
  /** Idle sessions held open for the heap figure. */
  idleSessions: number;
}

/** The smoke test: everything, tiny, once. */
export const QUICK: ReportSizes = {
  reps: 1,
  tokenSessions: [1, 2, 4],
  tokenRate: 50,
  tokenSeconds: 0.3,
  bulkEvents: 500,
  joinLengths: [50, 100, 200],
  fanoutSubscribers: [1, 2, 4],
  fanoutEvents: 50,
  idleSessions: 20,
};

const FULL: ReportSizes = {
  reps: 3,
  tokenSessions: [1, 10, 50],
  tokenRate: 50,
  tokenSeconds: 1,
  bulkEvents: 50_000,
  joinLengths: [1_000, 10_000, 100_000],
  fanoutSubscribers: [1, 10, 100],
  fanoutEvents: 2_000,
  idleSessions: 300,
};

/**
 * Per-backend sizes of the full report: the same shape everywhere, smaller where each unit of work costs a network
 * round trip (or, on Kafka, a consumer-group join per reader), so the whole report stays within about 15 minutes
 * on a 2-core machine. Peers use the sizes of the backend they are compared with.
 */
const FULL_BY_BACKEND: Record<string, Partial<ReportSizes>> = {
  memory: {},
  'durable-streams': {},
  redis: { bulkEvents: 20_000, joinLengths: [1_000, 10_000, 50_000], fanoutEvents: 1_000, idleSessions: 300 },
  nats: { bulkEvents: 10_000, joinLengths: [1_000, 5_000, 20_000], fanoutSubscribers: [1, 10, 50], fanoutEvents: 500, idleSessions: 200 },
  kafka: { tokenSessions: [1, 3, 10], bulkEvents: 5_000, joinLengths: [500, 2_000, 10_000], fanoutSubscribers: [1, 3, 10], fanoutEvents: 500, idleSessions: 20 },
  ably: { tokenSessions: [1, 10, 30], bulkEvents: 5_000, joinLengths: [500, 2_000, 10_000], fanoutSubscribers: [1, 10, 30], fanoutEvents: 500, idleSessions: 200 },
};

/** The sizes for a backend (or peer) in the quick or full profile. */
export function sizesFor(backend: string, quick: boolean): ReportSizes {
  return quick ? QUICK : { ...FULL, ...FULL_BY_BACKEND[backend] };
}
