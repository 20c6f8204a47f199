/** Wiring (the composition root) of the dashboard subgraph. */
import {
  createSubgraphRuntime,
  loadConfig,
  readSchema,
  startSubgraph,
  subgraphEnv,
  type Bus,
  type RunningSubgraph,
} from '@courses/platform';
import { DashboardPolicies } from './application/dashboard-policies.js';
import { startDashboardConsumers } from './inbound/consumers.js';
import { DashboardRepository } from './infrastructure/dashboard-repository.js';
import { NotificationRepository } from './infrastructure/notification-repository.js';
import { dashboardResolvers } from './resolvers/index.js';

/** Environment of the dashboard subgraph (default PORT 4004). */
export const dashboardEnv = subgraphEnv;

/**
 * Starts the dashboard subgraph from `env` (process.env by default), on `opts.bus` when given (a test's
 * in-memory bus), else on NATS as its own user.
 */
export async function startDashboardService(
  env: Record<string, string | undefined> = process.env,
  opts: { bus?: Bus } = {},
): Promise<RunningSubgraph> {
  const config = loadConfig(dashboardEnv, env, { PORT: '4004' });
  const rt = await createSubgraphRuntime('dashboard', config, opts);
  const repo = new DashboardRepository(rt.conn);
  const inbox = new NotificationRepository(rt.conn);
  await Promise.all([repo.model.init(), inbox.model.init()]);
  return startSubgraph(rt, {
    typeDefs: readSchema(import.meta.url),
    resolvers: dashboardResolvers(repo, inbox),
    publishes: 'dashboard',
    startConsumers: () => startDashboardConsumers(rt, new DashboardPolicies(repo, inbox, rt.bus)),
  });
}
