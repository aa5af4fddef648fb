import type { BackendFactory } from './backend.js';
import { DurableSessionError } from './errors.js';

/** How the core finds an adapter by name or URL scheme, and loads it only when it is used. */
export interface BackendRegistration {
  /** The backend name used in options objects (`{ backend: 'redis' }`). */
  name: string;
  /** URL schemes that select it, without the colon (`redis`, `rediss`). */
  schemes: string[];
  /** Loads the adapter; called at most once per `connect`, never for other backends. */
  load: () => Promise<BackendFactory>;
  /** What to install when loading fails, shown in the error (`@durable-sessions/redis redis`). */
  install?: string;
}

const registrations = new Map<string, BackendRegistration>();

/**
 * Registers (or replaces) a backend so `connect()` can select it by name or URL scheme. The built-in adapters are
 * registered by package name; a custom adapter can register itself the same way.
 */
export function registerBackend(registration: BackendRegistration): void {
  registrations.set(registration.name, registration);
}

/** The registered backends, for error messages and the CLI. */
export function registeredBackends(): BackendRegistration[] {
  return [...registrations.values()];
}

/** Finds a registration by backend name. */
export function findBackendByName(name: string): BackendRegistration | undefined {
  return registrations.get(name);
}

/** Finds a registration by URL scheme. */
export function findBackendByScheme(scheme: string): BackendRegistration | undefined {
  for (const registration of registrations.values()) {
    if (registration.schemes.includes(scheme)) return registration;
  }
  return undefined;
}

/**
 * A registration whose adapter lives in its own npm package, exporting `createBackend`. The package is imported
 * by name at connect time, so an application that uses Redis never loads the NATS or Kafka SDKs.
 */
export function packageBackend(name: string, schemes: string[], packageName: string, sdk: string): BackendRegistration {
  return {
    name,
    schemes,
    install: `${packageName}${sdk ? ` ${sdk}` : ''}`,
    load: async () => {
      let mod: { createBackend?: unknown };
      try {
        mod = (await import(/* @vite-ignore */ packageName)) as { createBackend?: unknown };
      } catch (cause) {
        const missing = isModuleNotFound(cause, packageName);
        throw new DurableSessionError(
          'CONFIG_INVALID',
          missing
            ? `The ${name} backend needs the package ${packageName}: npm install ${packageName}${sdk ? ` ${sdk}` : ''}`
            : `Loading ${packageName} failed: ${(cause as Error)?.message ?? cause}`,
          { cause, details: { backend: name, package: packageName } },
        );
      }
      if (typeof mod.createBackend !== 'function') {
        throw new DurableSessionError('CONFIG_INVALID', `${packageName} does not export createBackend(); is it a Durable Sessions adapter?`);
      }
      return mod.createBackend as BackendFactory;
    },
  };
}

function isModuleNotFound(err: unknown, packageName: string): boolean {
  const code = (err as { code?: string } | null)?.code;
  const message = String((err as Error | null)?.message ?? '');
  return (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') && message.includes(packageName);
}

registerBackend(packageBackend('memory', ['memory'], '@durable-sessions/memory', ''));
registerBackend(packageBackend('redis', ['redis', 'rediss', 'redis+cluster', 'rediss+cluster', 'upstash+https', 'upstash+http', 'upstash'], '@durable-sessions/redis', 'redis (or @upstash/redis)'));
registerBackend(packageBackend('nats', ['nats', 'tls+nats'], '@durable-sessions/nats', '@nats-io/transport-node @nats-io/jetstream @nats-io/kv'));
registerBackend(packageBackend('kafka', ['kafka'], '@durable-sessions/kafka', 'kafkajs'));
registerBackend(packageBackend('ably', ['ably'], '@durable-sessions/ably', 'ably'));
