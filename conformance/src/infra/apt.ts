import { execFile } from 'node:child_process';
import { access } from 'node:fs/promises';
import { promisify } from 'node:util';

const run = promisify(execFile);
let updated = false;

/**
 * Returns the path of `binary`, installing Debian `aptPackage` first when it is missing, so tests work on a
 * fresh machine without the system services this machine happens to run.
 */
export async function ensureBinary(binary: string, aptPackage: string, log?: (line: string) => void): Promise<string> {
  const found = await which(binary);
  if (found) return found;
  log?.(`${binary} not found: installing Debian package ${aptPackage}`);
  const sudo = process.getuid?.() === 0 ? [] : ['sudo', '-n'];
  const apt = async (...args: string[]) => {
    const [cmd, ...rest] = [...sudo, 'apt-get', ...args];
    await run(cmd!, rest, { env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }, maxBuffer: 64 * 1024 * 1024 });
  };
  if (!updated) {
    await apt('update', '-q');
    updated = true;
  }
  await apt('install', '-y', '-q', '--no-install-recommends', aptPackage);
  const installed = await which(binary);
  if (!installed) throw new Error(`Installed ${aptPackage} but ${binary} is still not on PATH`);
  return installed;
}

async function which(binary: string): Promise<string | undefined> {
  const dirs = (process.env.PATH ?? '').split(':').concat(['/usr/sbin', '/usr/bin', '/sbin', '/usr/local/bin']);
  for (const dir of dirs) {
    const candidate = `${dir}/${binary}`;
    try {
      await access(candidate);
      return candidate;
    } catch {
      // keep looking
    }
  }
  return undefined;
}
