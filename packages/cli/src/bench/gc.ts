import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/**
 * Returns a function forcing a full garbage collection: `global.gc` when node runs with `--expose-gc`, otherwise
 * the same function obtained by turning the V8 flag on at runtime (a fresh context then sees `gc`), which spares
 * the CLI a re-exec of itself. Undefined when neither works; heap figures are then noisier.
 */
export function exposeGc(): (() => void) | undefined {
  const existing = (globalThis as { gc?: () => void }).gc;
  if (typeof existing === 'function') return existing;
  try {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as unknown;
    return typeof gc === 'function' ? (gc as () => void) : undefined;
  } catch {
    return undefined;
  }
}
