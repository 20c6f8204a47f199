/**
 * `npm run bench:load`: registration under load, end to end through the gateway.
 *
 * N concurrent students each loop `registerForLecture` → `cancelRegistration` over a few
 * large lectures (a failed registration is retried at once, as a student would), with an
 * optional think time between operations. It starts the system as `npm start` does (separate
 * processes, its own databases `bench_<name>` and NATS namespace `bench`), or drives a
 * running one (`--url`). After a warm-up it measures for `--seconds` and prints:
 * - success %, outcome codes, mutations/s, latency p50/p95/p99/max, answers over 5 s;
 * - CPU ms per mutation of every process: gateway, each subgraph, the database server
 *   (FerretDB, and PostgreSQL when it is FerretDB's backend, or mongod), NATS, and the bench
 *   itself (from /proc; Linux only);
 * - database commands per mutation and per register→cancel cycle, end to end (consumers,
 *   relays and timers included), from each subgraph's `db_commands_total` (the driver's
 *   command monitoring), with the busiest commands listed.
 * It ends with the consistency checker once the system is quiet (exit 1 on a violation).
 * Figures only: nothing here asserts a timing.
 *
 * Options (`npm run bench:load -- --students 100 --payment-latency 400-600`):
 *   --students N         concurrent students (200)
 *   --seconds S          measured seconds (30), after --warmup S (5)
 *   --lectures N         lectures to register for (10), each with --seats N (10000)
 *   --payment-latency L  payment's simulated latency, `N` or `MIN-MAX` ms (0); own system only
 *   --think L            think time between a student's operations, `N` or `MIN-MAX` ms (0)
 *   --timeout MS         client timeout per request (10000)
 *   --url URL            use the running gateway at URL instead of starting a system; then
 *                        --subgraphs URL,URL,URL,URL (registration, payment, lecture, dashboard;
 *                        default ports 4001–4004) and --mongodb-uri URI (databases courses_<name>)
 *   --replicas N         run N registration processes and N gateways (1); gateway k calls
 *                        registration k and students are spread over the gateways (a static
 *                        split, so that no proxy's CPU is counted); own system only
 *   --json FILE          also write the figures as JSON
 *   --preload N          after the run, store N registrations straight in the databases (see
 *                        lib/preload.ts) and run again: the two runs' figures and their ratio
 */
import { readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { parseArgs } from 'node:util';
import mongoose from 'mongoose';
import { issueToken } from '@courses/gateway';
import { checkConsistency, formatViolations, type DatabaseUris } from './lib/consistency.js';
import { preload } from './lib/preload.js';
import { cpuSecondsOfTree, ownCpuSeconds, pidOnPort } from './lib/procs.mjs';
import { devSecrets, ensureMongo, ensureNats, say, withDatabase } from './lib/provision.mjs';
import { SERVICES, startReplica, startStack } from './lib/stack.mjs';

const { values: opt } = parseArgs({
  options: {
    students: { type: 'string', default: '200' },
    seconds: { type: 'string', default: '30' },
    warmup: { type: 'string', default: '5' },
    lectures: { type: 'string', default: '10' },
    seats: { type: 'string', default: '10000' },
    'payment-latency': { type: 'string', default: '0' },
    think: { type: 'string', default: '0' },
    timeout: { type: 'string', default: '10000' },
    url: { type: 'string' },
    subgraphs: { type: 'string' },
    'mongodb-uri': { type: 'string' },
    json: { type: 'string' },
    preload: { type: 'string', default: '0' },
    replicas: { type: 'string', default: '1' },
  },
});
const REPLICAS = Number(opt.replicas);
const STUDENTS = Number(opt.students);
const SECONDS = Number(opt.seconds);
const WARMUP = Number(opt.warmup);
const LECTURES = Number(opt.lectures);
const SEATS = Number(opt.seats);
const TIMEOUT_MS = Number(opt.timeout);
const PRELOAD = Number(opt.preload);
const NAMESPACE = 'bench';

/** A latency spec `N` or `MIN-MAX` (ms) as a function drawing one value. */
function range(spec: string): () => number {
  const m = /^(\d+)(?:-(\d+))?$/.exec(spec.trim());
  if (!m) throw new Error(`expected N or MIN-MAX in ms, got "${spec}"`);
  const lo = Number(m[1]);
  const hi = m[2] === undefined ? lo : Number(m[2]);
  return () => lo + Math.floor(Math.random() * (hi - lo + 1));
}
const think = range(opt.think);

type Name = 'gateway' | 'registration' | 'payment' | 'lecture' | 'dashboard';
interface Target {
  urls: Record<Name, string>;
  /** Every gateway's URL (the first is urls.gateway); student i uses gateways[i % length]. */
  gateways: string[];
  databases: DatabaseUris;
  /** Process name → pid whose tree's CPU is counted. */
  pids: Record<string, number | undefined>;
  backend: string;
  stop(): Promise<void>;
}

/** Starts the system as `npm start` does, on free ports, with bench databases and namespace. */
async function ownSystem(): Promise<Target> {
  // A server of the bench's own (an empty store, so the bench's streams start empty).
  const nats = await ensureNats({ store: 'bench', fresh: true, namespace: NAMESPACE });
  const mongo = await ensureMongo();
  process.env.MONGODB_URI = mongo.uri;
  // A clean slate: this run's databases.
  for (const s of SERVICES.filter((x) => x.name !== 'gateway')) {
    const conn = await mongoose.createConnection(withDatabase(mongo.uri, `bench_${s.name}`)).asPromise();
    await conn.dropDatabase();
    await conn.close();
  }
  const ports: Record<string, number> = {};
  for (const s of SERVICES) ports[s.name] = s.port + 100; // 4100–4104, beside a running `npm start`
  const common = { NATS_NAMESPACE: NAMESPACE, LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn' };
  // Registration's replicas share one process's database connections (8), so that the database
  // sees the same concurrency whatever N: FerretDB v1 stalls once its pool (40) is exhausted.
  const registrationUri = new URL(withDatabase(mongo.uri, 'bench_registration'));
  if (registrationUri.searchParams.has('maxPoolSize'))
    registrationUri.searchParams.set(
      'maxPoolSize',
      String(Math.max(2, Math.floor(Number(registrationUri.searchParams.get('maxPoolSize')) / REPLICAS))),
    );
  const stack = await startStack({
    ports,
    databasePrefix: 'bench',
    say,
    env: Object.fromEntries(
      SERVICES.map((s) => [
        s.name,
        {
          ...common,
          ...(s.name === 'payment' ? { PAYMENT_LATENCY_MS: opt['payment-latency'] } : {}),
          ...(s.name === 'registration' ? { MONGODB_URI: registrationUri.toString() } : {}),
          // A student here loops without thinking, faster than the per-caller mutation limit allows a person.
          ...(s.name === 'gateway' ? { MUTATION_RATE_LIMIT: process.env.MUTATION_RATE_LIMIT ?? '1000000' } : {}),
        },
      ]),
    ),
  });
  // Replicas k = 2..N: registration on 41k1, a gateway on 41k0 that calls it.
  const gateways = [stack.urls.gateway];
  const replicaPids: Record<string, number | undefined> = {};
  for (let k = 2; k <= REPLICAS; k++) {
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
    urls: stack.urls as Record<Name, string>,
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

/** Uses a running system at --url. */
function runningSystem(): Target {
  const gateway = opt.url!.replace(/\/$/, '');
  const host = new URL(gateway).hostname;
  const [registration, payment, lecture, dashboard] =
    opt.subgraphs?.split(',') ?? [4001, 4002, 4003, 4004].map((p) => `http://${host}:${p}`);
  const base = opt['mongodb-uri'] ?? process.env.MONGODB_URI ?? 'mongodb://127.0.0.1:27017';
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

const agent = new http.Agent({ keepAlive: true, maxSockets: STUDENTS + 16 });

/** One GraphQL POST; resolves with the outcome code (`OK`, an `extensions.code`, TIMEOUT, HTTP_<status>, NETWORK) and data. */
function post(
  url: string,
  token: string,
  query: string,
  variables: Record<string, unknown>,
): Promise<{ code: string; data?: any; ms: number }> {
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
            resolve({ code, data: r.data, ms });
          } catch {
            resolve({ code: `HTTP_${res.statusCode}`, ms });
          }
        });
        res.on('error', () => resolve({ code: 'NETWORK', ms: performance.now() - started }));
      },
    );
    req.setTimeout(TIMEOUT_MS, () => {
      req.destroy();
      resolve({ code: 'TIMEOUT', ms: performance.now() - started });
    });
    req.on('error', () => resolve({ code: 'NETWORK', ms: performance.now() - started }));
    req.end(body);
  });
}

/** `db_commands_total` of a service's /metrics, by `command collection`. */
async function dbCommands(url: string): Promise<Map<string, number>> {
  const text = await fetch(`${url}/metrics`).then(
    (r) => r.text(),
    () => '',
  );
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line.startsWith('db_commands_total{')) continue;
    const command = /command="([^"]*)"/.exec(line)?.[1] ?? '';
    const collection = /collection="([^"]*)"/.exec(line)?.[1] ?? '';
    out.set(`${command} ${collection}`.trim(), Number(line.split(' ').at(-1)));
  }
  return out;
}

async function snapshot(t: Target) {
  const cpu: Record<string, number> = {};
  for (const [name, pid] of Object.entries(t.pids)) if (pid) cpu[name] = cpuSecondsOfTree(pid);
  cpu.bench = ownCpuSeconds();
  const commands: Record<string, Map<string, number>> = {};
  for (const name of ['registration', 'payment', 'lecture', 'dashboard'] as const) commands[name] = await dbCommands(t.urls[name]);
  return { at: performance.now(), cpu, commands };
}

function percentile(sorted: number[], p: number): number {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] : NaN;
}
const round = (x: number, digits = 1) => Number(x.toFixed(digits));

const REGISTER = 'mutation($id: ID!) { registerForLecture(lectureId: $id) { id status } }';
const CANCEL = 'mutation($id: ID!) { cancelRegistration(id: $id) { id status } }';

/** One load phase's figures (see the module doc). */
interface Phase {
  summary: Record<string, unknown> & { mutationsPerSecond: number; successPercent: number };
  outcomes: Record<string, number>;
  cpu: Array<{ process: string; cpuSeconds: number; cpuMsPerMutation: number; cores: number }>;
  commands: { total: number; perMutation: number; perRegisterCancelCycle: number };
  commandRows: Array<{ service: string; command: string; count: number; perMutation: number }>;
}

/** Runs the students' loop: warm-up, then `SECONDS` measured; prints and returns the figures. */
async function runLoad(target: Target, lectures: string[], tokens: string[], label: string, warmupSeconds = WARMUP): Promise<Phase> {
  let measuring = false;
  let running = true;
  const samples: Array<{ kind: 'register' | 'cancel'; code: string; ms: number }> = [];
  const record = (kind: 'register' | 'cancel', r: { code: string; ms: number }) => {
    if (measuring) samples.push({ kind, code: r.code, ms: r.ms });
  };
  const pause = async () => {
    const ms = think();
    if (ms > 0) await new Promise((res) => setTimeout(res, ms));
  };
  const student = async (i: number) => {
    const gw = target.gateways[i % target.gateways.length];
    for (let k = i; running; k++) {
      const reg = await post(gw, tokens[i], REGISTER, { id: lectures[k % lectures.length] });
      record('register', reg);
      await pause();
      if (reg.code !== 'OK') continue;
      // Always canceled, also when the run ends: the next phase starts from a clean slate.
      const c = await post(gw, tokens[i], CANCEL, { id: reg.data.registerForLecture.id });
      record('cancel', c);
      await pause();
    }
  };
  const loops = Array.from({ length: tokens.length }, (_, i) => student(i));
  await new Promise((res) => setTimeout(res, warmupSeconds * 1000));
  const before = await snapshot(target);
  measuring = true;
  await new Promise((res) => setTimeout(res, SECONDS * 1000));
  measuring = false;
  const after = await snapshot(target);
  running = false;
  await Promise.all(loops);
  const elapsed = (after.at - before.at) / 1000;

  const n = samples.length;
  const ok = samples.filter((x) => x.code === 'OK');
  const lat = samples.map((x) => x.ms).sort((a, b) => a - b);
  const byCode = new Map<string, { n: number; ms: number[] }>();
  for (const x of samples) {
    const k = `${x.kind} ${x.code}`;
    const e = byCode.get(k) ?? { n: 0, ms: [] };
    e.n++;
    e.ms.push(x.ms);
    byCode.set(k, e);
  }
  const registered = ok.filter((x) => x.kind === 'register').length;
  const summary = {
    phase: label,
    students: tokens.length,
    replicas: target.gateways.length,
    paymentLatencyMs: opt['payment-latency'],
    thinkMs: opt.think,
    backend: target.backend,
    seconds: round(elapsed),
    mutations: n,
    successPercent: round((100 * ok.length) / Math.max(1, n), 2),
    mutationsPerSecond: round(n / elapsed),
    okMutationsPerSecond: round(ok.length / elapsed),
    registrationsPerSecond: round(registered / elapsed),
    p50ms: round(percentile(lat, 50)),
    p95ms: round(percentile(lat, 95)),
    p99ms: round(percentile(lat, 99)),
    maxMs: round(lat.at(-1) ?? NaN),
    over5s: samples.filter((x) => x.ms > 5_000).length,
  };
  say(`${label}:`);
  console.table([summary]);
  console.table(
    [...byCode.entries()].sort().map(([outcome, e]) => {
      const ms = e.ms.sort((a, b) => a - b);
      return {
        outcome,
        n: e.n,
        percent: round((100 * e.n) / n, 2),
        p50ms: round(percentile(ms, 50)),
        p99ms: round(percentile(ms, 99)),
        maxMs: round(ms.at(-1)!),
      };
    }),
  );
  const cpuRows = Object.keys(after.cpu).map((name) => {
    const sec = after.cpu[name] - (before.cpu[name] ?? 0);
    return {
      process: name,
      cpuSeconds: round(sec, 2),
      cpuMsPerMutation: round((1000 * sec) / Math.max(1, n), 2),
      cores: round(sec / elapsed, 2),
    };
  });
  const cpuTotal = cpuRows.reduce((a, r) => a + r.cpuSeconds, 0);
  cpuRows.push({
    process: 'total',
    cpuSeconds: round(cpuTotal, 2),
    cpuMsPerMutation: round((1000 * cpuTotal) / Math.max(1, n), 2),
    cores: round(cpuTotal / elapsed, 2),
  });
  console.table(cpuRows);
  const commandRows: Phase['commandRows'] = [];
  let commandTotal = 0;
  for (const [service, m] of Object.entries(after.commands)) {
    for (const [k, v] of m) {
      const d = v - (before.commands[service].get(k) ?? 0);
      if (d <= 0) continue;
      commandTotal += d;
      commandRows.push({ service, command: k, count: d, perMutation: round(d / Math.max(1, n), 2) });
    }
  }
  commandRows.sort((a, b) => b.count - a.count);
  console.table(commandRows.slice(0, 20));
  const cycles = Math.max(1, ok.filter((x) => x.kind === 'cancel').length);
  const commands = {
    total: commandTotal,
    perMutation: round(commandTotal / Math.max(1, n), 2),
    perRegisterCancelCycle: round(commandTotal / cycles, 2),
  };
  say(
    `database commands: ${commands.total} in the window, ${commands.perMutation} per mutation, ${commands.perRegisterCancelCycle} per register→cancel cycle`,
  );
  return { summary, outcomes: Object.fromEntries([...byCode].map(([k, e]) => [k, e.n])), cpu: cpuRows, commands, commandRows };
}

async function main(): Promise<number> {
  say(
    `bench:load: ${STUDENTS} students, ${LECTURES} lectures of ${SEATS} seats, payment latency ${opt['payment-latency']} ms, think ${opt.think} ms, ${WARMUP} s warm-up + ${SECONDS} s measured${PRELOAD ? `, then again with ${PRELOAD} registrations stored` : ''}`,
  );
  const target = opt.url ? runningSystem() : await ownSystem();
  try {
    const gw = target.urls.gateway;
    const secret = devSecrets().JWT_SECRET;
    const instructor = await issueToken({ sub: 'i-bench', role: 'INSTRUCTOR' }, secret);
    const lectures: string[] = [];
    for (let i = 0; i < LECTURES; i++) {
      const r = await post(gw, instructor, 'mutation($i: OpenLectureInput!) { openLecture(input: $i) { id } }', {
        i: { title: `Load test ${Date.now()}-${i}`, capacity: SEATS, price: 10_000 },
      });
      if (r.code !== 'OK') throw new Error(`could not open a lecture: ${r.code}`);
      lectures.push(r.data.openLecture.id);
    }
    // Registration learns of lectures from events: wait until each one takes a registration.
    const probe = await issueToken({ sub: 's-bench-probe', role: 'STUDENT' }, secret);
    for (const id of lectures) {
      for (let tries = 0; ; tries++) {
        const r = await post(gw, probe, REGISTER, { id });
        if (r.code === 'OK') {
          await post(gw, probe, CANCEL, { id: r.data.registerForLecture.id });
          break;
        }
        if (tries > 300) throw new Error(`lecture ${id} never became registrable (last: ${r.code})`);
        await new Promise((res) => setTimeout(res, 100));
      }
    }
    const tokens = await Promise.all(
      Array.from({ length: STUDENTS }, (_, i) => issueToken({ sub: `s-load-${i}`, role: 'STUDENT' }, secret)),
    );

    // Before a comparison, a longer warm-up: both phases should meet compiled, warm code.
    const phases: Phase[] = [await runLoad(target, lectures, tokens, PRELOAD ? 'empty database' : 'load', PRELOAD ? WARMUP + 15 : WARMUP)];
    if (PRELOAD) {
      await settle(target);
      say(`storing ${PRELOAD} registrations (half confirmed, half canceled and refunded) in every context's database`);
      const t0 = Date.now();
      await preload(target.databases, PRELOAD);
      say(`stored in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
      phases.push(await runLoad(target, lectures, tokens, `${PRELOAD} registrations stored`));
      const [a, b] = phases;
      const ratios = {
        mutationsPerSecond: round(b.summary.mutationsPerSecond / a.summary.mutationsPerSecond, 3),
        cpuMsPerMutation: round(b.cpu.at(-1)!.cpuMsPerMutation / a.cpu.at(-1)!.cpuMsPerMutation, 3),
        databaseCpuMsPerMutation: round(dbCpu(b) / dbCpu(a), 3),
        p50ms: round((b.summary.p50ms as number) / (a.summary.p50ms as number), 3),
      };
      say(`with ${PRELOAD} registrations stored ÷ empty:`);
      console.table([ratios]);
      (phases as unknown as { ratios: unknown }).ratios = ratios;
    }

    const violations = await settle(target);
    say(
      violations.length
        ? `✖ ${violations.length} consistency violation(s):\n${formatViolations(violations.slice(0, 20))}`
        : '✔ consistency checker: 0 violations',
    );
    if (opt.json) {
      const last = phases.at(-1)!;
      writeFileSync(
        opt.json,
        JSON.stringify(
          {
            ...last,
            phases: phases.map((p) => ({ summary: p.summary, outcomes: p.outcomes, cpu: p.cpu, commands: p.commands })),
            violations: violations.length,
          },
          null,
          2,
        ),
      );
    }
    return violations.length ? 1 : 0;
  } finally {
    agent.destroy();
    await target.stop();
  }
}

/** CPU ms per mutation of the database server (FerretDB, PostgreSQL). */
function dbCpu(p: Phase): number {
  return p.cpu.filter((r) => r.process === 'database' || r.process === 'postgresql').reduce((a, r) => a + r.cpuMsPerMutation, 0);
}

/** Waits (up to 60 s) until the consistency checker finds nothing, and returns what it finds last. */
async function settle(target: Target) {
  say('waiting for the system to settle, then checking consistency');
  let violations = await checkConsistency(target.databases);
  const until = Date.now() + 60_000;
  while (violations.length && Date.now() < until) {
    await new Promise((res) => setTimeout(res, 1_000));
    violations = await checkConsistency(target.databases);
  }
  return violations;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`✖ ${err.stack ?? err.message}\n`);
    process.exit(1);
  },
);
