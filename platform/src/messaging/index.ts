/** NATS JetStream: connection and per-service authorization, streams, durable consumers with dead letters, and the outbox relay that publishes what the aggregate store wrote. */
export * from './nats-auth.js';
export * from './nats-connection.js';
export * from './nats-consumer.js';
export * from './nats-streams.js';
export * from './outbox.js';
