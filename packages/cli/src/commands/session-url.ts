import { URL_ENV } from '@durable-sessions/core';

/** Shared help text for commands that take `--url`. */
export const URL_HELP = `  --url URL     backend URL (default: $${URL_ENV}, else memory:). The memory backend lives inside this one
                process, so memory: is only useful for a quick try: point --url at a real backend
                (redis://…, nats://…, kafka://…, ably:…) to share sessions with other processes.`;
