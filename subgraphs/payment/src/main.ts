/** Process entry point of the payment subgraph. */
import { createLogger, stopOnSignals } from '@courses/platform';
import { startPaymentService } from './wiring.js';

const service = await startPaymentService().catch((err) => {
  createLogger('payment').fatal({ err }, 'could not start');
  process.exit(1);
});
stopOnSignals(service, service.runtime.logger);
