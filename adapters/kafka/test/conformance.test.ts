import { DEFAULT_CLIENT } from '../src/index.js';
import { kafkaConformance } from './conformance-suite.js';

// The conformance suite on the default client (the one users get without choosing).
await kafkaConformance(DEFAULT_CLIENT);
