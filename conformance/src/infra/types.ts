/** A running local test instance of a backend, as `durable-sessions infra <name>` and the test files start it. */
export interface RunningInfra {
  /** The backend URL to connect to (`redis://127.0.0.1:40123`). */
  url: string;
  /** Extra facts to print (`ADMIN_URL=…`), printed after the URL as `KEY=value` lines. */
  info?: Record<string, string>;
  /** Stops the server(s) and removes the temporary folder. Idempotent. */
  stop(): Promise<void>;
  /** Kills the server and starts it again on the same ports and data folder. */
  restart?(): Promise<void>;
  /** Drops every client connection while the server stays up. */
  dropConnections?(): Promise<void>;
}

/** Options for a launcher. */
export interface InfraStartOptions {
  /** Receives progress and server log lines (e.g. the CLI prints them to stderr). */
  log?: (line: string) => void;
}

/** Starts one kind of local test infrastructure on free loopback ports in a temporary folder. */
export interface InfraLauncher {
  /** `redis`, `upstash`, `nats`, `nats-cluster`, `kafka`, `ably`. */
  name: string;
  /** One line for `durable-sessions infra --help`. */
  description: string;
  start(options?: InfraStartOptions): Promise<RunningInfra>;
}
