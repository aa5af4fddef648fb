#!/usr/bin/env node
import { main } from './main.js';

// A reader that went away (`… | head -1`) must not crash a running command: `infra` keeps its servers until a signal
// stops them cleanly, instead of dying with them half torn down.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code !== 'EPIPE') throw err;
});

// Exit explicitly: a backend client that keeps a socket or timer alive must not keep a finished command running.
main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
    process.stdout.write('', () => process.exit(code));
  },
  (err: unknown) => {
    process.stderr.write(`${String(err)}\n`);
    process.exit(1);
  },
);
