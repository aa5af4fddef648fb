import type { JsonValue } from '@durable-sessions/core';

/**
 * What the demo agent acknowledges a `chat.stop` with: the `$ack` event's `data.data`. Shared by the agent (Node)
 * and the page (browser), which shows "stopped — agent acknowledged".
 */
export interface ChatStopAck {
  [key: string]: JsonValue;
  /** The run it stopped, or the one asked for when none was running. */
  runId: string | null;
  /** Whether a run was stopped. */
  stopped: boolean;
  /** Text deltas the run had produced when it stopped. */
  afterTokens: number;
}
