/** Structured JSON logging (pino), one logger per service with its name bound. */
import { pino, type Logger } from 'pino';

export type { Logger };

/** Creates the service's root logger. `level` is a pino level name or `silent`. */
export function createLogger(service: string, level = 'info'): Logger {
  return pino({ name: service, level, base: { service }, timestamp: pino.stdTimeFunctions.isoTime });
}
