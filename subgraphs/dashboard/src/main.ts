/** Process entry point of the dashboard subgraph (tracing starts first: see @courses/platform/entry). */
import { runService } from '@courses/platform/entry';

await runService('dashboard', async () => {
  const { startDashboardService } = await import('./wiring.js');
  const service = await startDashboardService();
  return { service, logger: service.runtime.logger };
});
