/** MongoDB (mongoose): one connection per service, the aggregate store that writes a state change and its events in one document update, the write lease (claims) of a change in flight, idempotent inserts for read models. */
export * from './aggregate-store.js';
export * from './claim-lease.js';
export * from './mongo.js';
