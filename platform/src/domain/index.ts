/** Domain building blocks shared by every bounded context: the aggregate and its transitions, domain errors with stable codes, aggregate ids and Relay pagination. Depends on no other room. */
export * from './aggregate.js';
export * from './domain-error.js';
export * from './ids.js';
export * from './pagination.js';
