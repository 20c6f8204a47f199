/** Process entry point of the lecture subgraph. */
import { createLogger, stopOnSignals } from '@courses/platform';
import { startLectureService } from './wiring.js';

const service = await startLectureService().catch((err) => {
  createLogger('lecture').fatal({ err }, 'could not start');
  process.exit(1);
});
stopOnSignals(service, service.runtime.logger);
