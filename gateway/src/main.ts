/** Process entry point of the gateway. */
import { createLogger, stopOnSignals } from '@courses/platform';
import { startGateway } from './app.js';

const gateway = await startGateway().catch((err) => {
  createLogger('gateway').fatal({ err }, 'could not start');
  process.exit(1);
});
stopOnSignals(gateway, gateway.logger);
