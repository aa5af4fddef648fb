import { startGateway, type RunningGateway } from './server.js';

const USAGE = `Usage: durable-sessions serve <backend-url> [--port N] [--host H] [--long-poll-ms N] [--secret S | --no-auth]

Starts the gateway (WebSocket, SSE, HTTP and Durable Streams under /v1/stream/*) over the backend.
Auth uses HS256 tokens signed with --secret (or DURABLE_SESSIONS_GATEWAY_SECRET, at least 32 bytes);
--no-auth switches auth off for local testing only. Prints URL=http://… as its first line.`;

/** Parsed `serve` arguments. */
export interface ServeArgs {
  backendUrl: string;
  port: number;
  host: string;
  longPollMs: number | undefined;
  auth: false | { secret: string };
}

/** Parses `serve` arguments; throws an Error with the usage text on mistakes. */
export function parseServeArgs(argv: string[], env: NodeJS.ProcessEnv = process.env): ServeArgs {
  let backendUrl: string | undefined;
  let port = 0;
  let host = '127.0.0.1';
  let longPollMs: number | undefined;
  let secret = env.DURABLE_SESSIONS_GATEWAY_SECRET;
  let noAuth = false;
  const number = (name: string, value: string | undefined) => {
    const n = Number(value);
    if (value === undefined || !Number.isInteger(n) || n < 0) throw new Error(`${name} needs a non-negative integer.\n\n${USAGE}`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const [flag, inline] = arg.startsWith('--') && arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined];
    const value = () => inline ?? argv[++i];
    switch (flag) {
      case '--port':
        port = number('--port', value());
        break;
      case '--host':
        host = value() ?? host;
        break;
      case '--long-poll-ms':
        longPollMs = number('--long-poll-ms', value());
        break;
      case '--secret':
        secret = value();
        break;
      case '--no-auth':
        noAuth = true;
        break;
      case '--help':
      case '-h':
        throw new Error(USAGE);
      default:
        if (arg.startsWith('-') || backendUrl !== undefined) throw new Error(`Unexpected argument ${JSON.stringify(arg)}.\n\n${USAGE}`);
        backendUrl = arg;
    }
  }
  if (backendUrl === undefined) throw new Error(`A backend URL is required.\n\n${USAGE}`);
  if (!noAuth && !secret) throw new Error(`Give --secret (or DURABLE_SESSIONS_GATEWAY_SECRET), or --no-auth for local testing.\n\n${USAGE}`);
  return { backendUrl, port, host, longPollMs, auth: noAuth ? false : { secret: secret! } };
}

/**
 * Runs `durable-sessions serve`: starts the gateway, prints `URL=…` first, and stops cleanly on SIGINT/SIGTERM.
 * Resolves with the running gateway (the process stays alive while it listens).
 */
export async function runServeCommand(argv: string[], out: (line: string) => void = (l) => process.stdout.write(`${l}\n`)): Promise<RunningGateway> {
  const args = parseServeArgs(argv);
  const gateway = await startGateway({
    store: args.backendUrl,
    port: args.port,
    host: args.host,
    auth: args.auth,
    ...(args.longPollMs !== undefined ? { longPollMs: args.longPollMs } : {}),
  });
  out(`URL=${gateway.url}`);
  if (args.auth === false) out('auth: OFF (--no-auth): anyone can read and write every session. Local testing only.');
  const stop = () => {
    void gateway.close().finally(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  return gateway;
}
