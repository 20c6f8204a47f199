/** Process entry point of the payment subgraph (tracing starts first: see @courses/platform/entry). */
import { runService } from '@courses/platform/entry';

await runService('payment', async () => {
  const { startPaymentService } = await import('./wiring.js');
  const service = await startPaymentService();
  return { service, logger: service.runtime.logger };
});
