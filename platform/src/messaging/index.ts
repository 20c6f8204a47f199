/**
 * The event bus: the {@link Bus} interface with its NATS JetStream implementation and its
 * in-memory twin, the durable consumer runner with dead letters, NATS connections, per-service
 * authorization and streams, and the outbox relay that publishes what the aggregate store wrote.
 */
export * from './bus.js';
export * from './consumer.js';
export * from './handlers.js';
export * from './memory-bus.js';
export * from './nats-auth.js';
export * from './nats-bus.js';
export * from './nats-connection.js';
export * from './nats-streams.js';
export * from './outbox-recovery.js';
export * from './outbox-relay.js';
export * from './outbox.js';
