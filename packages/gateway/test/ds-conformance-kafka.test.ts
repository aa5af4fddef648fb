/** The Durable Streams conformance suite against the gateway over a real Apache Kafka broker (the project's launcher). */
import { dsConformanceOn } from './ds-conformance-backends.js';

await dsConformanceOn('kafka');
