import { DurableSessionError } from '@durable-sessions/core';
import type { BaselineFactory, RawBaseline } from '@durable-sessions/conformance';

/**
 * Loads the raw-client baseline of a backend from its adapter package's `./bench` subpath
 * (`@durable-sessions/<backend>/bench`, exporting `createBaseline(url)`), and creates it for `url`.
 */
export async function loadBaseline(backend: string, url: string): Promise<RawBaseline> {
  const specifier = `@durable-sessions/${backend}/bench`;
  let mod: { createBaseline?: unknown };
  try {
    mod = (await import(/* @vite-ignore */ specifier)) as { createBaseline?: unknown };
  } catch (cause) {
    throw new DurableSessionError(
      'CONFIG_INVALID',
      `No raw-client baseline for the ${backend} backend: importing ${specifier} failed (${(cause as Error)?.message ?? cause}). The adapter package must export createBaseline from its ./bench subpath.`,
      { cause },
    );
  }
  if (typeof mod.createBaseline !== 'function') {
    throw new DurableSessionError('CONFIG_INVALID', `${specifier} does not export createBaseline(url).`);
  }
  return (mod.createBaseline as BaselineFactory)(url);
}
