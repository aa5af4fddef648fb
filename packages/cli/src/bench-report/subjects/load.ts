import { DurableSessionError } from '@durable-sessions/core';

/**
 * Imports a package the report needs only at run time (the peers, the chart renderer). The specifier is a
 * variable, so the bundler leaves it to Node instead of inlining a devDependency into the CLI.
 */
export async function load<T>(specifier: string): Promise<T> {
  try {
    return (await import(/* @vite-ignore */ specifier)) as T;
  } catch (cause) {
    throw new DurableSessionError('CONFIG_INVALID', `bench-report needs ${specifier} (a devDependency of the durable-sessions package): ${(cause as Error)?.message ?? cause}`, { cause });
  }
}
