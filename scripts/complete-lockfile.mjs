#!/usr/bin/env node
// `npm install` here records only this machine's platform packages (the registry mirror serves no others), and
// `npm ci` then refuses the lockfile as out of sync. Listing the other platforms' optional packages as stubs
// (version only, optional) satisfies that check; `npm ci` installs the ones for its own platform and skips the
// rest, as it would any optional package. Runs as `postinstall`; it writes nothing when the lockfile is complete.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';

const file = new URL('../package-lock.json', import.meta.url);
if (!existsSync(file)) process.exit(0);
const lock = JSON.parse(readFileSync(file, 'utf8'));
const packages = lock.packages ?? {};
let added = 0;
for (const [path, entry] of Object.entries({ ...packages })) {
  for (const [name, range] of Object.entries(entry.optionalDependencies ?? {})) {
    if (packages[`node_modules/${name}`] || packages[`${path}/node_modules/${name}`]) continue;
    packages[`node_modules/${name}`] = { version: String(range).replace(/^[\^~=]/, ''), ...(entry.dev ? { dev: true } : {}), optional: true };
    added++;
  }
}
if (added > 0) {
  lock.packages = Object.fromEntries(Object.entries(packages).sort(([a], [b]) => (a === '' ? -1 : b === '' ? 1 : a < b ? -1 : 1)));
  writeFileSync(file, `${JSON.stringify(lock, null, 2)}\n`);
  console.log(`complete-lockfile: listed ${added} optional platform packages`);
}
