/** Process entry point of the gateway. */
import { createLogger, stopOnSignals } from '@courses/platform';
import { startGateway } from './app.js';

const gateway = await startGateway().catch((err) => {
  createLogger('gateway').fatal({ err }, 'could not start');
  process.exit(1);
});
stopOnSignals(gateway, gateway.logger);
// Benchmarks start the gateway with --expose-gc and send SIGUSR2 to measure memory after a full
// collection; without that flag the signal keeps Node's default meaning.
const gc = (globalThis as { gc?: () => void }).gc;
if (gc) process.on('SIGUSR2', () => gc());
