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
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { formatViolations } from '@courses/devkit/consistency';
import { devSecrets, say } from '@courses/devkit/provision';
import { issueToken } from '@courses/gateway';
import {
  cpuNow,
  cpuRows,
  createPoster,
  openLecture,
  percentile,
  range,
  round,
  settle,
  TARGET_OPTIONS,
  targetOf,
  type Target,
} from './lib/bench-target.js';
import { preload } from './lib/preload.js';

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
    preload: { type: 'string', default: '0' },
    ...TARGET_OPTIONS,
  },
});
const STUDENTS = Number(opt.students);
const SECONDS = Number(opt.seconds);
const WARMUP = Number(opt.warmup);
const LECTURES = Number(opt.lectures);
const SEATS = Number(opt.seats);
const TIMEOUT_MS = Number(opt.timeout);
const PRELOAD = Number(opt.preload);
const think = range(opt.think);

const { post, close } = createPoster(STUDENTS + 16, TIMEOUT_MS);

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
  const cpu = cpuNow(t);
  const commands: Record<string, Map<string, number>> = {};
  for (const name of ['registration', 'payment', 'lecture', 'dashboard'] as const) commands[name] = await dbCommands(t.urls[name]);
  return { at: performance.now(), cpu, commands };
}

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
  const cpu = cpuRows(before.cpu, after.cpu, n, elapsed).map(({ cpuMsPer, ...r }) => ({ ...r, cpuMsPerMutation: cpuMsPer }));
  console.table(cpu);
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
  return { summary, outcomes: Object.fromEntries([...byCode].map(([k, e]) => [k, e.n])), cpu, commands, commandRows };
}

async function main(): Promise<number> {
  say(
    `bench:load: ${STUDENTS} students, ${LECTURES} lectures of ${SEATS} seats, payment latency ${opt['payment-latency']} ms, think ${opt.think} ms, ${WARMUP} s warm-up + ${SECONDS} s measured${PRELOAD ? `, then again with ${PRELOAD} registrations stored` : ''}`,
  );
  const target = await targetOf(opt, { namespace: 'bench', paymentLatency: opt['payment-latency'] });
  try {
    const gw = target.urls.gateway;
    const secret = devSecrets().JWT_SECRET;
    const instructor = await issueToken({ sub: 'i-bench', role: 'INSTRUCTOR' }, secret);
    const lectures: string[] = [];
    for (let i = 0; i < LECTURES; i++) lectures.push(await openLecture(post, gw, instructor, `Load test ${Date.now()}-${i}`, SEATS));
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
    close();
    await target.stop();
  }
}

/** CPU ms per mutation of the database server (FerretDB, PostgreSQL). */
function dbCpu(p: Phase): number {
  return p.cpu.filter((r) => r.process === 'database' || r.process === 'postgresql').reduce((a, r) => a + r.cpuMsPerMutation, 0);
}

main().then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`✖ ${err.stack ?? err.message}\n`);
    process.exit(1);
  },
);
