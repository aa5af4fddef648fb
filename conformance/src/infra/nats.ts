import { request } from 'node:http';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { ensureBinary } from './apt.js';
import { freePorts } from './ports.js';
import { startProcess, tempDir, type ServerProcess } from './process.js';
import { startTcpProxy } from './tcp-proxy.js';
import type { InfraLauncher, InfraStartOptions, RunningInfra } from './types.js';

/** A running single NATS server; `monitorUrl` serves `/varz`, `/jsz`. */
export interface RunningNats extends RunningInfra {
  /** The server's own client port (the URL goes through a proxy so connections can be dropped). */
  readonly serverPort: number;
  /** The HTTP monitoring endpoint. */
  readonly monitorUrl: string;
}

/** A running 3-node NATS cluster with JetStream on every node. */
export interface RunningNatsCluster extends RunningInfra {
  /** Client URL of each node, by index (`nats://127.0.0.1:P`). */
  readonly nodeUrls: readonly string[];
  /** Server name of each node (`n0`, `n1`, `n2`). */
  readonly nodeNames: readonly string[];
  /** The index of the node leading a stream's Raft group, read from the nodes' monitoring endpoints. */
  leaderOf(stream: string): Promise<number>;
  /** SIGKILLs one node (a crash). */
  killNode(index: number): Promise<void>;
  /** Starts a killed node again with its data folder. */
  startNode(index: number): Promise<void>;
}

function natsArgs(port: number, monitorPort: number, storeDir: string, extra: string[] = []): string[] {
  return ['-a', '127.0.0.1', '-p', String(port), '-m', String(monitorPort), '-js', '-sd', storeDir, ...extra];
}

/** `nats`: one `nats-server -js` on free loopback ports, behind a TCP proxy for dropped-connection faults. */
export const natsLauncher: InfraLauncher = {
  name: 'nats',
  description: 'a nats-server with JetStream on a free loopback port (killable, restartable)',
  async start(options: InfraStartOptions = {}): Promise<RunningNats> {
    const binary = await ensureBinary('nats-server', 'nats-server', options.log);
    const dir = await tempDir('nats');
    const [port, monitorPort] = await freePorts(2);
    const spec = () => ({
      command: binary,
      args: natsArgs(port!, monitorPort!, dir.path),
      readyLine: /Server is ready/,
      ...(options.log ? { log: options.log } : {}),
    });
    let server: ServerProcess | undefined;
    try {
      server = await startProcess(spec());
    } catch (err) {
      await dir.cleanup();
      throw err;
    }
    const proxy = await startTcpProxy(port!);
    let stopped = false;
    return {
      url: `nats://127.0.0.1:${proxy.port}`,
      serverPort: port!,
      monitorUrl: `http://127.0.0.1:${monitorPort}`,
      info: { SERVER_URL: `nats://127.0.0.1:${port}`, MONITOR_URL: `http://127.0.0.1:${monitorPort}` },
      async stop() {
        if (stopped) return;
        stopped = true;
        await proxy.close();
        await server?.kill('SIGKILL');
        await dir.cleanup();
      },
      async restart() {
        await server?.kill('SIGKILL');
        // The proxied client sockets die with the server, as they would in a real crash.
        await proxy.dropConnections();
        server = await startProcess(spec());
      },
      async dropConnections() {
        await proxy.dropConnections();
      },
    };
  },
};

/** `nats-cluster`: three JetStream nodes routed on loopback, for R3 streams and leader failover. */
export const natsClusterLauncher: InfraLauncher = {
  name: 'nats-cluster',
  description: 'a 3-node nats-server cluster with JetStream on free loopback ports (R3 streams, killable nodes)',
  async start(options: InfraStartOptions = {}): Promise<RunningNatsCluster> {
    const binary = await ensureBinary('nats-server', 'nats-server', options.log);
    const dir = await tempDir('nats-cluster');
    const ports = await freePorts(9);
    const names = ['n0', 'n1', 'n2'];
    const client = (i: number) => ports[i]!;
    const cluster = (i: number) => ports[3 + i]!;
    const monitor = (i: number) => ports[6 + i]!;
    const routes = names.map((_, i) => `nats-route://127.0.0.1:${cluster(i)}`).join(',');
    const spec = (i: number) => ({
      command: binary,
      args: natsArgs(client(i), monitor(i), join(dir.path, names[i]!), [
        '-n', names[i]!, '--cluster_name', 'ds', '--cluster', `nats://127.0.0.1:${cluster(i)}`, '--routes', routes,
      ]),
      readyLine: /Server is ready/,
      log: (line: string) => options.log?.(`[${names[i]}] ${line}`),
    });
    const nodes: Array<ServerProcess | undefined> = [];
    try {
      for (const name of names) await mkdir(join(dir.path, name), { recursive: true });
      const started = await Promise.all(names.map((_, i) => startProcess(spec(i))));
      nodes.push(...started);
      await waitForMetaLeader(names.map((_, i) => monitor(i)));
    } catch (err) {
      await Promise.all(nodes.map((n) => n?.kill('SIGKILL')));
      await dir.cleanup();
      throw err;
    }
    const nodeUrls = names.map((_, i) => `nats://127.0.0.1:${client(i)}`);
    let stopped = false;
    return {
      url: nodeUrls.join(','),
      nodeUrls,
      nodeNames: names,
      info: Object.fromEntries(names.map((name, i) => [`${name.toUpperCase()}_MONITOR_URL`, `http://127.0.0.1:${monitor(i)}`])),
      async stop() {
        if (stopped) return;
        stopped = true;
        await Promise.all(nodes.map((n) => n?.kill('SIGKILL')));
        await dir.cleanup();
      },
      async leaderOf(stream: string) {
        for (let i = 0; i < names.length; i++) {
          if (!nodes[i] || nodes[i]!.child.exitCode !== null || nodes[i]!.child.signalCode !== null) continue;
          const jsz = await getJson(`http://127.0.0.1:${monitor(i)}/jsz?streams=true&config=false`).catch(() => undefined);
          const details = (jsz as { account_details?: Array<{ stream_detail?: Array<{ name: string; cluster?: { leader?: string } }> }> } | undefined)
            ?.account_details ?? [];
          for (const account of details) {
            for (const s of account.stream_detail ?? []) {
              if (s.name === stream && s.cluster?.leader) {
                const index = names.indexOf(s.cluster.leader);
                if (index >= 0) return index;
              }
            }
          }
        }
        throw new Error(`no node reports a leader for stream ${stream}`);
      },
      async killNode(index: number) {
        await nodes[index]?.kill('SIGKILL');
      },
      async startNode(index: number) {
        nodes[index] = await startProcess(spec(index));
      },
    };
  },
};

/** Waits until some node reports a JetStream meta leader, so streams can be created right away. */
async function waitForMetaLeader(monitorPorts: number[], timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    for (const port of monitorPorts) {
      const jsz = (await getJson(`http://127.0.0.1:${port}/jsz`).catch(() => undefined)) as { meta_cluster?: { leader?: string } } | undefined;
      if (jsz?.meta_cluster?.leader) return;
    }
    if (Date.now() > deadline) throw new Error('the NATS cluster elected no JetStream meta leader in time');
    await new Promise((r) => setTimeout(r, 100));
  }
}

function getJson(url: string): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const req = request(url, { timeout: 2_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => {
        try {
          resolve(JSON.parse(body));
        } catch (err) {
          reject(err);
        }
      });
    });
    req.on('timeout', () => req.destroy(new Error(`timeout fetching ${url}`)));
    req.on('error', reject);
    req.end();
  });
}
