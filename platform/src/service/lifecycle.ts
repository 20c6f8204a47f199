/**
 * Process lifecycle: run a service until SIGTERM/SIGINT, then stop it gracefully.
 * A second signal, or a stop that takes longer than `forceAfterMs`, exits at once.
 */
import type { Logger } from '../observability/index.js';
import { FORCED_EXIT_MS } from './timing-budget.js';

/** Something that can be stopped gracefully. */
export interface Stoppable {
  stop(): Promise<void>;
}

/** Installs signal handlers that stop `service` and exit the process (code 0, or 1 on error). */
export function stopOnSignals(service: Stoppable, logger: Logger, forceAfterMs = FORCED_EXIT_MS): void {
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      logger.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    stopping = true;
    logger.info({ signal }, 'shutting down gracefully');
    setTimeout(() => {
      logger.error('graceful shutdown took too long; exiting');
      process.exit(1);
    }, forceAfterMs).unref();
    service.stop().then(
      () => process.exit(0),
      (err) => {
        logger.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}

/** Runs `steps` in order, collecting (not throwing) errors so every resource gets closed. */
export async function stopAll(steps: Array<() => Promise<unknown> | unknown>, logger: Logger): Promise<void> {
  for (const step of steps) {
    try {
      await step();
    } catch (err) {
      logger.warn({ err: (err as Error).message }, 'error while stopping');
    }
  }
}
