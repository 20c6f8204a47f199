/** Composition root of a subgraph process: configuration, derived service secrets, startup and graceful shutdown. (`entry.ts` and `testing.ts` are package subpaths of their own, not re-exported here.) */
export * from './config.js';
export * from './lifecycle.js';
export * from './service-secrets.js';
export * from './subgraph.js';
export * from './timing-budget.js';
