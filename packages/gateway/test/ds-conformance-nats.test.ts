/** The Durable Streams conformance suite against the gateway over a real nats-server with JetStream (the project's launcher). */
import { dsConformanceOn } from './ds-conformance-backends.js';

await dsConformanceOn('nats');
