/** In-process concurrency helpers: a keyed mutex, single-flight, and an adaptive concurrency limit. Depends on no other room. */
export * from './adaptive-limit.js';
export * from './keyed-mutex.js';
export * from './single-flight.js';
