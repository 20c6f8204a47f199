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
 * for all of them: a worker asked for its metrics asks the primary, which collects the registry of
 * every worker that is listening (a starting one is left out rather than waited for) and sums them
 * (prom-client's `AggregatorRegistry.aggregate`).
 */
import cluster, { type Worker } from 'node:cluster';
import { AggregatorRegistry, Gauge, type MetricObjectWithValues, type MetricValue, type Registry } from 'prom-client';
import type { Logger } from '@courses/platform';

/** One registry's metrics as getMetricsAsJSON gives them. */
type RegistryJson = MetricObjectWithValues<MetricValue<string>>[];

/** Messages between the primary and its workers (node:cluster IPC). */
type Message =
  | { type: 'courses:metrics-ask'; id: number }
  | { type: 'courses:metrics-sum'; id: number; text?: string; error?: string }
  | { type: 'courses:metrics-collect'; id: number }
  | { type: 'courses:metrics-part'; id: number; metrics: RegistryJson };

/** How long the primary waits for each worker's registry, and a worker for the sum (ms). */
const COLLECT_MS = 2_000;
const SUM_MS = 5_000;

/**
 * Forks `n` workers of this process's entry point and supervises them until a stop signal has
 * drained them all; then exits the process (0, or 1 when a worker did not stop cleanly).
 * @param n workers (count, ≥ 2)
 * @param logger the primary's
 */
export function superviseWorkers(n: number, logger: Logger): void {
  /** Workers serving (node:cluster's `listening`): those whose registry is asked for. */
  const serving = new Set<Worker>();
  let stopping = false;
  let failed = false;
  let nextCollect = 0;
  const parts = new Map<number, { metrics: RegistryJson[]; waiting: number; done: () => void }>();

  /** Every serving worker's metrics, summed (Prometheus text); a worker that does not answer within COLLECT_MS is left out. */
  const sum = () =>
    new Promise<string>((resolve) => {
      const id = ++nextCollect;
      const finish = () => {
        clearTimeout(timer);
        parts.delete(id);
        resolve(AggregatorRegistry.aggregate(entry.metrics).metrics());
      };
      const entry = { metrics: [] as RegistryJson[], waiting: serving.size, done: finish };
      const timer = setTimeout(finish, COLLECT_MS);
      parts.set(id, entry);
      if (entry.waiting === 0) return finish();
      for (const w of serving) w.send({ type: 'courses:metrics-collect', id } satisfies Message);
    });

  const fork = () => {
    const worker = cluster.fork();
    worker.on('message', (m: Message) => {
      if (m?.type === 'courses:metrics-part') {
        const entry = parts.get(m.id);
        if (!entry) return;
        entry.metrics.push(m.metrics);
        if (--entry.waiting === 0) entry.done();
      } else if (m?.type === 'courses:metrics-ask')
        sum().then(
          (text) => worker.send({ type: 'courses:metrics-sum', id: m.id, text } satisfies Message),
          (err: Error) => worker.send({ type: 'courses:metrics-sum', id: m.id, error: err.message } satisfies Message),
        );
    });
    return worker;
  };
  // A worker listens once its gateway is up, its answers to the collection installed before.
  cluster.on('listening', (worker: Worker) => serving.add(worker));
  for (let i = 0; i < n; i++) fork();
  logger.info({ workers: n }, 'gateway workers started');
  cluster.on('exit', (worker: Worker, code, signal) => {
    serving.delete(worker);
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
 * In a worker: `registry` (with a `gateway_workers` gauge of 1, so that the sum says how many
 * workers it covers) is offered to the primary's sum, and the returned function reads that
 * sum (the host's `/metrics` answer). Outside a worker: undefined (the host reads its own registry).
 * @throws (from the returned function) when the primary does not answer within 5 s
 */
export function clusterMetricsOf(registry: Registry): (() => Promise<string>) | undefined {
  if (!cluster.isWorker) return undefined;
  // 1 per worker: summed, how many workers the answer covers.
  new Gauge({ name: 'gateway_workers', help: 'Gateway workers whose metrics this answer sums', registers: [registry] }).set(1);
  const send = (m: Message) => process.send!(m);
  const waiting = new Map<number, { resolve: (text: string) => void; reject: (err: Error) => void }>();
  let next = 0;
  process.on('message', (m: Message) => {
    if (m?.type === 'courses:metrics-collect')
      void registry.getMetricsAsJSON().then((metrics) => send({ type: 'courses:metrics-part', id: m.id, metrics }));
    else if (m?.type === 'courses:metrics-sum') {
      const w = waiting.get(m.id);
      waiting.delete(m.id);
      if (m.text !== undefined) w?.resolve(m.text);
      else w?.reject(new Error(m.error ?? 'no metrics'));
    }
  });
  return () =>
    new Promise<string>((resolve, reject) => {
      const id = ++next;
      const timer = setTimeout(() => {
        waiting.delete(id);
        reject(new Error(`the primary did not answer with the workers’ metrics within ${SUM_MS} ms`));
      }, SUM_MS);
      waiting.set(id, {
        resolve: (t) => (clearTimeout(timer), resolve(t)),
        reject: (e) => (clearTimeout(timer), reject(e)),
      });
      send({ type: 'courses:metrics-ask', id });
    });
}
