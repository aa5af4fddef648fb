import { connect, type SessionEvent, type SessionStore } from '@durable-sessions/core';

/** Options of the terminal demo. */
export interface TerminalDemoOptions {
  /** Backend URL. @default 'memory://demo' */
  url?: string;
  /** Where the narration goes, line by line. */
  out: (line: string) => void;
  /** Delay between tokens, to make the stream visible. @default 25 */
  tokenDelayMs?: number;
}

const ANSWER =
  'Durable sessions decouple agents from clients. The agent appends every token to a persistent log; ' +
  'each client subscribes from the last offset it saw, so a dropped connection resumes exactly where it stopped, ' +
  'a second tab replays the whole answer, and a stop button is a durable control message the agent acknowledges.';

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * A scripted tour of the three capabilities on any backend, printed to a terminal: resilient delivery (a viewer
 * drops mid-stream and resumes from its offset), continuity (a second tab joins late and gets everything), and live
 * control (stop through the control channel, acknowledged by the agent; presence shows a crashed agent as gone).
 */
export async function runTerminalDemo(options: TerminalDemoOptions): Promise<void> {
  const say = options.out;
  const url = options.url ?? 'memory://demo';
  const tokenDelay = options.tokenDelayMs ?? 25;
  const agentStore = await connect(url, { clientId: 'agent', presence: { timeoutMs: 1_500, heartbeatMs: 300, pollMs: 100 } });
  const viewerStore = await connect(url, { clientId: 'alice', presence: { timeoutMs: 1_500, heartbeatMs: 300, pollMs: 100 } });
  const stores: SessionStore[] = [agentStore, viewerStore];
  try {
    const id = `demo-${Date.now().toString(36)}`;
    say(`Backend: ${agentStore.backend} (${url})   session: ${id}\n`);
    const agent = agentStore.session(id);
    await agent.presence.enter({ role: 'agent', status: 'thinking' });

    // 1. Resilient delivery: a viewer reads part of the answer, drops, and resumes from its last offset.
    say('1. A viewer follows the answer live, then its connection drops mid-stream…');
    const tokens = ANSWER.split(/(?<= )/);
    const writer = agent.writer({ lingerMs: 10 });
    const streaming = (async () => {
      for (const token of tokens) {
        void writer.write({ type: 'token', data: token });
        await pause(tokenDelay);
      }
      await writer.flush();
      await agent.end({ reason: 'complete' });
    })();

    const tab1 = viewerStore.session(id);
    let lastOffset: string | undefined;
    let text = '';
    for await (const event of tab1.events({ from: 'start' })) {
      if (event.type !== 'token') continue;
      text += event.data as string;
      lastOffset = event.offset;
      if (text.length > ANSWER.length / 3) break; // the connection drops here
    }
    say(`   received ${text.length} characters, last offset ${lastOffset}`);
    say(`   …reconnecting, resuming strictly after ${lastOffset}`);
    for await (const event of tab1.events({ from: lastOffset! })) {
      if (event.type === 'token') text += event.data as string;
    }
    await streaming;
    say(`   resumed and finished: ${text === ANSWER ? 'every token exactly once ✔' : 'MISMATCH ✘'}\n`);

    // 2. Continuity: a new tab joins after the fact and gets the whole answer.
    say('2. A second tab opens after the answer finished…');
    const tab2 = viewerStore.session(id);
    let replay = '';
    const seen: SessionEvent[] = [];
    for await (const event of tab2.events({ from: 'start' })) {
      seen.push(event);
      if (event.type === 'token') replay += event.data as string;
    }
    say(`   replayed ${seen.length} events, ending with ${seen.at(-1)?.type}: ${replay === ANSWER ? 'the same text ✔' : 'MISMATCH ✘'}\n`);

    // 3. Live control: stop a running generation, and see the agent acknowledge it.
    say('3. A new run starts; the viewer presses Stop…');
    const run = agentStore.session(`${id}-run2`);
    const viewer = viewerStore.session(`${id}-run2`);
    await run.presence.enter({ role: 'agent', status: 'generating' });
    const controller = new AbortController();
    const agentLoop = (async () => {
      let produced = 0;
      const stop = (async () => {
        for await (const message of run.control.events({ from: 'start', signal: controller.signal })) {
          if (message.type === 'stop') {
            controller.abort();
            await run.control.ack(message, { stoppedAfterTokens: produced });
          }
        }
      })();
      const w = run.writer({ lingerMs: 10 });
      for (const token of tokens) {
        if (controller.signal.aborted) break;
        void w.write({ type: 'token', data: token });
        produced++;
        await pause(tokenDelay);
      }
      await w.flush();
      await stop;
      await run.end({ reason: controller.signal.aborted ? 'cancelled' : 'complete' });
    })();
    let shown = 0;
    for await (const event of viewer.events({ from: 'start' })) {
      if (event.type === 'token' && ++shown === 8) break;
    }
    const receipt = await viewer.control.send({ type: 'stop' });
    say(`   stop published at control offset ${receipt.offset}`);
    const ack = await receipt.acknowledged({ timeoutMs: 10_000 });
    say(`   agent acknowledged: ${JSON.stringify(ack.data)}`);
    await agentLoop;
    const final = await viewer.read({ from: 'start', limit: 1000 });
    say(`   the stream ended with reason "${(final.events.at(-1)?.data as { reason?: string })?.reason}"\n`);

    // 4. Presence: a crashed agent disappears after the presence timeout; a thinking one would not.
    say('4. Presence: the agent process crashes (no goodbye)…');
    const watcher = viewerStore.session(`${id}-run2`);
    const before = await watcher.presence.members();
    say(`   present: ${before.map((m) => `${m.clientId}(${JSON.stringify(m.data)})`).join(', ')}`);
    const gone = new Promise<string>((resolve) => {
      const sub = watcher.presence.changes().subscribe((change) => {
        if (change.action === 'leave' && change.member.clientId === 'agent') {
          sub.unsubscribe();
          resolve(change.reason ?? 'left');
        }
      });
    });
    await run.close({ leave: false }); // heartbeats stop, as when a process dies
    say(`   the agent left with reason "${await gone}" — a crashed agent is told apart from a thinking one\n`);
    say('Done. Run it on any backend: durable-sessions demo redis://127.0.0.1:6379');
  } finally {
    await Promise.allSettled(stores.map((s) => s.close()));
  }
}
