/**
 * `npm run bench:rate-limit`: what the gateway's rate-limit plugin (gateway/src/limits.ts) costs
 * per query, in CPU µs of this process, for each store: in memory (one gateway), Redis with queries
 * taken a block at a time (the default across replicas), and Redis one query at a time (a limit
 * under 120). It calls the plugin's hook `--queries N` times (20,000) for 50 callers, one after the
 * other, against a redis-server of its own. Figures only: nothing here asserts a timing.
 */
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { startRedis } from '@courses/devkit/provision';
import type { GatewayConfig } from '../gateway/src/config.js';
import { rateLimits } from '../gateway/src/limits.js';
import type { GatewayContext } from '../gateway/src/subgraph-client.js';

const { values } = parseArgs({ options: { queries: { type: 'string', default: '20000' } } });
const N = Number(values.queries);
const started = await startRedis();
if (!started) throw new Error('no redis-server: npm test or npm start installs one');
const redis = new Redis(started.url);
const base = {
  MUTATION_RATE_LIMIT: 30,
  MUTATION_RATE_WINDOW_SECONDS: 10,
  QUERY_RATE_WINDOW_SECONDS: 60,
  RATE_LIMITS_WITHOUT_REDIS: 'open',
} satisfies Partial<GatewayConfig>;

type Hook = (r: { operation: { operation: 'query' }; contextValue: GatewayContext }) => Promise<void>;

/** CPU µs per call of the plugin's didResolveOperation, over `callers` distinct callers. */
async function measure(plugin: ReturnType<typeof rateLimits>, callers: number): Promise<{ cpuUs: number; wallUs: number }> {
  const hooks = (await plugin.requestDidStart!({} as never)) as unknown as { didResolveOperation: Hook };
  const tag = Math.random().toString(36).slice(2);
  const call = (i: number) =>
    hooks.didResolveOperation({ operation: { operation: 'query' }, contextValue: { identity: { sub: `${tag}-${i % callers}` } as never } });
  for (let i = 0; i < 2_000; i++) await call(i).catch(() => undefined);
  const cpu = process.cpuUsage();
  const wall = performance.now();
  for (let i = 0; i < N; i++) await call(i).catch(() => undefined);
  const used = process.cpuUsage(cpu);
  return { cpuUs: (used.user + used.system) / N, wallUs: ((performance.now() - wall) * 1000) / N };
}

const rows = [
  { store: 'in memory', ...(await measure(rateLimits({ ...base, QUERY_RATE_LIMIT: 1e9 }), 50)) },
  { store: 'Redis, blocks of 10 (limit ≥ 600)', ...(await measure(rateLimits({ ...base, QUERY_RATE_LIMIT: 1e9 }, redis), 50)) },
  // A limit under 120 takes one at a time; enough callers that none reaches it.
  { store: 'Redis, one at a time (limit < 120)', ...(await measure(rateLimits({ ...base, QUERY_RATE_LIMIT: 100 }, redis), N)) },
];
console.table(rows.map((r) => ({ store: r.store, 'CPU µs / query': r.cpuUs.toFixed(1), 'wall µs / query': r.wallUs.toFixed(1) })));
redis.disconnect();
started.child.kill();
