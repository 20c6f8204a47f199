/**
 * `GATEWAY_WORKERS=N`: N gateway processes on one machine, sharing its port through node:cluster
 * (https://nodejs.org/api/cluster.html; on Linux the primary accepts connections and hands them
 * round-robin to the workers). Each worker is a whole gateway: its own query plans, its own
 * subscriptions (one supergraph execution per event per process), its own NATS connection. What
 * must hold across them is shared as it is across replicas: rate limits and connection caps in
 * Redis (REDIS_URL; without it each worker counts alone, and the primary says so).
 *
 * The primary runs no gateway. It forks the workers, starts a new one when one dies unexpectedly
 * (after 1 s), passes SIGTERM/SIGINT on and exits when they have drained, and answers `/metrics`
 * for all of them: a worker asked for its metrics asks the primary, which sums every worker's
 * registry (prom-client's AggregatorRegistry).
 */
import cluster, { type Worker } from 'node:cluster';
import { AggregatorRegistry, type Registry } from 'prom-client';
import type { Logger } from '@courses/platform';

const ASK = 'courses:metrics?';
const ANSWER = 'courses:metrics';
type Ask = { type: typeof ASK; id: number };
type Answer = { type: typeof ANSWER; id: number; text?: string; error?: string };

/**
 * Forks `n` workers of this process's entry point and supervises them until a stop signal has
 * drained them all; then exits the process (0, or 1 when a worker did not stop cleanly).
 * @param n workers (count, ≥ 2)
 * @param logger the primary's
 */
export function superviseWorkers(n: number, logger: Logger): void {
  const aggregator = new AggregatorRegistry();
  let stopping = false;
  let failed = false;
  const fork = () => {
    const worker = cluster.fork();
    worker.on('message', (m: Ask) => {
      if (m?.type !== ASK) return;
      aggregator.clusterMetrics().then(
        (text) => worker.send({ type: ANSWER, id: m.id, text } satisfies Answer),
        (err: Error) => worker.send({ type: ANSWER, id: m.id, error: err.message } satisfies Answer),
      );
    });
    return worker;
  };
  for (let i = 0; i < n; i++) fork();
  logger.info({ workers: n }, 'gateway workers started');
  cluster.on('exit', (worker: Worker, code, signal) => {
    if (stopping) {
      // A worker still starting has no handler yet: SIGTERM ends it at once, with nothing to drain.
      if (code !== 0 && signal !== 'SIGTERM') failed = true;
      if (Object.keys(cluster.workers ?? {}).length === 0) process.exit(failed ? 1 : 0);
      return;
    }
    logger.error({ pid: worker.process.pid, code, signal }, 'gateway worker died: starting another in 1 s');
    setTimeout(() => !stopping && fork(), 1_000).unref();
  });
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'stopping gateway workers');
    for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGTERM');
    if (Object.keys(cluster.workers ?? {}).length === 0) process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

/**
 * In a worker: `registry` joins the primary's sum, and the returned function reads that sum (the
 * host's `/metrics` answer). Outside a worker: undefined (the host reads its own registry).
 * @throws (from the returned function) when the primary does not answer within 5 s
 */
export function clusterMetricsOf(registry: Registry): (() => Promise<string>) | undefined {
  if (!cluster.isWorker) return undefined;
  AggregatorRegistry.setRegistries([registry]);
  // Constructing one installs prom-client's worker side: it answers the primary's requests.
  new AggregatorRegistry();
  const waiting = new Map<number, { resolve: (text: string) => void; reject: (err: Error) => void }>();
  let next = 0;
  process.on('message', (m: Answer) => {
    if (m?.type !== ANSWER) return;
    const w = waiting.get(m.id);
    waiting.delete(m.id);
    if (m.text !== undefined) w?.resolve(m.text);
    else w?.reject(new Error(m.error ?? 'no metrics'));
  });
  return () =>
    new Promise<string>((resolve, reject) => {
      const id = ++next;
      const timer = setTimeout(() => {
        waiting.delete(id);
        reject(new Error('the primary did not answer with the workers’ metrics within 5 s'));
      }, 5_000);
      waiting.set(id, {
        resolve: (t) => (clearTimeout(timer), resolve(t)),
        reject: (e) => (clearTimeout(timer), reject(e)),
      });
      process.send!({ type: ASK, id } satisfies Ask);
    });
}
