import { parseCommand } from '../args.js';
import type { CliContext } from '../output.js';

/** Help of `durable-sessions infra`. */
export const INFRA_USAGE = `Usage: durable-sessions infra <name>
       durable-sessions infra --list

Starts local test infrastructure (a real server on free loopback ports, in a temporary folder) in the
foreground. The first line on stdout is URL=<backend url>, then KEY=value lines; progress goes to stderr.
Ctrl-C (or SIGTERM) stops the servers and removes the folder. Missing server binaries are installed with apt.

  --list        print the available launchers, one per line`;

/** Exit code when the launcher name is unknown, as for every usage mistake. */
const UNKNOWN = 2;

/** `durable-sessions infra <name>`: runs a launcher until SIGINT/SIGTERM, then stops it and exits 0. */
export async function infraCommand(args: string[], ctx: CliContext): Promise<number> {
  const { values, positionals } = parseCommand(args, { list: { type: 'boolean' } }, { min: 0, max: 1 });
  const { infraLauncher, infraNames } = await import('@durable-sessions/conformance/infra');
  if (values.help) {
    ctx.out(INFRA_USAGE);
    return 0;
  }
  if (values.list) {
    for (const name of infraNames()) {
      const launcher = await infraLauncher(name);
      ctx.out(launcher ? `${name}\t${launcher.description}` : name);
    }
    return 0;
  }
  const name = positionals[0];
  const available = infraNames();
  const launcher = name === undefined ? undefined : await infraLauncher(name);
  if (!launcher) {
    ctx.err(`error: ${name === undefined ? 'Missing launcher name.' : `Unknown launcher ${JSON.stringify(name)}.`} Available: ${available.length ? available.join(', ') : '(none registered)'}.`);
    return UNKNOWN;
  }
  // Listen before starting: a Ctrl-C during a slow start must still stop whatever was started.
  let interrupted: (() => void) | undefined;
  let signalled = false;
  const stopRequested = new Promise<void>((resolve) => (interrupted = resolve));
  const dispose = ctx.onInterrupt((signal) => {
    if (!signalled) ctx.err(`infra: ${signal}, stopping ${launcher.name}`);
    signalled = true;
    interrupted!();
  });
  try {
    ctx.err(`infra: starting ${launcher.name} (${launcher.description})`);
    const running = await launcher.start({ log: (line) => ctx.err(`[${launcher.name}] ${line}`) });
    try {
      ctx.out(`URL=${running.url}`);
      for (const [key, value] of Object.entries(running.info ?? {})) ctx.out(`${key}=${value}`);
      ctx.err(`infra: ${launcher.name} is running; Ctrl-C to stop`);
      await stopRequested;
    } finally {
      await running.stop();
      ctx.err(`infra: ${launcher.name} stopped`);
    }
    return 0;
  } finally {
    dispose();
  }
}
