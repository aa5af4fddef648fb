import { DurableSessionError, type BackendConfig, type BackendFactory } from '@durable-sessions/core';
import { ably } from './backend.js';
import { NAME } from './errors.js';
import { parseAblyUrl, type AblyOptions } from './options.js';

export { ably } from './backend.js';
export { parseAblyUrl } from './options.js';
export type { AblyOptions } from './options.js';

/**
 * Registry entry point. URLs: `ably://<keyName>:<secret>@<host>:<port>?tls=false` (the local emulator, or any
 * endpoint), `ably://<keyName>:<secret>@` (Ably's default endpoint with that key) or `ably:` (the key from
 * `ABLY_API_KEY`). Options given next to the URL override what the URL says.
 */
export const createBackend: BackendFactory = (config: BackendConfig) => {
  const { url, ...rest } = config;
  const options = rest as AblyOptions;
  if (url === undefined) return ably(options);
  if (typeof url !== 'string') throw new DurableSessionError('CONFIG_INVALID', 'The Ably URL must be a string.', { backend: NAME });
  const fromUrl = parseAblyUrl(url);
  return ably({
    ...fromUrl,
    ...options,
    ...(fromUrl.clientOptions || options.clientOptions ? { clientOptions: { ...fromUrl.clientOptions, ...options.clientOptions } } : {}),
  });
};
