/**
 * `npm run soak`: a bounded, randomized run against the whole system with faults injected,
 * ending with the consistency checker. Not part of `npm test`.
 *
 * CLIENTS concurrent clients (default 8) perform OPS operations (default 2000): open a
 * lecture, register, cancel a registration, cancel a lecture. Meanwhile, every ~FAULT_EVERY_MS
 * (default 3000) one fault at random: a subgraph killed (requests cut, nothing drained or
 * acked) and restarted 1–2 s later, the NATS
 * server restarted, or payment made slower than the breaker's timeout for 3 s. Then it waits
 * for the system to settle and runs the checker. Prints operations by outcome, faults
 * injected, violations, and the dashboard's lag (state change → read model updated) p50/p99.
 * Exit code 1 when any invariant is violated.
 *
 * It runs its own nats-server (so it can restart it) and the services in this process.
 */
import mongoose from 'mongoose';
import { formatViolations } from '@courses/devkit/consistency';
import { gql } from '@courses/devkit/graphql-client';
import { ensureMongo, stopStarted } from '@courses/devkit/provision';

const OPS = Number(process.env.OPS ?? 2000);
const CLIENTS = Number(process.env.CLIENTS ?? 8);
const FAULT_EVERY_MS = Number(process.env.FAULT_EVERY_MS ?? 3000);
const SEED = Number(process.env.SEED ?? Date.now() % 100000);

// A small seeded PRNG (mulberry32), so a run can be repeated with SEED.
let state = SEED >>> 0;
function random(): number {
  state = (state + 0x6d2b79f5) >>> 0;
  let t = state;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const pick = <T>(xs: T[]): T => xs[Math.floor(random() * xs.length)];

const mongo = await ensureMongo({ preferPort: 27020 });
process.env.TEST_MONGODB_URI = mongo.uri;
const { startOwnNatsServer } = await import('@courses/test-kit/nats-server');
const nats = await startOwnNatsServer();
const { startSystem } = await import('@courses/test-kit/system');
const { mongoUri } = await import('@courses/test-kit/env');
// Attempts a dead process left are abandoned after 5 s; the timing budget wants the admission
// queue's wait and the charge's timeout within that (platform's timing-budget.ts).
const sys = await startSystem({ nats, registration: { PENDING_TIMEOUT_MS: '5000', REGISTRATION_QUEUE_MS: '3000' } });

const instructors = await Promise.all(['i-soak-1', 'i-soak-2', 'i-soak-3'].map((s) => sys.token('INSTRUCTOR', s)));
const students = await Promise.all(Array.from({ length: 40 }, (_, i) => sys.token('STUDENT', `s-soak-${i}`)));
const lectures: string[] = [];
const ownerOf = new Map<string, string>(); // lecture id → its instructor's token
const registrations: Array<{ id: string; token: string }> = [];
const outcomes = new Map<string, number>();
const count = (k: string) => outcomes.set(k, (outcomes.get(k) ?? 0) + 1);
/** The first error message seen for each outcome, for the report. */
const examples = new Map<string, string>();
const faults = new Map<string, number>();
const countFault = (k: string) => faults.set(k, (faults.get(k) ?? 0) + 1);

async function op(kind: string, query: string, variables: Record<string, unknown>, token: string): Promise<any> {
  try {
    const r = await gql(sys.url, query, variables, token);
    const code = r.errors?.[0]?.extensions?.code ?? (r.errors ? 'ERROR' : 'OK');
    count(`${kind} ${code}`);
    if (r.errors && !examples.has(`${kind} ${code}`)) examples.set(`${kind} ${code}`, r.errors[0].message.slice(0, 120));
    // Like a real client: wait as told before trying again when something is unavailable.
    const retryAfter = r.errors?.[0]?.extensions?.retryAfterSeconds;
    if (retryAfter) await new Promise((res) => setTimeout(res, Math.min(2, retryAfter) * 250));
    return r.errors ? undefined : r.data;
  } catch {
    count(`${kind} NETWORK`);
    await new Promise((res) => setTimeout(res, 250));
    return undefined;
  }
}

let done = 0;
async function client(): Promise<void> {
  while (done < OPS) {
    done++;
    const dice = random();
    if (dice < 0.06 || lectures.length < 3) {
      const owner = pick(instructors);
      const d = await op(
        'openLecture',
        `mutation($i: OpenLectureInput!) { openLecture(input: $i) { id } }`,
        { i: { title: `Soak ${done}`, capacity: 2 + Math.floor(random() * 6), price: 1000 * (1 + Math.floor(random() * 90)) } },
        owner,
      );
      if (d) {
        lectures.push(d.openLecture.id);
        ownerOf.set(d.openLecture.id, owner);
      }
    } else if (dice < 0.66) {
      const token = pick(students);
      const d = await op('register', `mutation($id: ID!) { registerForLecture(lectureId: $id) { id } }`, { id: pick(lectures) }, token);
      if (d) registrations.push({ id: d.registerForLecture.id, token });
    } else if (dice < 0.96) {
      if (!registrations.length) {
        done--; // nothing to cancel yet: pick again
        continue;
      }
      const r = registrations.splice(Math.floor(random() * registrations.length), 1)[0];
      await op('cancelRegistration', `mutation($id: ID!) { cancelRegistration(id: $id) { id } }`, { id: r.id }, r.token);
    } else {
      const lectureId = pick(lectures);
      await op('cancelLecture', `mutation($id: ID!) { cancelLecture(id: $id) { id } }`, { id: lectureId }, ownerOf.get(lectureId)!);
    }
  }
}

type Name = 'registration' | 'payment' | 'lecture' | 'dashboard';
let faulting = true;
async function faultInjector(): Promise<void> {
  while (faulting) {
    const until = Date.now() + FAULT_EVERY_MS * (0.5 + random());
    while (faulting && Date.now() < until) await new Promise((r) => setTimeout(r, 100));
    if (!faulting) break;
    const kind = pick(['service', 'service', 'nats', 'slow-payment']);
    if (kind === 'service') {
      const name = pick<Name>(['registration', 'payment', 'lecture', 'dashboard']);
      countFault(`kill+restart ${name}`);
      await sys.crashService(name);
      await new Promise((r) => setTimeout(r, 1000 + random() * 1000));
      await sys.restartService(name);
    } else if (kind === 'nats') {
      countFault('restart NATS');
      await nats.restart(1000);
    } else {
      countFault('slow payment');
      await sys.stopService('payment');
      Object.assign(sys.envOf('payment'), { PAYMENT_LATENCY_MS: '800' });
      await sys.restartService('payment');
      await new Promise((r) => setTimeout(r, 3000));
      await sys.stopService('payment');
      Object.assign(sys.envOf('payment'), { PAYMENT_LATENCY_MS: '0' });
      await sys.restartService('payment');
    }
  }
}

function percentile(sorted: number[], p: number): number {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] : NaN;
}

let exitCode = 0;
try {
  process.stdout.write(`soak: ${OPS} operations from ${CLIENTS} clients, a fault every ~${FAULT_EVERY_MS} ms, seed ${SEED}\n`);
  const t0 = Date.now();
  const injector = faultInjector();
  await Promise.all(Array.from({ length: CLIENTS }, client));
  faulting = false;
  await injector;
  const seconds = (Date.now() - t0) / 1000;
  process.stdout.write(`operations done in ${seconds.toFixed(1)} s; waiting for the system to settle…\n`);
  let violations = await sys.check();
  const until = Date.now() + 90_000;
  while (violations.length && Date.now() < until) {
    await new Promise((r) => setTimeout(r, 1000));
    violations = await sys.check();
  }
  const dash = await mongoose.createConnection(mongoUri(`${sys.tag}_dashboard`)).asPromise();
  const facts = await dash
    .collection('dashboard_facts')
    .find({}, { projection: { lagMs: 1, kind: 1, status: 1 } })
    .toArray();
  await dash.close();
  const lags = facts.map((d) => d.lagMs as number).sort((a, b) => a - b);
  const byState = new Map<string, number[]>();
  for (const f of facts) byState.set(`${f.kind} ${f.status}`, [...(byState.get(`${f.kind} ${f.status}`) ?? []), f.lagMs]);
  console.table(
    [...byState.entries()].map(([state, xs]) => {
      const sorted = xs.sort((a, b) => a - b);
      return { 'projected fact': state, facts: xs.length, 'lag p50 ms': percentile(sorted, 50), 'lag p99 ms': percentile(sorted, 99) };
    }),
  );
  console.table([...outcomes.entries()].sort().map(([outcome, n]) => ({ outcome, n, example: examples.get(outcome) ?? '' })));
  console.table([...faults.entries()].map(([fault, n]) => ({ fault, n })));
  process.stdout.write(
    `operations: ${[...outcomes.values()].reduce((a, b) => a + b, 0)} in ${seconds.toFixed(1)} s; faults: ${[...faults.values()].reduce((a, b) => a + b, 0)}; ` +
      `violations: ${violations.length}; dashboard lag (state change → read model) p50 ${percentile(lags, 50)} ms, p99 ${percentile(lags, 99)} ms over ${lags.length} facts\n`,
  );
  if (violations.length) {
    process.stdout.write(`${formatViolations(violations)}\n`);
    exitCode = 1;
  }
} finally {
  await sys.stop().catch(() => undefined);
  await nats.dispose();
  await stopStarted();
}
process.exit(exitCode);
