import { describe, expect, it } from 'vitest';
import { runCli } from './run-cli.js';

describe('durable-sessions demo --terminal', () => {
  it('tours resume, a late tab, stop with acknowledgement and presence timeout on the embedded backend', async () => {
    const result = await runCli(['demo', '--terminal', '--token-delay-ms', '1']);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('every token exactly once ✔');
    expect(result.stdout).toContain('the same text ✔');
    expect(result.stdout).toMatch(/agent acknowledged: \{"control":"[^"]+","data":\{"stoppedAfterTokens":\d+\}\}/);
    expect(result.stdout).toContain('the stream ended with reason "cancelled"');
    expect(result.stdout).toContain('the agent left with reason "timeout"');
    expect(result.stdout).not.toContain('MISMATCH');
  }, 60_000);
});
