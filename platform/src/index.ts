/**
 * The platform every service is built on, one room per concern, each with its index as its only
 * face (rooms import each other through it, never a file inside; the arrows run one way:
 * service → messaging → persistence → domain/observability, http → domain/observability):
 * - `domain/`: aggregate, domain errors, ids, pagination;
 * - `observability/`: logger, metrics, tracing;
 * - `concurrency/`: keyed mutex, single-flight, adaptive limit;
 * - `http/`: the host, identity, GraphQL errors and scalars, loaders;
 * - `persistence/`: MongoDB connection and the aggregate store;
 * - `messaging/`: NATS connection, auth, streams, consumers, the outbox relay;
 * - `service/`: configuration, secrets, lifecycle and the subgraph's composition root.
 * Subpaths `@courses/platform/entry`, `/tracing` and `/testing` load less than this index.
 */
export * from './domain/index.js';
export * from './observability/index.js';
export * from './concurrency/index.js';
export * from './http/index.js';
export * from './persistence/index.js';
export * from './messaging/index.js';
export * from './service/index.js';
