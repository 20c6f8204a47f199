/** Process entry point of the registration subgraph (tracing starts first: see @courses/platform/entry). */
import { runService } from '@courses/platform/entry';

await runService('registration', async () => {
  const { startRegistrationService } = await import('./wiring.js');
  const service = await startRegistrationService();
  return { service, logger: service.runtime.logger };
});
