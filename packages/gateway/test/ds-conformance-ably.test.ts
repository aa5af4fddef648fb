/** The Durable Streams conformance suite against the gateway over the project's local Ably-protocol server (launcher `ably`). */
import { dsConformanceOn } from './ds-conformance-backends.js';

await dsConformanceOn('ably');
