/** Wiring (the composition root) of the lecture subgraph: repository, consumers, resolvers on the shared runtime. */
import {
  createSubgraphRuntime,
  loadConfig,
  readSchema,
  startSubgraph,
  subgraphEnv,
  type Bus,
  type RunningSubgraph,
} from '@courses/platform';
import { LectureService } from './application/lecture-service.js';
import { startLectureConsumers } from './inbound/consumers.js';
import { LectureRepository } from './infrastructure/lecture-repository.js';
import { lectureResolvers } from './resolvers/index.js';

/** Environment of the lecture subgraph (default PORT 4003). */
export const lectureEnv = subgraphEnv;

/**
 * Starts the lecture subgraph from `env` (process.env by default), on `opts.bus` when given (a test's
 * in-memory bus), else on NATS as its own user.
 */
export async function startLectureService(
  env: Record<string, string | undefined> = process.env,
  opts: { bus?: Bus } = {},
): Promise<RunningSubgraph> {
  const config = loadConfig(lectureEnv, env, { PORT: '4003' });
  const rt = await createSubgraphRuntime('lecture', config, opts);
  const repo = new LectureRepository(rt.conn);
  await repo.model.init();
  const service = new LectureService(repo, rt.outbox);
  return startSubgraph(rt, {
    typeDefs: readSchema(import.meta.url),
    resolvers: lectureResolvers(service, repo),
    publishes: 'lecture',
    startConsumers: () => startLectureConsumers(rt, service),
  });
}
