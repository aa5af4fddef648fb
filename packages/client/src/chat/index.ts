// The AI-chat protocol over a durable session and its Vercel AI SDK pieces (see docs/client.md, "Vercel AI SDK").
export * from './protocol.js';
export * from './fold.js';
export * from './history.js';
export * from './agent.js';
export * from './transport.js';
