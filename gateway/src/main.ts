/** Process entry point of the gateway (tracing starts first: see @courses/platform/entry). */
import { runService } from '@courses/platform/entry';

await runService('gateway', async () => {
  const { startGateway } = await import('./app.js');
  const gateway = await startGateway();
  return { service: gateway, logger: gateway.logger };
});
// Benchmarks start the gateway with --expose-gc and send SIGUSR2 to measure memory after a full
// collection; without that flag the signal keeps Node's default meaning.
const gc = (globalThis as { gc?: () => void }).gc;
if (gc) process.on('SIGUSR2', () => gc());
