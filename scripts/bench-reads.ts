/**
 * `npm run bench:reads`: how fast a student's own reads answer on a quiet system that holds many
 * registrations, per backend. It starts the system as `npm start` does (databases `reads_<name>`,
 * NATS namespace `reads`), stores `--preload` registrations straight in the databases (see
 * lib/preload.ts), registers one student for `--mine` lectures through the API, then sends
 * `--requests` of each read one after the other and prints p50, p99 and max, and the CPU ms per
 * read of every process. The backend is the one `npm start` would pick, or the one asked for with
 * FERRETDB_POSTGRESQL=embedded (FerretDB on its embedded PostgreSQL) or FERRETDB_BACKEND=sqlite.
 * Figures only: nothing here asserts a timing.
 *
 * Options (`npm run bench:reads -- --preload 10000`):
 *   --preload N      registrations stored straight in the databases before measuring (10000)
 *   --register N     registrations made through the API before measuring, N students once each (0)
 *   --mine N         lectures the measured student registers for (5)
 *   --requests N     requests of each read (200)
 *   --url URL        a running gateway instead (then --subgraphs, --mongodb-uri as bench:load)
 */
import { parseArgs } from 'node:util';
import { devSecrets, say } from '@courses/devkit/provision';
import { issueToken } from '@courses/gateway';
import { cpuNow, cpuRows, createPoster, openLecture, spread, TARGET_OPTIONS, targetOf, type Post } from './lib/bench-target.js';
import { preload } from './lib/preload.js';

const { values: opt } = parseArgs({
  options: {
    preload: { type: 'string', default: '10000' },
    register: { type: 'string', default: '0' },
    mine: { type: 'string', default: '5' },
    requests: { type: 'string', default: '200' },
    timeout: { type: 'string', default: '30000' },
    'payment-latency': { type: 'string', default: '0' },
    ...TARGET_OPTIONS,
  },
});

const READS = {
  // The first page, as the student page reads it (the pages asked for the whole lists before the page fields).
  myRegistrations: '{ myRegistrationsPage(first: 25) { totalCount edges { node { id status lecture { title } payment { status } } } } }',
  myDashboard:
    '{ myDashboardPage(first: 50) { totalCount edges { node { registrationId lectureTitle registrationStatus paymentStatus updatedAt } } } }',
};

/**
 * Registers `token`'s student for `lectureId`, again every 100 ms while registration has not
 * learnt of the lecture yet (from `lecture.opened`). @throws after 100 refusals.
 */
async function register(post: Post, gateway: string, token: string, lectureId: string): Promise<void> {
  for (let tries = 0; ; tries++) {
    const r = await post(gateway, token, 'mutation($id: ID!) { registerForLecture(lectureId: $id) { id } }', { id: lectureId });
    if (r.code === 'OK') return;
    if (tries > 100) throw new Error(`could not register: ${r.code}`);
    await new Promise((res) => setTimeout(res, 100));
  }
}

/** `n` students register once each through the API (20 at a time), on lectures of 1,000 seats. */
async function registerThroughApi(gateway: string, instructor: string, secret: string, n: number, post: Post) {
  if (n <= 0) return;
  const t0 = Date.now();
  const lectures: string[] = [];
  for (let i = 0; i < Math.ceil(n / 1_000); i++) lectures.push(await openLecture(post, gateway, instructor, `Registered ${i}`, 1_000));
  let next = 0;
  const worker = async () => {
    for (let k = next++; k < n; k = next++) {
      const token = await issueToken({ sub: `s-api-${k}`, role: 'STUDENT' }, secret);
      await register(post, gateway, token, lectures[k % lectures.length]);
    }
  };
  await Promise.all(Array.from({ length: 20 }, worker));
  say(`${n} students registered through the API in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
}

async function main(): Promise<void> {
  const target = await targetOf(opt, { namespace: 'reads', paymentLatency: opt['payment-latency'] });
  const { post, close } = createPoster(32, Number(opt.timeout));
  try {
    say(`backend: ${target.backend}; storing ${opt.preload} registrations`);
    const t0 = Date.now();
    await preload(target.databases, Number(opt.preload));
    say(`stored in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
    const secret = devSecrets().JWT_SECRET;
    const instructor = await issueToken({ sub: 'i-reads', role: 'INSTRUCTOR' }, secret);
    await registerThroughApi(target.urls.gateway, instructor, secret, Number(opt.register), post);
    const student = await issueToken({ sub: 's-reads', role: 'STUDENT' }, secret);
    for (let i = 0; i < Number(opt.mine); i++)
      await register(post, target.urls.gateway, student, await openLecture(post, target.urls.gateway, instructor, `Reads ${i}`, 10));
    // Quiet first: the dashboard's projection of the student's registrations has landed.
    await new Promise((res) => setTimeout(res, 2_000));
    const rows = [];
    for (const [name, query] of Object.entries(READS)) {
      for (let i = 0; i < 20; i++) await post(target.urls.gateway, student, query, {}); // warm
      const before = cpuNow(target);
      const started = performance.now();
      const ms: number[] = [];
      let errors = 0;
      for (let i = 0; i < Number(opt.requests); i++) {
        const r = await post(target.urls.gateway, student, query, {});
        if (r.code !== 'OK') errors++;
        ms.push(r.ms);
      }
      const after = cpuNow(target);
      const cpu = cpuRows(before, after, ms.length, (performance.now() - started) / 1000);
      say(`${name}: CPU ms per read, by process`);
      console.table(cpu.filter((r) => r.cpuMsPer > 0.05).map(({ process, cpuMsPer }) => ({ process, cpuMsPer })));
      rows.push({
        read: name,
        ...spread(ms),
        errors,
        cpuMsPerRead: cpu.at(-1)!.cpuMsPer,
        databaseCpuMsPerRead: cpu.filter((r) => r.process === 'database' || r.process === 'postgresql').reduce((a, r) => a + r.cpuMsPer, 0),
      });
    }
    say(`${opt.requests} reads each, one after the other, with ${opt.preload} registrations stored (${target.backend}):`);
    console.table(rows);
  } finally {
    close();
    await target.stop();
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    process.stderr.write(`✖ ${err.stack ?? err.message}\n`);
    process.exit(1);
  },
);
