import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { freePorts } from './ports.js';
import { startProcess, tempDir, type ServerProcess } from './process.js';
import { startTcpProxy } from './tcp-proxy.js';
import type { InfraLauncher, InfraStartOptions, RunningInfra } from './types.js';

const run = promisify(execFile);

/** The broker release the launcher runs; 3.9.x is the last line that still supports Java 11+ clients and ZooKeeper-free KRaft alike. */
export const KAFKA_VERSION = '3.9.1';
const SCALA = '2.13';

/** The pom Maven resolves: the broker and the logging backend its pom leaves out. The plugin is pinned for reproducible downloads. */
const POM = `<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>dev.durable-sessions</groupId>
  <artifactId>kafka-broker</artifactId>
  <version>${KAFKA_VERSION}</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_${SCALA}</artifactId><version>${KAFKA_VERSION}</version></dependency>
    <dependency><groupId>org.slf4j</groupId><artifactId>slf4j-reload4j</artifactId><version>1.7.36</version></dependency>
    <dependency><groupId>ch.qos.reload4j</groupId><artifactId>reload4j</artifactId><version>1.2.25</version></dependency>
  </dependencies>
  <build>
    <plugins>
      <plugin><groupId>org.apache.maven.plugins</groupId><artifactId>maven-dependency-plugin</artifactId><version>3.8.1</version></plugin>
    </plugins>
  </build>
</project>
`;

/** Only the readiness line and warnings: the broker's INFO chatter would drown the test output. */
const LOG4J = `log4j.rootLogger=WARN, stdout
log4j.appender.stdout=org.apache.log4j.ConsoleAppender
log4j.appender.stdout.layout=org.apache.log4j.PatternLayout
log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka.server.KafkaRaftServer=INFO
`;

/**
 * Where downloaded jars are cached: `$DURABLE_SESSIONS_CACHE/kafka`, else `<repo>/.cache/kafka` when run inside the
 * monorepo (the folder holding turbo.json; `.cache/` is git-ignored), else `~/.cache/durable-sessions/kafka`.
 */
export function kafkaCacheDir(): string {
  if (process.env.DURABLE_SESSIONS_CACHE) return join(resolve(process.env.DURABLE_SESSIONS_CACHE), 'kafka');
  for (let dir = process.cwd(); ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'turbo.json'))) return join(dir, '.cache', 'kafka');
    if (dirname(dir) === dir) break;
  }
  return join(homedir(), '.cache', 'durable-sessions', 'kafka');
}

/** Resolves the broker's jars with Maven (first use only) and returns the folder holding them. */
export async function ensureKafkaJars(log?: (line: string) => void): Promise<string> {
  const base = join(kafkaCacheDir(), KAFKA_VERSION);
  const lib = join(base, 'lib');
  if (existsSync(join(base, 'complete'))) return lib;
  await mkdir(base, { recursive: true });
  const pom = join(base, 'pom.xml');
  await writeFile(pom, POM);
  // Download into a private folder and rename, so an interrupted or concurrent download never leaves a half-filled lib.
  const staging = join(base, `lib.${process.pid}.${Date.now()}`);
  log?.(`Downloading Apache Kafka ${KAFKA_VERSION} from Maven Central into ${base} (first use only)…`);
  await new Promise<void>((done, fail) => {
    const child = spawn('mvn', ['-B', '-f', pom, 'dependency:copy-dependencies', '-DincludeScope=runtime', `-DoutputDirectory=${staging}`], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const tail: string[] = [];
    const onData = (chunk: Buffer) => {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (!line.trim()) continue;
        tail.push(line);
        if (tail.length > 30) tail.shift();
        if (/Downloaded from|ERROR/.test(line)) log?.(line.replace(/\u001b\[[0-9;]*m/g, ''));
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('error', (err) => fail(new Error(`Could not run mvn (is Maven installed?): ${err.message}`)));
    child.once('exit', (code) =>
      code === 0 ? done() : fail(new Error(`mvn exited with ${code} while fetching Kafka jars:\n${tail.join('\n')}`)),
    );
  });
  const jars = (await readdir(staging)).filter((f) => f.endsWith('.jar'));
  if (!jars.some((f) => f.startsWith(`kafka_${SCALA}-`))) throw new Error(`Maven did not deliver kafka_${SCALA} into ${staging}`);
  await rm(lib, { recursive: true, force: true });
  await rename(staging, lib);
  await writeFile(join(base, 'complete'), `${jars.length} jars\n`);
  log?.(`Kafka ${KAFKA_VERSION}: ${jars.length} jars cached.`);
  return lib;
}

/** A KRaft cluster id: 16 random bytes, base64url, never starting with '-' (Kafka's own rule for Uuid.randomUuid). */
function clusterId(): string {
  for (;;) {
    const id = randomBytes(16).toString('base64url');
    if (!id.startsWith('-')) return id;
  }
}

function serverProperties(dataDir: string, brokerPort: number, controllerPort: number, advertisedPort: number): string {
  return [
    'process.roles=broker,controller',
    'node.id=1',
    `controller.quorum.voters=1@127.0.0.1:${controllerPort}`,
    `listeners=PLAINTEXT://127.0.0.1:${brokerPort},CONTROLLER://127.0.0.1:${controllerPort}`,
    // Clients connect to the advertised address, not the bootstrap one: advertising the proxy routes all traffic through it.
    `advertised.listeners=PLAINTEXT://127.0.0.1:${advertisedPort}`,
    'controller.listener.names=CONTROLLER',
    'inter.broker.listener.name=PLAINTEXT',
    'listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT',
    `log.dirs=${dataDir}`,
    'offsets.topic.replication.factor=1',
    // The default 50 partitions make the first group join slow on a small machine.
    'offsets.topic.num.partitions=1',
    'transaction.state.log.replication.factor=1',
    'transaction.state.log.min.isr=1',
    'transaction.state.log.num.partitions=1',
    // The default waits 3 s before the first rebalance of every new group.
    'group.initial.rebalance.delay.ms=0',
    'auto.create.topics.enable=false',
    // A restarted node must wait out its previous incarnation's broker session before it registers (default 9 s).
    'broker.session.timeout.ms=2000',
    'broker.heartbeat.interval.ms=500',
    'num.network.threads=2',
    'num.io.threads=2',
    'num.recovery.threads.per.data.dir=1',
    'background.threads=2',
    'log.cleaner.threads=1',
    // The 128 MiB default is allocated on the heap.
    'log.cleaner.dedupe.buffer.size=8388608',
    'log.index.size.max.bytes=1048576',
    'message.max.bytes=16777216',
    'socket.request.max.bytes=104857600',
    '',
  ].join('\n');
}

/** Options of {@link startKafka}. */
export interface KafkaInfraOptions extends InfraStartOptions {
  /** JVM heap limit. @default '512m' */
  maxHeap?: string;
}

/**
 * Starts a single-node Apache Kafka (KRaft, broker + controller in one JVM) on free loopback ports in a temporary
 * folder, behind a TCP proxy that the broker advertises, so `dropConnections()` cuts every client socket.
 */
export async function startKafka(options: KafkaInfraOptions = {}): Promise<RunningInfra> {
  const java = 'java';
  try {
    await run(java, ['-version']);
  } catch {
    throw new Error('The kafka launcher needs Java 17+ on PATH (Debian: apt-get install openjdk-17-jre-headless).');
  }
  const lib = await ensureKafkaJars(options.log);
  const dir = await tempDir('kafka');
  let proxy: Awaited<ReturnType<typeof startTcpProxy>> | undefined;
  let server: ServerProcess | undefined;
  try {
    const [brokerPort, controllerPort] = await freePorts(2);
    proxy = await startTcpProxy(brokerPort!);
    const dataDir = join(dir.path, 'data');
    const props = join(dir.path, 'server.properties');
    const log4j = join(dir.path, 'log4j.properties');
    await writeFile(props, serverProperties(dataDir, brokerPort!, controllerPort!, proxy.port));
    await writeFile(log4j, LOG4J);
    const classpath = `${lib}/*`;
    const jvm = [`-Dlog4j.configuration=file:${log4j}`, '-cp', classpath];
    await run(java, [...jvm, 'kafka.tools.StorageTool', 'format', '-t', clusterId(), '-c', props, '--ignore-formatted'], {
      maxBuffer: 16 * 1024 * 1024,
    });
    const launch = () =>
      startProcess({
        command: java,
        // C1 only and the serial collector: a test broker starts (and restarts) much faster on a small, busy machine.
        args: [`-Xms128m`, `-Xmx${options.maxHeap ?? '512m'}`, '-XX:+UseSerialGC', '-XX:TieredStopAtLevel=1', '-Djava.awt.headless=true', ...jvm, 'kafka.Kafka', props],
        cwd: dir.path,
        readyLine: /Kafka Server started/,
        timeoutMs: 60_000,
        ...(options.log ? { log: options.log } : {}),
      });
    server = await launch();
    let stopped = false;
    const running: RunningInfra = {
      url: `kafka://127.0.0.1:${proxy.port}`,
      info: { KAFKA_BROKER: `127.0.0.1:${brokerPort}`, KAFKA_VERSION, KAFKA_DATA: dataDir },
      async stop() {
        if (stopped) return;
        stopped = true;
        await server?.kill('SIGKILL');
        await proxy?.close();
        await dir.cleanup();
      },
      async restart() {
        await server?.kill('SIGKILL');
        server = await launch();
      },
      async dropConnections() {
        await proxy!.dropConnections();
      },
    };
    return running;
  } catch (err) {
    await server?.kill('SIGKILL');
    await proxy?.close();
    await dir.cleanup();
    throw err;
  }
}

/** The `kafka` launcher: Apache Kafka from Maven Central jars on the machine's Java. */
export const kafkaLauncher: InfraLauncher = {
  name: 'kafka',
  description: `Apache Kafka ${KAFKA_VERSION} (KRaft, single node) from Maven Central jars on the local Java, behind a fault proxy`,
  start: (options) => startKafka(options),
};
