/**
 * Stream-Cursor values for CDN request collapsing (Durable Streams protocol, section 8.1): the number of 20 s
 * intervals since a fixed epoch; a client echoing a cursor that is not behind gets a strictly greater one, with
 * jitter, so cached responses never cycle.
 */
const EPOCH_MS = Date.parse('2024-10-09T00:00:00.000Z');
const INTERVAL_MS = 20_000;

export function generateCursor(clientCursor: string | undefined): string {
  const current = Math.floor((Date.now() - EPOCH_MS) / INTERVAL_MS);
  if (!clientCursor) return String(current);
  const client = Number.parseInt(clientCursor, 10);
  if (Number.isNaN(client) || client < current) return String(current);
  const jitterSeconds = 1 + Math.floor(Math.random() * 3600);
  return String(client + Math.max(1, Math.ceil(jitterSeconds / (INTERVAL_MS / 1000))));
}
