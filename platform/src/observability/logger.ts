/** Structured JSON logging (pino), one logger per service with its name bound. */
import { pino, type Logger } from 'pino';
import { traceFields } from './tracing.js';

export type { Logger };

/**
 * Creates the service's root logger. `level` is a pino level name or `silent`. A line written
 * inside a traced span carries its `trace_id` and `span_id` (tracing.ts).
 */
export function createLogger(service: string, level = 'info'): Logger {
  return pino({ name: service, level, base: { service }, timestamp: pino.stdTimeFunctions.isoTime, mixin: traceFields });
}

/**
 * The logger Apollo Server takes, writing to `logger`: its warnings and errors kept, its debug
 * and info chatter (one line per request and schema load) dropped.
 */
export function apolloLogger(logger: Logger): {
  debug(m: string): void;
  info(m: string): void;
  warn(m: string): void;
  error(m: string): void;
} {
  return { debug: () => undefined, info: () => undefined, warn: (m) => logger.warn(m), error: (m) => logger.error(m) };
}
