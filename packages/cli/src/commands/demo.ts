import { numberOption, parseCommand, stringOption } from '../args.js';
import { runTerminalDemo } from '../demo/terminal-demo.js';
import type { CliContext } from '../output.js';

/** Help of `durable-sessions demo`. */
export const DEMO_USAGE = `Usage: durable-sessions demo [backend-url] [--token-delay-ms N]

A guided tour in the terminal: an agent streams an answer into a durable session; a viewer drops mid-stream and
resumes from its offset; a late tab replays everything; Stop goes through the control channel and the agent
acknowledges it; a crashed agent leaves presence by timeout. Runs on the embedded backend unless a URL is given.

  --token-delay-ms N   pause between tokens (default 25)`;

/** `durable-sessions demo [url]`: the terminal tour of the three capabilities. */
export async function demoCommand(args: string[], ctx: CliContext): Promise<number> {
  const { values, positionals } = parseCommand(args, { 'token-delay-ms': { type: 'string' } }, { min: 0, max: 1 });
  if (values.help) {
    ctx.out(DEMO_USAGE);
    return 0;
  }
  const url = positionals[0] ?? stringOption(values, 'url') ?? 'memory://demo';
  const tokenDelayMs = numberOption(values, 'token-delay-ms');
  await runTerminalDemo({ url, out: ctx.out, ...(tokenDelayMs === undefined ? {} : { tokenDelayMs }) });
  return 0;
}
