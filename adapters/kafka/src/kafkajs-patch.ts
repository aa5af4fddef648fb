/** The kafkajs module that holds the broker connection class (kafkajs has no `exports` map, so it is reachable). */
const CONNECTION_MODULE = 'kafkajs/src/network/connection.js';

interface PatchableConnection {
  isConnected(): boolean;
  connect(): Promise<boolean>;
  chunks: Buffer[];
  bytesBuffered: number;
  bytesNeeded: number;
}

let patched: Promise<void> | undefined;

/**
 * kafkajs 2.2.4 keeps the bytes of a partially received response when a connection drops and prepends them to
 * the next connection's data, so the first response after the reconnect is misparsed and a RangeError escapes
 * from a socket handler, crashing the process (tulios/kafkajs#715, open; kafkajs is in maintenance mode). This
 * clears the receive buffer whenever a connection (re)connects. It patches the kafkajs copy this package resolves,
 * once; a Kafka instance from another copy of kafkajs is not covered.
 */
export function patchKafkajsReconnect(): Promise<void> {
  patched ??= (async () => {
    try {
      const mod = (await import(/* @vite-ignore */ CONNECTION_MODULE)) as { default?: unknown };
      const Connection = (mod.default ?? mod) as { prototype: PatchableConnection & { __durableSessionsPatched?: boolean } };
      const proto = Connection.prototype;
      if (typeof proto?.connect !== 'function' || proto.__durableSessionsPatched) return;
      const connect = proto.connect;
      proto.connect = function (this: PatchableConnection) {
        if (!this.isConnected()) {
          this.chunks = [];
          this.bytesBuffered = 0;
          this.bytesNeeded = 4;
        }
        return connect.call(this);
      };
      proto.__durableSessionsPatched = true;
    } catch {
      // Another kafkajs layout (a future release): nothing to patch.
    }
  })();
  return patched;
}
