/** The HTTP edge: the service host (one node:http server for GraphQL, health and metrics), caller identity from the gateway's headers, GraphQL errors and scalars, per-request entity loaders. */
export * from './errors.js';
export * from './host.js';
export * from './identity.js';
export * from './loaders.js';
export * from './scalars.js';
