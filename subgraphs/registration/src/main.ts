/** Process entry point of the registration subgraph. */
import { createLogger, stopOnSignals } from '@courses/platform';
import { startRegistrationService } from './wiring.js';

const service = await startRegistrationService().catch((err) => {
  createLogger('registration').fatal({ err }, 'could not start');
  process.exit(1);
});
stopOnSignals(service, service.runtime.logger);
