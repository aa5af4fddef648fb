import type { Transport } from './transport.js';

interface Channel {
  unlisten: () => void;
  /** Wakers by message (`e:<key>`, `p:<key>`, …). */
  wakers: Map<string, Set<() => void>>;
}

/**
 * Fans the few shared notification channels out to per-log wakers, and subscribes to a channel only while somebody
 * watches a message on it. A waker runs on every matching message and whenever its channel (re)subscribes.
 */
export class Notifications {
  private readonly channels = new Map<string, Channel>();

  constructor(private readonly transport: Transport) {}

  watch(channelName: string, message: string, wake: () => void): () => void {
    let channel = this.channels.get(channelName);
    if (!channel) {
      const wakers = new Map<string, Set<() => void>>();
      const created: Channel = { wakers, unlisten: () => {} };
      this.channels.set(channelName, (channel = created));
      created.unlisten = this.transport.listen(channelName, {
        message: (text) => {
          const set = wakers.get(text);
          if (set) for (const fn of [...set]) fn();
        },
        ready: () => {
          for (const set of [...wakers.values()]) for (const fn of [...set]) fn();
        },
      });
    }
    let set = channel.wakers.get(message);
    if (!set) channel.wakers.set(message, (set = new Set()));
    set.add(wake);
    const owner = channel;
    return () => {
      set!.delete(wake);
      if (set!.size === 0) owner.wakers.delete(message);
      if (owner.wakers.size === 0 && this.channels.get(channelName) === owner) {
        this.channels.delete(channelName);
        owner.unlisten();
      }
    };
  }
}
