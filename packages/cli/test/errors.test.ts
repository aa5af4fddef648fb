import { describe, expect, it } from 'vitest';
import { runCli } from './run-cli.js';

describe('usage errors', () => {
  it('no command prints the usage to stderr with exit code 2; --help to stdout with 0', async () => {
    const none = await runCli([]);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('Usage: durable-sessions');
    const help = await runCli(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('conformance <url>');
  });

  it.each([['frob'], ['tail'], ['append', 'only-session'], ['tail', 's', '--bogus'], ['conformance', 'memory:', '--time-scale', 'x']])(
    '%j exits 2 with a message',
    async (...args) => {
      const result = await runCli(args);
      expect(result.code).toBe(2);
      expect(result.stderr).toMatch(/^error: /m);
    },
  );

  it('every command has --help', async () => {
    for (const command of ['conformance', 'bench', 'infra', 'tail', 'append', 'end']) {
      const result = await runCli([command, '--help']);
      expect(result.code, command).toBe(0);
      expect(result.stdout, command).toContain(`durable-sessions ${command}`);
    }
  });

  it('an invalid session id exits 2 with INVALID_SESSION_ID', async () => {
    const result = await runCli(['append', '', '1', '--url', 'memory:']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('INVALID_SESSION_ID');
  });
});
