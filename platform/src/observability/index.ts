/** Observability: the structured logger (pino), the Prometheus metrics (prom-client) and OpenTelemetry tracing. Depends on no other room. */
export * from './logger.js';
export * from './metrics.js';
export * from './tracing.js';
