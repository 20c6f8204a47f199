/** Process entry point of the dashboard subgraph. */
import { createLogger, stopOnSignals } from '@courses/platform';
import { startDashboardService } from './wiring.js';

const service = await startDashboardService().catch((err) => {
  createLogger('dashboard').fatal({ err }, 'could not start');
  process.exit(1);
});
stopOnSignals(service, service.runtime.logger);
