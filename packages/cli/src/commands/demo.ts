import { spawn } from 'node:child_process';
import { numberOption, parseCommand, stringOption, UsageError } from '../args.js';
import { startDemoServer } from '../demo/server.js';
import { runTerminalDemo } from '../demo/terminal-demo.js';
import type { CliContext } from '../output.js';

/** Help of `durable-sessions demo`. */
export const DEMO_USAGE = `Usage: durable-sessions demo [backend-url] [--port N] [--no-open] [--token-ms N] [--model ID]
       durable-sessions demo [backend-url] --terminal [--token-delay-ms N]

Starts the web demo: an AI chat whose streams survive reloads, follow you across tabs and stop on command. One
process runs the gateway over the backend (auth on), the page, a token endpoint and the agent (the AI SDK's
streamText with a mock two-step model). Prints URL=http://127.0.0.1:PORT/ first. Runs on the embedded backend
unless a URL is given (redis://…, nats://…, kafka://…, ably:…).

  --port N                 port of the page (default: a free one)
  --host H                 interface to listen on (default 127.0.0.1)
  --no-open                do not open a browser
  --token-ms N             the mock model's delay between tokens (default 40)
  --presence-timeout-ms N  how soon a crashed agent or closed tab leaves presence (default 5000)
  --model ID               a real model through the Vercel AI Gateway (e.g. openai/gpt-4o-mini; needs AI_GATEWAY_API_KEY)
  --terminal               the guided tour in the terminal instead (resume, late tab, stop, presence)
  --token-delay-ms N       the terminal tour's delay between tokens (default 25)`;

/** `durable-sessions demo [url]`: the web demo (or, with --terminal, the terminal tour). */
export async function demoCommand(args: string[], ctx: CliContext): Promise<number> {
  const { values, positionals } = parseCommand(
    args,
    {
      port: { type: 'string' },
      host: { type: 'string' },
      'no-open': { type: 'boolean' },
      'token-ms': { type: 'string' },
      'presence-timeout-ms': { type: 'string' },
      model: { type: 'string' },
      terminal: { type: 'boolean' },
      'token-delay-ms': { type: 'string' },
    },
    { min: 0, max: 1 },
  );
  if (values.help) {
    ctx.out(DEMO_USAGE);
    return 0;
  }
  if (values.terminal) {
    const tokenDelayMs = numberOption(values, 'token-delay-ms');
    await runTerminalDemo({ url: positionals[0] ?? 'memory://demo', out: ctx.out, ...(tokenDelayMs === undefined ? {} : { tokenDelayMs }) });
    return 0;
  }
  const portText = stringOption(values, 'port');
  const port = portText === undefined ? 0 : Number(portText);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) throw new UsageError(`--port must be a port number, got ${JSON.stringify(portText)}.`);
  const tokenMs = numberOption(values, 'token-ms');
  const presenceTimeoutMs = numberOption(values, 'presence-timeout-ms');
  const model = stringOption(values, 'model');
  const host = stringOption(values, 'host');
  const demo = await startDemoServer({
    backendUrl: positionals[0] ?? 'memory:',
    port,
    ...(host === undefined ? {} : { host }),
    ...(tokenMs === undefined ? {} : { tokenMs }),
    ...(presenceTimeoutMs === undefined ? {} : { presenceTimeoutMs }),
    ...(model === undefined ? {} : { model }),
    log: ctx.err,
  });
  ctx.out(`URL=${demo.url}`);
  ctx.err(`Durable Sessions demo on ${demo.backendUrl.replace(/\/\/[^@/]*@/, '//***@')}: open ${demo.url} (Ctrl-C stops it)`);
  if (!values['no-open'] && process.stdout.isTTY) openBrowser(demo.url);
  return new Promise<number>((resolve) => {
    const remove = ctx.onInterrupt(() => {
      remove();
      void demo.close().finally(() => resolve(0));
    });
  });
}

/** Best effort: the platform's "open this URL" command; failures are ignored (the URL is printed anyway). */
function openBrowser(url: string): void {
  const [cmd, ...args] = process.platform === 'darwin' ? ['open', url] : process.platform === 'win32' ? ['cmd', '/c', 'start', '', url] : ['xdg-open', url];
  try {
    const child = spawn(cmd!, args, { stdio: 'ignore', detached: true });
    child.on('error', () => {});
    child.unref();
  } catch {
    // no opener on this machine
  }
}
