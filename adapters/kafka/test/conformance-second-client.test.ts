import { DEFAULT_CLIENT } from '../src/index.js';
import { CLIENTS } from './helpers.js';
import { kafkaConformance } from './conformance-suite.js';

// The conformance suite on the other client library, so both stay conformant.
await kafkaConformance(CLIENTS.find((c) => c !== DEFAULT_CLIENT)!);
