/**
 * What the load benchmarks (`bench:load`, `bench:rush`) share: the system they drive (started
 * here as `npm start` runs it, in databases and a NATS namespace of their own, or a running one),
 * a GraphQL POST that reports an outcome code and its latency, CPU accounting of every process
 * from /proc, percentiles, and the wait for the system to settle before the consistency checker.
 * Figures only: nothing here asserts a timing.
 */
import { readFileSync } from 'node:fs';
import http from 'node:http';
import mongoose from 'mongoose';
import { checkConsistency, type DatabaseUris, type Violation } from '@courses/devkit/consistency';
import { ensureMongo, ensureNats, say, withDatabase } from '@courses/devkit/provision';
import { cpuSecondsOfTree, ownCpuSeconds, pidOnPort } from './procs.mjs';
import { SERVICES, startReplica, startStack } from './stack.mjs';

export type ServiceName = 'gateway' | 'registration' | 'payment' | 'lecture' | 'dashboard';

/** The system a benchmark drives. */
export interface Target {
  urls: Record<ServiceName, string>;
  /** Every gateway's URL (the first is urls.gateway); client i uses gateways[i % length]. */
  gateways: string[];
  databases: DatabaseUris;
  /** Process name → pid whose tree's CPU is counted. */
  pids: Record<string, number | undefined>;
  backend: string;
  stop(): Promise<void>;
}

export interface OwnSystemOptions {
  /** NATS namespace and database prefix of the run (`bench` → databases `bench_<name>`). */
  namespace: string;
  /** Payment's simulated latency, `N` or `MIN-MAX` ms. */
  paymentLatency: string;
  /** Registration processes and gateways (gateway k calls registration k). */
  replicas: number;
  /** Extra environment per service. */
  env?: Partial<Record<ServiceName, Record<string, string>>>;
  /** Extra Node options per service (e.g. `--cpu-prof`). */
  nodeArgs?: Partial<Record<ServiceName, string[]>>;
}

/**
 * The options every load benchmark takes about the system it drives (node:util parseArgs
 * declarations): --url (a running gateway; then --subgraphs and --mongodb-uri), --replicas,
 * --payment-latency, --timeout and --json.
 */
export const TARGET_OPTIONS = {
  url: { type: 'string' },
  subgraphs: { type: 'string' },
  'mongodb-uri': { type: 'string' },
  replicas: { type: 'string', default: '1' },
  json: { type: 'string' },
} as const;

/**
 * The system a benchmark's options name: the running one at --url, else one started here
 * (see {@link startOwnSystem}).
 */
export function targetOf(
  opt: { url?: string; subgraphs?: string; 'mongodb-uri'?: string; replicas: string },
  own: Omit<OwnSystemOptions, 'replicas'>,
): Promise<Target> | Target {
  return opt.url ? runningSystem(opt.url, opt.subgraphs, opt['mongodb-uri']) : startOwnSystem({ ...own, replicas: Number(opt.replicas) });
}

/** Starts the system as `npm start` does, on ports 4100–4104 (beside a running `npm start`), with empty databases and stream. */
export async function startOwnSystem(opts: OwnSystemOptions): Promise<Target> {
  // A server of the bench's own (an empty store, so the bench's streams start empty).
  const nats = await ensureNats({ store: opts.namespace, fresh: true, namespace: opts.namespace });
  const mongo = await ensureMongo();
  process.env.MONGODB_URI = mongo.uri;
  for (const s of SERVICES.filter((x) => x.name !== 'gateway')) {
    const conn = await mongoose.createConnection(withDatabase(mongo.uri, `${opts.namespace}_${s.name}`)).asPromise();
    await conn.dropDatabase();
    await conn.close();
  }
  const ports: Record<string, number> = {};
  for (const s of SERVICES) ports[s.name] = s.port + 100;
  const common = { NATS_NAMESPACE: opts.namespace, LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn' };
  // Registration's replicas share one process's database connections (8), so that the database
  // sees the same concurrency whatever N: FerretDB v1 stalls once its pool (40) is exhausted.
  const registrationUri = new URL(withDatabase(mongo.uri, `${opts.namespace}_registration`));
  if (registrationUri.searchParams.has('maxPoolSize'))
    registrationUri.searchParams.set(
      'maxPoolSize',
      String(Math.max(2, Math.floor(Number(registrationUri.searchParams.get('maxPoolSize')) / opts.replicas))),
    );
  const envOf = (name: ServiceName): Record<string, string> => ({
    ...common,
    ...(name === 'payment' ? { PAYMENT_LATENCY_MS: opts.paymentLatency } : {}),
    ...(name === 'registration' ? { MONGODB_URI: registrationUri.toString() } : {}),
    // Bench students send faster than the per-caller mutation limit allows a person.
    ...(name === 'gateway'
      ? {
          MUTATION_RATE_LIMIT: process.env.MUTATION_RATE_LIMIT ?? '1000000',
          QUERY_RATE_LIMIT: process.env.QUERY_RATE_LIMIT ?? '1000000',
        }
      : {}),
    ...opts.env?.[name],
  });
  const stack = await startStack({
    ports,
    databasePrefix: opts.namespace,
    nodeArgs: opts.nodeArgs,
    say,
    env: Object.fromEntries(SERVICES.map((s) => [s.name, envOf(s.name as ServiceName)])),
  });
  // Replicas k = 2..N: registration on 41k1, a gateway on 41k0 that calls it.
  const gateways = [stack.urls.gateway];
  const replicaPids: Record<string, number | undefined> = {};
  for (let k = 2; k <= opts.replicas; k++) {
    const regPort = 4101 + 10 * (k - 1);
    const gwPort = 4100 + 10 * (k - 1);
    replicaPids[`registration#${k}`] = (await startReplica(stack, 'registration', `registration#${k}`, regPort)).pid;
    replicaPids[`gateway#${k}`] = (
      await startReplica(stack, 'gateway', `gateway#${k}`, gwPort, { REGISTRATION_URL: `http://127.0.0.1:${regPort}` })
    ).pid;
    gateways.push(`http://127.0.0.1:${gwPort}`);
    say(`replica ${k}: registration on ${regPort}, gateway on ${gwPort}`);
  }
  const mongoPort = Number(new URL(mongo.uri).port || 27017);
  return {
    urls: stack.urls as Record<ServiceName, string>,
    gateways,
    databases: stack.databases as unknown as DatabaseUris,
    pids: {
      ...Object.fromEntries(SERVICES.map((s) => [s.name, stack.children[s.name].pid])),
      ...replicaPids,
      ...databasePids(mongoPort),
      nats: pidOnPort(Number(new URL(nats.url.split(',')[0]).port || 4222)),
    },
    backend: mongo.backend,
    stop: () => stack.stop(),
  };
}

/**
 * The database server's processes: the one on the MongoDB port and, when that is FerretDB on
 * its PostgreSQL backend, the PostgreSQL server (from FerretDB's `--postgresql-url`).
 */
function databasePids(mongoPort: number): Record<string, number | undefined> {
  const database = pidOnPort(mongoPort);
  const out: Record<string, number | undefined> = { database };
  const args = database ? readFileSync(`/proc/${database}/cmdline`, 'utf8').split('\0') : [];
  const pg = args.find((a) => a.startsWith('--postgresql-url='));
  if (args.includes('--handler=postgresql') && pg)
    out.postgresql = pidOnPort(Number(new URL(pg.slice('--postgresql-url='.length)).port || 5432));
  return out;
}

/**
 * A running system: the gateway at `url`, the subgraphs at `subgraphs` (registration, payment,
 * lecture, dashboard; default ports 4001–4004 on the gateway's host) and their databases
 * `courses_<name>` on `mongodbUri` (default MONGODB_URI, else 127.0.0.1:27017).
 */
export function runningSystem(url: string, subgraphs?: string, mongodbUri?: string): Target {
  const gateway = url.replace(/\/$/, '');
  const host = new URL(gateway).hostname;
  const [registration, payment, lecture, dashboard] = subgraphs?.split(',') ?? [4001, 4002, 4003, 4004].map((p) => `http://${host}:${p}`);
  const base = mongodbUri ?? process.env.MONGODB_URI ?? 'mongodb://127.0.0.1:27017';
  const db = (n: string) => withDatabase(base, `courses_${n}`);
  const urls = { gateway, registration, payment, lecture, dashboard };
  const port = (u: string) => Number(new URL(u).port);
  return {
    urls,
    gateways: [gateway],
    databases: { registration: db('registration'), payment: db('payment'), lecture: db('lecture'), dashboard: db('dashboard') },
    pids: {
      ...Object.fromEntries(Object.entries(urls).map(([n, u]) => [n, pidOnPort(port(u))])),
      ...databasePids(Number(new URL(base).port || 27017)),
      nats: pidOnPort(4222),
    },
    backend: `running system (${base})`,
    stop: async () => undefined,
  };
}

/** One GraphQL answer: the outcome code (`OK`, an `extensions.code`, TIMEOUT, HTTP_<status>, NETWORK), its data and latency (ms). */
export interface Answer {
  code: string;
  data?: any;
  errors?: Array<{ message: string; extensions?: Record<string, unknown> }>;
  ms: number;
}

/** A GraphQL POST over keep-alive connections (at most `maxSockets`), given up after `timeoutMs` (code TIMEOUT). */
export function createPoster(maxSockets: number, timeoutMs: number) {
  const agent = new http.Agent({ keepAlive: true, maxSockets });
  function post(url: string, token: string, query: string, variables: Record<string, unknown>): Promise<Answer> {
    const body = JSON.stringify({ query, variables });
    const started = performance.now();
    return new Promise((resolve) => {
      const req = http.request(
        `${url}/graphql`,
        {
          method: 'POST',
          agent,
          headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), authorization: `Bearer ${token}` },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const ms = performance.now() - started;
            try {
              const r = JSON.parse(Buffer.concat(chunks).toString('utf8'));
              const code = r.errors?.length
                ? String(r.errors[0].extensions?.code ?? 'ERROR')
                : res.statusCode === 200
                  ? 'OK'
                  : `HTTP_${res.statusCode}`;
              resolve({ code, data: r.data, errors: r.errors, ms });
            } catch {
              resolve({ code: `HTTP_${res.statusCode}`, ms });
            }
          });
          res.on('error', () => resolve({ code: 'NETWORK', ms: performance.now() - started }));
        },
      );
      req.setTimeout(timeoutMs, () => {
        req.destroy();
        resolve({ code: 'TIMEOUT', ms: performance.now() - started });
      });
      req.on('error', () => resolve({ code: 'NETWORK', ms: performance.now() - started }));
      req.end(body);
    });
  }
  return { post, close: () => agent.destroy() };
}

/** The GraphQL POST of {@link createPoster}. */
export type Post = ReturnType<typeof createPoster>['post'];

/**
 * Opens a lecture of `capacity` seats at 10,000 KRW as `instructor` through the gateway at
 * `gateway`. @returns its id. @throws when the gateway refuses it.
 */
export async function openLecture(post: Post, gateway: string, instructor: string, title: string, capacity: number): Promise<string> {
  const r = await post(gateway, instructor, 'mutation($i: OpenLectureInput!) { openLecture(input: $i) { id } }', {
    i: { title, capacity, price: 10_000 },
  });
  if (r.code !== 'OK') throw new Error(`could not open a lecture: ${r.code} ${JSON.stringify(r.errors)}`);
  return r.data.openLecture.id;
}

/**
 * The samples of Prometheus metric `name` (counter, or a histogram's `_bucket`/`_count` series)
 * exposed by the service at `url`: `series{labels}` → value, summed over every URL given.
 */
export async function scrape(urls: readonly string[], name: string): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const url of urls) {
    const text = await fetch(`${url}/metrics`).then(
      (r) => r.text(),
      () => '',
    );
    for (const line of text.split('\n')) {
      if (!line.startsWith(name)) continue;
      const at = line.lastIndexOf(' ');
      const key = line.slice(0, at);
      out.set(key, (out.get(key) ?? 0) + Number(line.slice(at + 1)));
    }
  }
  return out;
}

/** `after` minus `before`, series by series (what happened between two {@link scrape}s). */
export function delta(before: Map<string, number>, after: Map<string, number>): Map<string, number> {
  return new Map([...after].map(([k, v]) => [k, v - (before.get(k) ?? 0)]));
}

/** CPU seconds used so far by every process of `target` and by this one (`bench`). */
export function cpuNow(target: Target): Record<string, number> {
  const cpu: Record<string, number> = {};
  for (const [name, pid] of Object.entries(target.pids)) if (pid) cpu[name] = cpuSecondsOfTree(pid);
  cpu.bench = ownCpuSeconds();
  return cpu;
}

/** One row per process (and a total): CPU seconds between two {@link cpuNow} readings, ms per `per` unit, cores used over `seconds`. */
export function cpuRows(before: Record<string, number>, after: Record<string, number>, per: number, seconds: number) {
  const rows = Object.keys(after).map((name) => {
    const sec = after[name] - (before[name] ?? 0);
    return {
      process: name,
      cpuSeconds: round(sec, 2),
      cpuMsPer: round((1000 * sec) / Math.max(1, per), 2),
      cores: round(sec / seconds, 2),
    };
  });
  const total = rows.reduce((a, r) => a + r.cpuSeconds, 0);
  rows.push({
    process: 'total',
    cpuSeconds: round(total, 2),
    cpuMsPer: round((1000 * total) / Math.max(1, per), 2),
    cores: round(total / seconds, 2),
  });
  return rows;
}

/** The `p`th percentile (nearest rank) of ascending `sorted`; NaN when empty. */
export function percentile(sorted: readonly number[], p: number): number {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] : NaN;
}

/** p50, p99 and max (ms, one decimal) of `values`, and how many there are. */
export function spread(values: readonly number[]): { n: number; p50ms: number; p99ms: number; maxMs: number } {
  const s = [...values].sort((a, b) => a - b);
  return { n: s.length, p50ms: round(percentile(s, 50)), p99ms: round(percentile(s, 99)), maxMs: round(s.at(-1) ?? NaN) };
}

export const round = (x: number, digits = 1) => Number(x.toFixed(digits));

/** A latency spec `N` or `MIN-MAX` (ms) as a function drawing one value. */
export function range(spec: string): () => number {
  const m = /^(\d+)(?:-(\d+))?$/.exec(spec.trim());
  if (!m) throw new Error(`expected N or MIN-MAX in ms, got "${spec}"`);
  const lo = Number(m[1]);
  const hi = m[2] === undefined ? lo : Number(m[2]);
  return () => lo + Math.floor(Math.random() * (hi - lo + 1));
}

/** Waits (up to 60 s) until the consistency checker finds nothing, and returns what it finds last. */
export async function settle(target: Target): Promise<Violation[]> {
  say('waiting for the system to settle, then checking consistency');
  let violations = await checkConsistency(target.databases);
  const until = Date.now() + 60_000;
  while (violations.length && Date.now() < until) {
    await new Promise((res) => setTimeout(res, 1_000));
    violations = await checkConsistency(target.databases);
  }
  return violations;
}
