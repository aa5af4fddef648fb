import { UsageError } from '../args.js';
import type { CliContext } from '../output.js';

/** `durable-sessions serve <backend-url> [--port N] …`: runs the gateway in the foreground until SIGINT/SIGTERM. */
export async function serveCommand(args: string[], ctx: CliContext): Promise<number> {
  // Loaded on use: the other commands never pay for the HTTP/WebSocket server.
  const { parseServeArgs, runServeCommand } = await import('@durable-sessions/gateway');
  try {
    parseServeArgs(args);
  } catch (err) {
    if (args.includes('--help') || args.includes('-h')) {
      ctx.out((err as Error).message);
      return 0;
    }
    throw new UsageError((err as Error).message);
  }
  await runServeCommand(args, ctx.out);
  // The gateway's own SIGINT/SIGTERM handlers close it and exit; until then the server keeps the process alive.
  return new Promise<number>(() => {});
}
