/**
 * `npm start`: installs dependencies if missing, builds, finds or starts NATS and a
 * MongoDB-wire server, starts the four subgraphs and the gateway, loads the demo catalog,
 * prints the URLs, and stops everything it started on Ctrl-C (SIGINT) or SIGTERM.
 *
 * Ports: gateway 4000, registration 4001, payment 4002, lecture 4003, dashboard 4004
 * (override with GATEWAY_PORT, REGISTRATION_PORT, ...). Service logs: .data/logs/<name>.log.
 */
import path from 'node:path';
import {
  DATA,
  LOGS,
  ROOT,
  ensureBuilt,
  ensureDependencies,
  ensureMongo,
  ensureNats,
  portOpen,
  run,
  say,
  startProcess,
  stopStarted,
  waitForPort,
  withDatabase,
} from './lib/provision.mjs';

const t0 = Date.now();
const SERVICES = [
  { name: 'payment', dir: 'subgraphs/payment', port: 4002 },
  { name: 'lecture', dir: 'subgraphs/lecture', port: 4003 },
  { name: 'dashboard', dir: 'subgraphs/dashboard', port: 4004 },
  { name: 'registration', dir: 'subgraphs/registration', port: 4001 },
  { name: 'gateway', dir: 'gateway', port: 4000 },
];

let shuttingDown = false;
async function shutdown(code = 0) {
  if (shuttingDown) return;
  shuttingDown = true;
  say('stopping services…');
  await stopStarted(15_000, SERVICES.map((s) => s.name));
  say('stopping NATS / MongoDB started by this run…');
  await stopStarted();
  say('stopped');
  process.exit(code);
}
process.on('SIGINT', () => void shutdown(0));
process.on('SIGTERM', () => void shutdown(0));

async function main() {
  ensureDependencies();
  say('building');
  ensureBuilt();
  for (const s of SERVICES) {
    const port = Number(process.env[`${s.name.toUpperCase()}_PORT`] ?? s.port);
    s.port = port;
    if (await portOpen(port)) throw new Error(`port ${port} (${s.name}) is already in use: stop what runs there or set ${s.name.toUpperCase()}_PORT`);
  }
  const nats = await ensureNats();
  say(`NATS: ${nats.url} (${nats.how})`);
  const mongo = await ensureMongo();
  say(`MongoDB: ${mongo.uri.replace(/\/\/[^@]*@/, '//***@')} (${mongo.how})`);
  const url = (name) => `http://127.0.0.1:${SERVICES.find((s) => s.name === name).port}`;
  for (const s of SERVICES) {
    const env = {
      PORT: String(s.port),
      HOST: process.env.HOST ?? '127.0.0.1',
      NATS_URL: nats.url,
      LOG_LEVEL: process.env.LOG_LEVEL ?? 'info',
      PAYMENT_URL: url('payment'),
      ...(s.name === 'gateway'
        ? { REGISTRATION_URL: url('registration'), LECTURE_URL: url('lecture'), DASHBOARD_URL: url('dashboard') }
        : { MONGODB_URI: withDatabase(mongo.uri, `courses_${s.name}`) }),
    };
    startProcess(s.name, process.execPath, [path.join(ROOT, s.dir, 'dist', 'main.js')], {
      env,
      onUnexpectedExit: (code, signal) => {
        if (shuttingDown) return;
        process.stderr.write(`✖ ${s.name} exited (${signal ?? code}); see ${path.join(LOGS, `${s.name}.log`)}\n`);
        void shutdown(1);
      },
    });
    await waitForPort(s.port, s.name);
    // Readiness, not just the port: Mongo and NATS connected.
    for (let i = 0; i < 100; i++) {
      const ok = await fetch(`${url(s.name)}/health/ready`).then((r) => r.ok, () => false);
      if (ok) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    say(`${s.name} ready on ${url(s.name)}`);
  }

  say('loading the demo catalog');
  const seed = run(process.execPath, [path.join(ROOT, 'scripts', 'run-ts.mjs'), 'scripts/seed.ts'], { env: { GATEWAY_URL: url('gateway') } });
  if (seed.status !== 0) throw new Error('loading the demo catalog failed');

  const secs = ((Date.now() - t0) / 1000).toFixed(1);
  process.stdout.write(`
  Course registration supergraph is up (${secs} s).

  GraphQL + GraphiQL   ${url('gateway')}/graphql   (subscriptions: ws://127.0.0.1:${SERVICES.at(-1).port}/graphql)
  Dev token            npm run token -- --role STUDENT --sub s-1
  Play the scenario    npm run scenario
  Subgraphs            ${SERVICES.slice(0, 4).map((s) => `${s.name} ${url(s.name)}`).join(', ')}
  Health / metrics     ${url('gateway')}/health/ready, ${url('gateway')}/metrics
  Logs                 ${LOGS}
  Data                 ${DATA}

  Press Ctrl-C to stop.
`);
}

main().catch(async (err) => {
  process.stderr.write(`✖ ${err.message}\n`);
  await shutdown(1);
});
