/**
 * The one way a service process starts: tracing first (when the `OTEL_*` variables ask for it,
 * see tracing.ts), so that the MongoDB driver is instrumented before anything loads it; then the
 * service; then signal handling, with the tracing SDK flushed after the service has stopped.
 * Imports nothing that loads mongoose.
 */
import { createLogger, startTracing, type Logger } from '../observability/index.js';
import { stopOnSignals, type Stoppable } from './lifecycle.js';

/** A started service and the logger its lifecycle messages go to. */
export interface Started<S extends Stoppable> {
  service: S;
  logger: Logger;
}

/**
 * Runs service `name` until SIGTERM/SIGINT. `start` must import the service's modules itself
 * (dynamic `import()`), after tracing has started. Exits with code 1 if it cannot start.
 * @returns the started service.
 */
export async function runService<S extends Stoppable>(name: string, start: () => Promise<Started<S>>): Promise<S> {
  const tracing = await startTracing(name);
  const started = await start().catch((err) => {
    createLogger(name).fatal({ err }, 'could not start');
    process.exit(1);
  });
  const { service, logger } = started;
  stopOnSignals(
    {
      async stop() {
        await service.stop();
        await tracing?.shutdown().catch((err) => logger.warn({ err: (err as Error).message }, 'could not flush traces'));
      },
    },
    logger,
  );
  return service;
}
