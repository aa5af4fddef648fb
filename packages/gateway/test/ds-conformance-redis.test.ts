/** The Durable Streams conformance suite against the gateway over a real redis-server (the project's launcher). */
import { dsConformanceOn } from './ds-conformance-backends.js';

await dsConformanceOn('redis');
