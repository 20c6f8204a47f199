/**
 * `npm run bench:rush`: the registration rush (수강신청), end to end through the gateway. The
 * second the window opens, many students press Register at once on a few small lectures.
 *
 * Shapes (`--shape`):
 * - `one` (default): `--students` (1000) students press Register on one lecture of `--seats`
 *   (50) at once, or `--spacing` ms apart in a fixed send order. `--waitlist P`: P % of them
 *   (chosen evenly along the send order) ask to join the waitlist when it is full.
 *   `--promotions N` then cancels N confirmed registrations, `--promotion-spacing` ms apart,
 *   and measures how soon the first waiting student is CONFIRMED after each (from the
 *   registrations' stored times), and in what order.
 * - `campus`: `--students` (5000) students over `--lectures` (20) lectures of 30–200 seats. Each
 *   has 3 choices in order of preference (the first skewed toward a few popular lectures) and
 *   moves to the next when one answers LECTURE_FULL; `--waitlist P` % of them join the
 *   waitlist of the first full choice instead.
 *
 * It prints outcome counts; latencies of confirmations, waitlist places and refusals apart, with
 * p50, p99 and max; CPU ms per request of every process (from /proc); for `one`, fairness (where
 * the confirmed students stand in the send order; waitlist positions against send order); for
 * `campus`, each lecture's seats and waitlist; then the consistency checker (exit 1 on a
 * violation). It starts the system as `npm start` does (databases `rush_<name>`, NATS namespace
 * `rush`), or drives a running one (`--url`, as bench:load). Figures only: nothing here asserts
 * a timing.
 *
 * Options (`npm run bench:rush -- --students 1000 --seats 50 --payment-latency 400-600`):
 *   --shape one|campus   see above (one)
 *   --students N         students (one: 1000, campus: 5000)
 *   --seats N            seats of the lecture, shape one (50)
 *   --lectures N         lectures, shape campus (20)
 *   --spacing D          ms between two students' first requests (0: all at once)
 *   --waitlist P         % of students who ask to join the waitlist when full (0)
 *   --waves N            shape one: after the rush, every student refused (LECTURE_FULL or a
 *                        try-again code) presses Register again, all at once, N-1 more times (1);
 *                        each wave is reported on its own
 *   --promotions N       shape one: cancel N confirmed registrations after the rush (0)
 *   --promotion-spacing D  ms between those cancellations (250)
 *   --payment-latency L  payment's simulated latency, `N` or `MIN-MAX` ms (400-600); own system only
 *   --timeout MS         client timeout per request (15000)
 *   --replicas N         N registration processes and N gateways (1); own system only
 *   --url URL            a running gateway instead (then --subgraphs, --mongodb-uri as bench:load)
 *   --seed N             seed of the campus choices and capacities (1)
 *   --warmup-rounds N    rounds of the warm-up before the rush (10; 0: the rush meets cold processes)
 *   --profile            profile the gateway and registration (own system) while the rush (its last wave) runs
 *                        (scripts/lib/profile-preload.mjs): writes .data/profiles/rush-<time>/
 *                        and prints each profile's top frames by self time
 *   --json FILE          also write the figures as JSON
 */
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import mongoose from 'mongoose';
import { formatViolations } from '@courses/devkit/consistency';
import { DATA, devSecrets, ROOT, say } from '@courses/devkit/provision';
import { issueToken } from '@courses/gateway';
import {
  cpuNow,
  cpuRows,
  createPoster,
  delta,
  openLecture,
  round,
  scrape,
  settle,
  spread,
  TARGET_OPTIONS,
  targetOf,
  type Answer,
  type Target,
} from './lib/bench-target.js';
import { topFrames } from './lib/cpu-profile.js';

const { values: opt } = parseArgs({
  options: {
    shape: { type: 'string', default: 'one' },
    students: { type: 'string' },
    seats: { type: 'string', default: '50' },
    lectures: { type: 'string', default: '20' },
    spacing: { type: 'string', default: '0' },
    waitlist: { type: 'string', default: '0' },
    promotions: { type: 'string', default: '0' },
    waves: { type: 'string', default: '1' },
    'promotion-spacing': { type: 'string', default: '250' },
    'payment-latency': { type: 'string', default: '400-600' },
    timeout: { type: 'string', default: '15000' },
    seed: { type: 'string', default: '1' },
    'warmup-rounds': { type: 'string', default: '10' },
    ...TARGET_OPTIONS,
    profile: { type: 'boolean', default: false },
  },
});
const SHAPE = opt.shape === 'campus' ? 'campus' : 'one';
const STUDENTS = Number(opt.students ?? (SHAPE === 'one' ? 1000 : 5000));
const SPACING = Number(opt.spacing);
const WAITLIST = Number(opt.waitlist) / 100;
const PROMOTIONS = Number(opt.promotions);
const REPLICAS = Number(opt.replicas);
/** Students sent this close together (ms) may swap places in the waitlist (the issue's tolerance). */
const FAIRNESS_TOLERANCE_MS = 50;

const { post, close } = createPoster(STUDENTS + 64, Number(opt.timeout));
const secret = devSecrets().JWT_SECRET;

/** Mulberry32: a small seeded PRNG, so a campus run can be repeated exactly. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const registerQuery = (withWaitlist: boolean) =>
  withWaitlist
    ? 'mutation($id: ID!, $w: Boolean) { registerForLecture(lectureId: $id, waitlistIfFull: $w) { id status waitlistPosition } }'
    : 'mutation($id: ID!) { registerForLecture(lectureId: $id) { id status } }';
const CANCEL = 'mutation($id: ID!) { cancelRegistration(id: $id) { id status } }';

/** What one register request came to: `CONFIRMED`, `WAITLISTED`, or the error code. */
function outcomeOf(a: Answer): string {
  return a.code === 'OK' ? String(a.data?.registerForLecture?.status ?? 'OK') : a.code;
}

/** Waits until every registration process knows the lectures (it learns them from `lecture.opened`). */
async function waitForCatalog(target: Target, lectures: string[]): Promise<void> {
  const conn = await mongoose.createConnection(target.databases.registration).asPromise();
  try {
    for (let tries = 0; ; tries++) {
      const n = await conn.collection('catalog').countDocuments({ _id: { $in: lectures as never[] } });
      if (n === lectures.length) return;
      if (tries > 300) throw new Error(`only ${n} of ${lectures.length} lectures reached registration's catalog`);
      await new Promise((r) => setTimeout(r, 100));
    }
  } finally {
    await conn.close();
  }
}

/**
 * Warms every gateway and registration process up, as the traffic of the hours before the window
 * opens would (a process that has just started runs in V8's interpreter, and answered the same
 * refusal at 2–3 times the CPU; docs/performance.md): 200 students of their own press Register at
 * once on a lecture of 10 seats (half ask to queue), `--warmup-rounds` times, the confirmed ones
 * canceling in between (their seats go to the line). Every path a rush takes (refusals, seats,
 * payments, the waitlist, promotions) has run before; the rush's students and tokens are new.
 */
async function warmUp(target: Target, instructor: string): Promise<void> {
  const lecture = await openLecture(post, target.urls.gateway, instructor, `Warm-up ${Date.now()}`, 10);
  await waitForCatalog(target, [lecture]);
  const tokens = await Promise.all(
    Array.from({ length: 200 }, (_, i) => issueToken({ sub: `s-warm-${Date.now()}-${i}`, role: 'STUDENT' }, secret)),
  );
  for (let round = 0; round < Number(opt['warmup-rounds']); round++) {
    const answers = await Promise.all(
      tokens.map(async (t, i) => {
        const gw = target.gateways[i % target.gateways.length];
        return { gw, t, a: await post(gw, t, registerQuery(true), { id: lecture, w: i % 2 === 0 }) };
      }),
    );
    await Promise.all(answers.filter((x) => x.a.code === 'OK').map((x) => post(x.gw, x.t, CANCEL, { id: x.a.data.registerForLecture.id })));
  }
}

interface Sent {
  student: number;
  /** When it was sent, ms after the rush began. */
  sentAt: number;
  lecture: string;
  askedToQueue: boolean;
  answer: Answer;
  outcome: string;
}

/** Outcome counts, and latencies of confirmations, waitlist places and everything else apart. */
function report(sent: Sent[]) {
  const counts: Record<string, number> = {};
  for (const s of sent) counts[s.outcome] = (counts[s.outcome] ?? 0) + 1;
  say('outcomes (one row per request):');
  console.table([counts]);
  const by = (pred: (s: Sent) => boolean) => spread(sent.filter(pred).map((s) => s.answer.ms));
  const latency = {
    confirmed: by((s) => s.outcome === 'CONFIRMED'),
    waitlisted: by((s) => s.outcome === 'WAITLISTED'),
    refused: by((s) => s.outcome !== 'CONFIRMED' && s.outcome !== 'WAITLISTED'),
    all: by(() => true),
  };
  say('latency by kind of answer (ms):');
  console.table(latency);
  return { counts, latency };
}

/** Registration processes' URLs (for their metrics). */
function registrationUrls(target: Target): string[] {
  return target.gateways.map((_, k) => (k === 0 ? target.urls.registration : `http://127.0.0.1:${4101 + 10 * k}`));
}

/**
 * The charges registration made meanwhile, by outcome, and the time its side added to the
 * completed ones (the call less the provider's time; from `payment_charge_duration_seconds` and
 * `payment_charge_overhead_seconds`): what decides whether a charge near the provider's bound
 * still fits the breaker's timeout.
 */
function chargeReport(before: Map<string, number>, after: Map<string, number>) {
  const d = delta(before, after);
  const outcomes: Record<string, number> = {};
  const overhead: Record<string, number> = {};
  for (const [k, v] of d) {
    const outcome = /payment_charge_duration_seconds_count\{.*outcome="([^"]+)"/.exec(k)?.[1];
    if (outcome) outcomes[outcome] = v;
    const le = /payment_charge_overhead_seconds_bucket\{.*le="([^"]+)"/.exec(k)?.[1];
    if (le) overhead[le === '+Inf' ? 'all' : `≤ ${Number(le) * 1000} ms`] = v;
  }
  say('charges by outcome, and how many of the completed ones our side added at most N ms to:');
  console.table([outcomes]);
  console.table([overhead]);
  return { outcomes, overhead };
}

/** Where the confirmed students stand in the send order; waitlist positions against the send order. */
function fairness(sent: Sent[]) {
  const confirmed = sent.filter((s) => s.outcome === 'CONFIRMED').map((s) => s.student);
  const waiting = sent
    .filter((s) => s.outcome === 'WAITLISTED')
    .map((s) => ({ student: s.student, sentAt: s.sentAt, position: Number(s.answer.data.registerForLecture.waitlistPosition) }));
  // Pairs sent more than the tolerance apart whose positions are the other way round.
  let inversions = 0;
  let pairs = 0;
  let worstMs = 0;
  for (const a of waiting)
    for (const b of waiting) {
      if (b.sentAt - a.sentAt <= FAIRNESS_TOLERANCE_MS) continue;
      pairs++;
      if (a.position > b.position) {
        inversions++;
        worstMs = Math.max(worstMs, b.sentAt - a.sentAt);
      }
    }
  const out = {
    confirmedAmongFirst100: confirmed.filter((i) => i < 100).length,
    confirmed: confirmed.length,
    lastConfirmedSendIndex: confirmed.length ? Math.max(...confirmed) : null,
    waitlisted: waiting.length,
    positionsDistinct: new Set(waiting.map((w) => w.position)).size,
    [`waitlistPairsOver${FAIRNESS_TOLERANCE_MS}msApart`]: pairs,
    inversions,
    worstInvertedGapMs: round(worstMs),
  };
  say(`fairness (send order; positions compared for students sent more than ${FAIRNESS_TOLERANCE_MS} ms apart):`);
  console.table([out]);
  return out;
}

/** Sends every student's first request by the spacing; `next` may send more for the same student. */
async function rush(
  target: Target,
  tokens: string[],
  first: (student: number) => { lecture: string; queue: boolean },
  next?: (s: Sent) => { lecture: string; queue: boolean } | undefined,
  who: readonly number[] = tokens.map((_, i) => i),
): Promise<{ sent: Sent[]; seconds: number }> {
  const sent: Sent[] = [];
  const t0 = performance.now();
  const one = async (student: number, choice: { lecture: string; queue: boolean }): Promise<void> => {
    const gw = target.gateways[student % target.gateways.length];
    const sentAt = performance.now() - t0;
    const answer = await post(gw, tokens[student], registerQuery(WAITLIST > 0), {
      id: choice.lecture,
      ...(WAITLIST > 0 ? { w: choice.queue } : {}),
    });
    const s = { student, sentAt, lecture: choice.lecture, askedToQueue: choice.queue, answer, outcome: outcomeOf(answer) };
    sent.push(s);
    const then = next?.(s);
    if (then) await one(student, then);
  };
  const all: Promise<void>[] = [];
  for (const [k, i] of who.entries()) {
    if (SPACING > 0) {
      const due = t0 + k * SPACING;
      const wait = due - performance.now();
      if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    }
    all.push(one(i, first(i)));
  }
  await Promise.all(all);
  return { sent, seconds: (performance.now() - t0) / 1000 };
}

/** Cancels `n` confirmed registrations one after the other and reads, from the database, how soon each freed seat's waiting student was confirmed. */
async function promotions(target: Target, sent: Sent[], tokens: string[], lecture: string) {
  const confirmed = sent.filter((s) => s.outcome === 'CONFIRMED').slice(0, PROMOTIONS);
  const waiting = sent.filter((s) => s.outcome === 'WAITLISTED').length;
  say(`promotions: canceling ${confirmed.length} confirmed registrations ${opt['promotion-spacing']} ms apart (${waiting} waiting)`);
  // Once the rush has settled: its own freed seats (payments that failed) are not this phase's.
  await settle(target);
  const phaseStart = Date.now();
  for (const s of confirmed) {
    const r = await post(target.gateways[s.student % target.gateways.length], tokens[s.student], CANCEL, {
      id: s.answer.data.registerForLecture.id,
    });
    if (r.code !== 'OK') say(`cancellation answered ${r.code}`);
    await new Promise((res) => setTimeout(res, Number(opt['promotion-spacing'])));
  }
  const conn = await mongoose.createConnection(target.databases.registration).asPromise();
  try {
    const regs = conn.collection('registrations');
    const expected = Math.min(confirmed.length, waiting);
    // Wait until every freed seat has gone to a waiting student (or 30 s).
    for (let i = 0; i < 300; i++) {
      const promoted = await regs.countDocuments({
        lectureId: lecture,
        status: 'CONFIRMED',
        seatedAt: { $gte: new Date(phaseStart) },
        waitlistedAt: { $ne: null },
      });
      if (promoted >= expected) break;
      await new Promise((res) => setTimeout(res, 100));
    }
    // The seats this phase freed (its cancellations), in time order, pair with the promotions
    // that followed them in the order the line got its seats (first in line first).
    const freed = (await regs.find({ lectureId: lecture, status: 'CANCELED', waitlistedAt: null }).toArray())
      .map((r) => r.updatedAt.getTime())
      .filter((t) => t >= phaseStart)
      .sort((a, b) => a - b);
    const promoted = (await regs.find({ lectureId: lecture, status: 'CONFIRMED', waitlistedAt: { $ne: null } }).toArray())
      .filter((p) => p.seatedAt.getTime() >= phaseStart)
      .sort((a, b) => a.seatedAt - b.seatedAt);
    const lat = promoted.map((p, i) => (freed[i] !== undefined ? p.updatedAt.getTime() - freed[i] : NaN)).filter(Number.isFinite);
    let outOfOrder = 0;
    for (let i = 1; i < promoted.length; i++) if (promoted[i].waitlistedAt < promoted[i - 1].waitlistedAt) outOfOrder++;
    const ended: Record<string, number> = {};
    for (const r of await regs.find({ lectureId: lecture, waitlistedAt: { $ne: null } }).toArray()) {
      const k = `${r.status}${r.cancellationReason ? ` ${r.cancellationReason}` : ''}`;
      ended[k] = (ended[k] ?? 0) + 1;
    }
    const out = { seatsFreed: freed.length, promoted: promoted.length, ...spread(lat), promotedOutOfWaitlistOrder: outOfOrder, ...ended };
    say('promotion: from a freed seat to the first waiting student CONFIRMED (ms, stored times):');
    console.table([out]);
    return out;
  } finally {
    await conn.close();
  }
}

/** The lectures' enrolled counts and waitlist lengths as the API reports them. */
async function lectureState(target: Target, token: string, ids: string[]) {
  const out = [];
  for (const id of ids) {
    let r = await post(target.urls.gateway, token, 'query($id: ID!) { lecture(id: $id) { id capacity enrolledCount waitlistLength } }', {
      id,
    });
    // Before the waitlist existed there was no waitlistLength.
    if (r.code !== 'OK')
      r = await post(target.urls.gateway, token, 'query($id: ID!) { lecture(id: $id) { id capacity enrolledCount } }', { id });
    out.push(r.data?.lecture ?? { id, error: r.code });
  }
  return out;
}

/** Where --profile writes the services' CPU profiles. */
const PROFILES = path.join(DATA, 'profiles', `rush-${new Date().toISOString().replace(/[:.]/g, '-')}`);

/** Prints the top frames of each profile --profile wrote. */
async function printProfiles(): Promise<void> {
  const written = () => (existsSync(PROFILES) ? readdirSync(PROFILES).filter((n) => n.endsWith('.cpuprofile')) : []);
  for (let i = 0; i < 50 && written().length < 2; i++) await new Promise((r) => setTimeout(r, 100));
  for (const f of written()) {
    say(`CPU profile of the rush window (${path.join(PROFILES, f)}), self time:`);
    console.table(topFrames(path.join(PROFILES, f), 30));
  }
}

/** Starts or stops (each call toggles) the preloaded profiler of the profiled services. */
function toggleProfilers(target: Target): void {
  if (!opt.profile || opt.url) return;
  for (const name of ['gateway', 'registration']) if (target.pids[name]) process.kill(target.pids[name]!, 'SIGUSR2');
}

async function main(): Promise<number> {
  const preload = path.join(ROOT, 'scripts', 'lib', 'profile-preload.mjs');
  const profile = (service: string) => ({ NODE_OPTIONS: `--import=${preload}`, PROFILE_DIR: PROFILES, PROFILE_NAME: service });
  const target = await targetOf(opt, {
    namespace: 'rush',
    paymentLatency: opt['payment-latency'],
    env: opt.profile ? { gateway: profile('gateway'), registration: profile('registration') } : undefined,
  });
  try {
    const instructor = await issueToken({ sub: 'i-rush', role: 'INSTRUCTOR' }, secret);
    say('warming up');
    await warmUp(target, instructor);
    const rnd = prng(Number(opt.seed));
    const capacities =
      SHAPE === 'one' ? [Number(opt.seats)] : Array.from({ length: Number(opt.lectures) }, () => 30 + Math.floor(rnd() * 171));
    const lectures: string[] = [];
    for (const [i, c] of capacities.entries())
      lectures.push(await openLecture(post, target.urls.gateway, instructor, `Rush ${Date.now()}-${i}`, c));
    await waitForCatalog(target, lectures);
    const tokens = await Promise.all(
      Array.from({ length: STUDENTS }, (_, i) => issueToken({ sub: `s-rush-${Date.now()}-${i}`, role: 'STUDENT' }, secret)),
    );
    // Evenly spread queuers: student i queues when floor((i+1)·P) > floor(i·P).
    const queues = (i: number) => Math.floor((i + 1) * WAITLIST) > Math.floor(i * WAITLIST);
    const choices: number[][] = [];
    if (SHAPE === 'campus') {
      const n = lectures.length;
      for (let i = 0; i < STUDENTS; i++) {
        // First choice: Zipf-like (lecture k weighted 1/(k+1)); then two others, uniformly.
        const weights = lectures.map((_, k) => 1 / (k + 1));
        const total = weights.reduce((a, b) => a + b, 0);
        let x = rnd() * total;
        let firstChoice = 0;
        while ((x -= weights[firstChoice]) > 0) firstChoice++;
        const picked = [firstChoice];
        while (picked.length < 3) {
          const k = Math.floor(rnd() * n);
          if (!picked.includes(k)) picked.push(k);
        }
        choices.push(picked);
      }
    }
    say(
      `rush (${SHAPE}): ${STUDENTS} students, ${lectures.length} lecture(s) of ${capacities.join(', ')} seats, ` +
        `${SPACING ? `${SPACING} ms apart` : 'all at once'}, ${Math.round(WAITLIST * 100)} % ask to queue, payment ${opt['payment-latency']} ms, ${REPLICAS} replica(s)`,
    );
    const waveCount = SHAPE === 'one' ? Number(opt.waves) : 1;
    const CHARGE_METRICS = 'payment_charge_';
    const chargesBefore = await scrape(registrationUrls(target), CHARGE_METRICS);
    const commandsBefore = await scrape(registrationUrls(target), 'db_commands_total');
    const answersBefore = await scrape(registrationUrls(target), 'registration_answers_total');
    const before = cpuNow(target);
    if (waveCount === 1) toggleProfilers(target);
    const { sent, seconds } = await rush(
      target,
      tokens,
      (i) => ({ lecture: SHAPE === 'one' ? lectures[0] : lectures[choices[i][0]], queue: queues(i) }),
      SHAPE === 'campus'
        ? (s) => {
            if (s.outcome !== 'LECTURE_FULL') return undefined;
            const mine = choices[s.student].map((k) => lectures[k]);
            const at = mine.indexOf(s.lecture);
            return at + 1 < mine.length ? { lecture: mine[at + 1], queue: queues(s.student) } : undefined;
          }
        : undefined,
    );
    const after = cpuNow(target);
    if (waveCount === 1) toggleProfilers(target);
    say(`${sent.length} requests in ${seconds.toFixed(1)} s`);
    const summary = report(sent);
    say('CPU per request (ms), from /proc:');
    const cpu = cpuRows(before, after, sent.length, seconds);
    console.table(cpu);
    const charges = chargeReport(chargesBefore, await scrape(registrationUrls(target), CHARGE_METRICS));
    const commands = [...delta(commandsBefore, await scrape(registrationUrls(target), 'db_commands_total'))]
      .filter(([, n]) => n > 0)
      .map(([k, n]) => ({
        command: `${/command="([^"]*)"/.exec(k)?.[1]} ${/collection="([^"]*)"/.exec(k)?.[1]}`,
        count: n,
        perRequest: round(n / sent.length, 2),
      }))
      .sort((a, b) => b.count - a.count);
    const decided: Record<string, Record<string, number>> = {};
    for (const [k, n] of delta(answersBefore, await scrape(registrationUrls(target), 'registration_answers_total'))) {
      const answer = /answer="([^"]*)"/.exec(k)?.[1] ?? '?';
      const by = /decided_by="([^"]*)"/.exec(k)?.[1] ?? '?';
      if (n > 0) (decided[answer] ??= {})[by] = n;
    }
    say('what decided each answer (registration_answers_total: memory = refused with no write):');
    console.table(decided);
    say(`registration's database commands during the rush (${commands.reduce((a, c) => a + c.count, 0)}):`);
    console.table(commands.slice(0, 12));
    const fair = SHAPE === 'one' ? fairness(sent) : undefined;
    const waves = [];
    let last = sent;
    for (let wave = 2; wave <= waveCount; wave++) {
      const again = last
        .filter((x) => x.outcome !== 'CONFIRMED' && x.outcome !== 'WAITLISTED' && x.outcome !== 'ALREADY_REGISTERED')
        .map((x) => x.student);
      say(`wave ${wave}: ${again.length} refused students press Register again`);
      const b = cpuNow(target);
      if (wave === waveCount) toggleProfilers(target);
      const w = await rush(target, tokens, (i) => ({ lecture: lectures[0], queue: queues(i) }), undefined, again);
      if (wave === waveCount) toggleProfilers(target);
      const a = cpuNow(target);
      const waveCpu = cpuRows(b, a, w.sent.length, w.seconds);
      console.table(waveCpu);
      waves.push({ wave, ...report(w.sent), cpu: waveCpu });
      last = w.sent;
    }
    const promoted = SHAPE === 'one' && PROMOTIONS > 0 ? await promotions(target, sent, tokens, lectures[0]) : undefined;
    const violations = await settle(target);
    // The gateway may answer the public catalog from its response cache (2 s): read after that.
    await new Promise((r) => setTimeout(r, 2_500));
    const state = await lectureState(target, instructor, lectures);
    say('lectures (as the API reports them, once settled):');
    console.table(state);
    say(
      violations.length
        ? `✖ ${violations.length} consistency violation(s):\n${formatViolations(violations.slice(0, 20))}`
        : '✔ consistency checker: 0 violations',
    );
    if (opt.json)
      writeFileSync(
        opt.json,
        JSON.stringify(
          {
            shape: SHAPE,
            students: STUDENTS,
            capacities,
            seconds,
            ...summary,
            cpu,
            charges,
            commands,
            fairness: fair,
            waves,
            promotions: promoted,
            lectures: state,
            violations: violations.length,
          },
          null,
          2,
        ),
      );
    return violations.length ? 1 : 0;
  } finally {
    close();
    await target.stop();
    if (opt.profile && !opt.url) await printProfiles();
  }
}

main().then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`✖ ${err.stack ?? err.message}\n`);
    process.exit(1);
  },
);
