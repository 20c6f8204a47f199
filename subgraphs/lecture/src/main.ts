/** Process entry point of the lecture subgraph (tracing starts first: see @courses/platform/entry). */
import { runService } from '@courses/platform/entry';

await runService('lecture', async () => {
  const { startLectureService } = await import('./wiring.js');
  const service = await startLectureService();
  return { service, logger: service.runtime.logger };
});
