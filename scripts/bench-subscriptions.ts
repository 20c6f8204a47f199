/**
 * `npm run bench:subscriptions`: live-update fan-out of the gateway, measured from outside.
 *
 * Starts the system as `npm start` does (every service its own process, a NATS server of the
 * bench's own, ports 4200–4204), then for one gateway process and again for two connects CLIENTS
 * anonymous clients over TRANSPORT (graphql-ws, SSE or multipart HTTP; `lectureUpdated` on one
 * of LECTURES lectures) from CLIENT_PROCS
 * client processes of their own (./lib/subscription-clients.ts), so the clients' CPU is not the
 * gateway's. Each client first receives a warm-up payload (proof that its subscription is live).
 * Then RATE events per second for SECONDS seconds, each after a real state change (the lecture's
 * enrolled count is set in its database first, as the lecture subgraph does), so every event
 * yields a new payload. Prints, per gateway count:
 * - deliveries expected and received, and every missing one by cause: its subscription ended
 *   with SUBSCRIPTION_OVERFLOW, its socket closed, or it never arrived (10 s after the last event);
 * - latency p50/p99 from publish to receipt (one machine, one clock);
 * - CPU ms per 1,000 deliveries of the gateway processes, the lecture subgraph and the client
 *   processes (over the measured window, whose length is printed);
 * - supergraph executions per event (the gateways' `subscription_executions_total`);
 * - heap and RSS per idle client: the gateways' memory after a full GC (started with
 *   --expose-gc; SIGUSR2) with the clients connected, minus before, divided by CLIENTS.
 * One more client is slow: it stops reading its socket for the measured window; what it got
 * afterwards (or its SUBSCRIPTION_OVERFLOW) is printed, and it must cost the others nothing.
 * Figures only: nothing here asserts a timing.
 *
 * With STORM=N, a reconnect storm follows: every client drops its connection at once, N events
 * happen on each lecture, and every client subscribes again with its last position. Prints the
 * missed deliveries expected and received, repeats, refused resumes, catch-up p50/p99 (from a
 * client's resubscribe to its last missed delivery), the gateways' CPU over the storm, and their
 * heap after a full GC at the steady level before it and after it.
 *
 * Env: CLIENTS (1000), LECTURES (10), RATE (20 events/s), SECONDS (15), CLIENT_PROCS (2),
 * GATEWAYS (`1,2`: the gateway counts to run), TRANSPORT (`ws`, `sse` or `multipart`),
 * SIGNED_IN (`1`: each client a student of its own), STORM (0: no reconnect storm),
 * GATEWAY_NODE_ARGS (e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { jetstream } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import mongoose from 'mongoose';
import WebSocket from 'ws';
import { createEvent } from '@courses/contracts';
import { gqlOk, type Transport } from '@courses/devkit/graphql-client';
import { devSecrets, ensureMongo, ensureNats, freePort, ROOT, say, waitForPort, withDatabase } from '@courses/devkit/provision';
import { inboxPrefixOf, publishEvent } from '@courses/platform';
import { issueToken } from '../gateway/src/auth.js';
import { cpuSecondsOfTree } from './lib/procs.mjs';
import { SERVICES, startStack } from './lib/stack.mjs';

const CLIENTS = Number(process.env.CLIENTS ?? 1000);
const LECTURES = Number(process.env.LECTURES ?? 10);
const RATE = Number(process.env.RATE ?? 20);
const SECONDS = Number(process.env.SECONDS ?? 15);
const PROCS = Math.max(1, Number(process.env.CLIENT_PROCS ?? 2));
const GATEWAYS = (process.env.GATEWAYS ?? '1,2').split(',').map(Number);
/** `1`: every client signs in as a student of its own (public selections are still shared). */
const SIGNED_IN = process.env.SIGNED_IN === '1';
const TRANSPORT = (process.env.TRANSPORT ?? 'ws') as Transport;
/** Events per lecture while every client is away (0: no reconnect storm). */
const STORM = Number(process.env.STORM ?? 0);
const NAMESPACE = 'benchsub';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const now = () => performance.timeOrigin + performance.now();

async function metric(url: string, name: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `));
  return Number(line?.split(' ').at(-1) ?? NaN);
}

interface Gateway {
  url: string;
  child: ChildProcess;
}

/** Heap and RSS (bytes) of every gateway after a full collection. */
async function memoryAfterGc(gateways: Gateway[]): Promise<Array<{ heap: number; rss: number }>> {
  for (const g of gateways) g.child.kill('SIGUSR2');
  await sleep(500);
  return Promise.all(
    gateways.map(async (g) => ({
      heap: await metric(g.url, 'nodejs_heap_size_used_bytes'),
      rss: await metric(g.url, 'process_resident_memory_bytes'),
    })),
  );
}

function percentile(sorted: number[], p: number): number {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

interface Report {
  latencies: number[];
  slowest: Record<string, number>;
  expected: number;
  received: number;
  overflow: number;
  closed: number;
  neverArrived: number;
}

/**
 * One slow client: it subscribes to every lecture on `url`, then stops reading its socket (the
 * TCP window closes, the gateway's writes to it back up) until `resume()`. Counts what it got.
 */
function slowClient(url: string, lectures: string[]) {
  const ws = new WebSocket(`${url.replace(/^http/, 'ws')}/graphql`, 'graphql-transport-ws');
  const got = { measured: 0, overflow: 0, closed: false };
  ws.on('open', () => {
    ws.send(JSON.stringify({ type: 'connection_init' }));
    lectures.forEach((id, i) =>
      ws.send(
        JSON.stringify({
          id: String(i),
          type: 'subscribe',
          payload: { query: 'subscription($id: ID!) { lectureUpdated(lectureId: $id) { id enrolledCount } }', variables: { id } },
        }),
      ),
    );
  });
  ws.on('message', (raw) => {
    const m = JSON.parse(String(raw));
    if (m.type === 'next' && m.payload?.data?.lectureUpdated?.enrolledCount > 0) got.measured++;
    if (JSON.stringify(m).includes('SUBSCRIPTION_OVERFLOW')) got.overflow++;
  });
  ws.on('close', () => (got.closed = true));
  ws.on('error', () => undefined);
  const socket = () => (ws as unknown as { _socket?: { pause(): void; resume(): void } })._socket;
  return { got, pause: () => socket()?.pause(), resume: () => socket()?.resume(), close: () => ws.close() };
}

/** A client process and what it says. */
interface Resumed {
  expected: number;
  received: number;
  duplicates: number;
  failed: number;
  catchUp: number[];
}

function clientProcess(): {
  child: ChildProcess;
  progress: { warm: number; received: number; caughtUp: number };
  report: Promise<Report>;
  next(type: 'dropped' | 'resumed'): Promise<any>;
} {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'scripts/lib/subscription-clients.ts')], {
    cwd: ROOT,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const progress = { warm: 0, received: 0, caughtUp: 0 };
  const waiting = new Map<string, (m: any) => void>();
  const report = new Promise<Report>((resolve) =>
    child.on('message', (m: any) => {
      if (m.type === 'progress') Object.assign(progress, { warm: m.warm, received: m.received, caughtUp: m.caughtUp });
      else if (m.type === 'report') resolve(m);
      else waiting.get(m.type)?.(m);
    }),
  );
  const next = (type: string) => new Promise((resolve) => waiting.set(type, resolve));
  return { child, progress, report, next };
}

async function main(): Promise<void> {
  say(
    `bench:subscriptions: ${CLIENTS} ${SIGNED_IN ? 'signed-in' : 'anonymous'} ${TRANSPORT} clients in ${PROCS} processes over ${LECTURES} lectures, ${RATE} events/s for ${SECONDS} s; gateways ${GATEWAYS.join(', ')}${STORM ? `; then a reconnect storm with ${STORM} events per lecture` : ''}`,
  );
  const nats = await ensureNats({ store: 'bench-subscriptions', fresh: true, namespace: NAMESPACE });
  const mongo = await ensureMongo();
  for (const s of SERVICES.filter((x) => x.name !== 'gateway')) {
    const conn = await mongoose.createConnection(withDatabase(mongo.uri, `benchsub_${s.name}`)).asPromise();
    await conn.dropDatabase();
    await conn.close();
  }
  const ports = Object.fromEntries(SERVICES.map((s) => [s.name, s.port + 200]));
  const gatewayEnv = { MUTATION_RATE_LIMIT: '1000000', QUERY_RATE_LIMIT: '1000000', WS_MAX_SOCKETS_PER_CLIENT: String(CLIENTS + 100) };
  const stack = await startStack({
    ports,
    databasePrefix: 'benchsub',
    say,
    nodeArgs: { gateway: ['--expose-gc', ...(process.env.GATEWAY_NODE_ARGS?.split(' ').filter(Boolean) ?? [])] },
    env: Object.fromEntries(
      SERVICES.map((s) => [s.name, { NATS_NAMESPACE: NAMESPACE, LOG_LEVEL: 'warn', ...(s.name === 'gateway' ? gatewayEnv : {}) }]),
    ),
  });
  const extra: Gateway[] = [];
  const lectureDb = await mongoose.createConnection(stack.databases.lecture).asPromise();
  const { NATS_PASSWORD } = nats.credentials('lecture');
  const nc = await connect({ servers: nats.url, user: 'lecture', pass: NATS_PASSWORD, inboxPrefix: inboxPrefixOf('lecture') });
  const js = jetstream(nc);
  const instructor = await issueToken({ sub: 'i-bench-sub', role: 'INSTRUCTOR' }, devSecrets().JWT_SECRET);
  const rows = [];
  const storms = [];
  try {
    for (const count of GATEWAYS) {
      while (extra.length < count - 1) {
        const port = await freePort();
        const gatewayArgs = SERVICES.find((x) => x.name === 'gateway')!.nodeArgs ?? [];
        const child = spawn(
          process.execPath,
          [
            ...gatewayArgs,
            '--expose-gc',
            ...(process.env.GATEWAY_NODE_ARGS?.split(' ').filter(Boolean) ?? []),
            path.join(ROOT, 'gateway/dist/main.js'),
          ],
          { env: { ...process.env, ...stack.envs.gateway, PORT: String(port) }, stdio: 'ignore' },
        );
        await waitForPort(port, 'extra gateway');
        extra.push({ url: `http://127.0.0.1:${port}`, child });
      }
      const gateways: Gateway[] = [{ url: stack.urls.gateway, child: stack.children.gateway }, ...extra.slice(0, count - 1)];
      const lectures: string[] = [];
      for (let i = 0; i < LECTURES; i++) {
        const d = await gqlOk(
          stack.urls.gateway,
          'mutation($i: OpenLectureInput!) { openLecture(input: $i) { id } }',
          { i: { title: `Fan-out ${count}-${i}`, capacity: 100, price: 0 } },
          instructor,
        );
        lectures.push(d.openLecture.id);
      }
      const publish = async (lectureId: string, n: number) => {
        await lectureDb.collection('lectures').updateOne({ _id: lectureId as never }, { $set: { enrolledCount: n } });
        await publishEvent(
          js,
          createEvent('lecture.enrolledCountChanged', { lectureId, instructorId: 'i-bench-sub', enrolledCount: n }),
          NAMESPACE,
        );
      };
      const memBefore = await memoryAfterGc(gateways);

      const procs = Array.from({ length: PROCS }, clientProcess);
      const share = Math.ceil(CLIENTS / PROCS);
      procs.forEach((p, i) =>
        p.child.send({
          type: 'start',
          urls: gateways.map((g) => g.url),
          lectures,
          clients: Math.max(0, Math.min(share, CLIENTS - i * share)),
          offset: i * share,
          transport: TRANSPORT,
          jwtSecret: SIGNED_IN ? devSecrets().JWT_SECRET : undefined,
        }),
      );
      // Warm-up: every client's first payload proves its subscription is live (repeated ones are
      // equal to what a live client last got, so they are not sent again).
      const warmUntil = Date.now() + 120_000;
      while (procs.reduce((s, p) => s + p.progress.warm, 0) < CLIENTS && Date.now() < warmUntil) {
        await Promise.all(lectures.map((l) => publish(l, 0)));
        await sleep(1_000);
      }
      const warm = procs.reduce((s, p) => s + p.progress.warm, 0);
      if (warm < CLIENTS) say(`only ${warm} of ${CLIENTS} clients got their warm-up payload within 120 s`);
      const memAfter = await memoryAfterGc(gateways);

      // The slow client stops reading for the whole measured window.
      const slow = slowClient(gateways[0].url, lectures);
      await sleep(1_000);
      slow.pause();
      const cpu = () => ({
        gateway: gateways.reduce((s, g) => s + cpuSecondsOfTree(g.child.pid!), 0),
        lecture: cpuSecondsOfTree(stack.children.lecture.pid!),
        clients: procs.reduce((s, p) => s + cpuSecondsOfTree(p.child.pid!), 0),
      });
      const executions = async () =>
        (await Promise.all(gateways.map((g) => metric(g.url, 'subscription_executions_total')))).reduce((a, b) => a + b, 0);
      const cpu0 = cpu();
      const exec0 = await executions();
      const at: Record<string, number> = {};
      const perLecture: Record<string, number> = {};
      const total = RATE * SECONDS;
      const t0 = performance.now();
      for (let n = 1; n <= total; n++) {
        const lectureId = lectures[n % LECTURES];
        at[`${lectureId}:${n}`] = now();
        perLecture[lectureId] = (perLecture[lectureId] ?? 0) + 1;
        await publish(lectureId, n);
        const wait = t0 + (n * 1000) / RATE - performance.now();
        if (wait > 0) await sleep(wait);
      }
      const expected = Math.round(total * (CLIENTS / LECTURES));
      const until = performance.now() + 10_000;
      while (procs.reduce((s, p) => s + p.progress.received, 0) < expected && performance.now() < until) await sleep(100);
      const cpu1 = cpu();
      const windowSeconds = (performance.now() - t0) / 1000;
      const exec1 = await executions();
      slow.resume();
      await sleep(2_000);
      slow.close();
      say(
        `${count} gateway(s): the slow client (not reading for the window) got ${slow.got.measured} of ${total} events afterwards, ${slow.got.overflow} overflow error(s)${slow.got.closed ? ', its socket closed' : ''}; the others' losses are in the table`,
      );
      procs.forEach((p) => p.child.send({ type: 'sent', at, perLecture }));
      const reports = await Promise.all(procs.map((p) => p.report));
      if (STORM > 0) {
        // The reconnect storm: everyone drops at once, STORM events per lecture happen, everyone resumes.
        const steady = await memoryAfterGc(gateways);
        await Promise.all(procs.map((p) => (p.child.send({ type: 'drop' }), p.next('dropped'))));
        const missed: Record<string, number[]> = {};
        let n = total;
        for (let i = 0; i < STORM; i++)
          for (const lectureId of lectures) {
            n++;
            await publish(lectureId, n);
            (missed[lectureId] ??= []).push(n);
          }
        const c0 = cpu();
        const s0 = performance.now();
        procs.forEach((p) => p.child.send({ type: 'resume', missed }));
        const stormUntil = performance.now() + 30_000;
        while (procs.reduce((s, p) => s + p.progress.caughtUp, 0) < CLIENTS && performance.now() < stormUntil) await sleep(50);
        const c1 = cpu();
        const stormSeconds = (performance.now() - s0) / 1000;
        const results: Resumed[] = await Promise.all(procs.map((p) => (p.child.send({ type: 'resumed' }), p.next('resumed'))));
        await sleep(Number(process.env.STORM_SETTLE_MS ?? 3_000));
        const after = await memoryAfterGc(gateways);
        const connections = (
          await Promise.all(
            gateways.map(async (g) => (await metric(g.url, 'graphql_ws_connections')) + (await metric(g.url, 'graphql_http_streams'))),
          )
        ).reduce((a, b) => a + b, 0);
        const catchUp = results.flatMap((r) => r.catchUp).sort((a, b) => a - b);
        const total2 = (k: 'expected' | 'received' | 'duplicates' | 'failed') => results.reduce((s, r) => s + r[k], 0);
        storms.push({
          gateways: count,
          clients: CLIENTS,
          'events/lecture': STORM,
          'missed expected': total2('expected'),
          'missed received': total2('received'),
          repeats: total2('duplicates'),
          'refused resumes': total2('failed'),
          'caught up': catchUp.length,
          'catch-up p50 ms': Number(percentile(catchUp, 50).toFixed(0)),
          'catch-up p99 ms': Number(percentile(catchUp, 99).toFixed(0)),
          'gateway CPU s': Number((c1.gateway - c0.gateway).toFixed(2)),
          'window s': Number(stormSeconds.toFixed(1)),
          'heap MiB steady': Number((steady.reduce((s, m) => s + m.heap, 0) / 2 ** 20).toFixed(1)),
          'heap MiB after': Number((after.reduce((s, m) => s + m.heap, 0) / 2 ** 20).toFixed(1)),
          'connections after': connections,
        });
      }
      for (const p of procs) {
        p.child.send({ type: 'stop' });
        await new Promise((r) => p.child.once('exit', r));
      }
      const latencies = reports.flatMap((r) => r.latencies).sort((a, b) => a - b);
      // The events whose last delivery came latest: are the slow ones bunched (a pause) or spread?
      const slowest = new Map<number, number>();
      for (const r of reports)
        for (const [n, ms] of Object.entries(r.slowest)) slowest.set(Number(n), Math.max(slowest.get(Number(n)) ?? 0, ms));
      const worst = [...slowest].sort((a, b) => b[1] - a[1]).slice(0, 8);
      say(
        `${count} gateway(s): slowest events (number@ms after start: last delivery ms): ${worst.map(([n, ms]) => `${n}@${Math.round((n * 1000) / RATE)}: ${Math.round(ms)}`).join(', ')}`,
      );
      const sum = (k: 'expected' | 'received' | 'overflow' | 'closed' | 'neverArrived') => reports.reduce((s, r) => s + r[k], 0);
      const delivered = sum('received');
      const perThousand = (seconds: number) => Number(((1000 * 1000 * seconds) / Math.max(1, delivered)).toFixed(1));
      rows.push({
        gateways: count,
        transport: TRANSPORT,
        clients: CLIENTS,
        events: total,
        expected: sum('expected'),
        delivered,
        'delivered %': Number(((100 * delivered) / Math.max(1, sum('expected'))).toFixed(2)),
        overflow: sum('overflow'),
        closed: sum('closed'),
        neverArrived: sum('neverArrived'),
        p50ms: Number(percentile(latencies, 50).toFixed(1)),
        p99ms: Number(percentile(latencies, 99).toFixed(1)),
        'gateway CPU ms/1k': perThousand(cpu1.gateway - cpu0.gateway),
        'lecture CPU ms/1k': perThousand(cpu1.lecture - cpu0.lecture),
        'clients CPU ms/1k': perThousand(cpu1.clients - cpu0.clients),
        'window s': Number(windowSeconds.toFixed(1)),
        'executions/event': Number(((exec1 - exec0) / total).toFixed(2)),
        'heap KiB/client': Number((memAfter.reduce((s, m, i) => s + m.heap - memBefore[i].heap, 0) / CLIENTS / 1024).toFixed(1)),
        'RSS KiB/client': Number((memAfter.reduce((s, m, i) => s + m.rss - memBefore[i].rss, 0) / CLIENTS / 1024).toFixed(1)),
      });
    }
    console.table(rows);
    if (storms.length) {
      say('reconnect storm');
      console.table(storms);
    }
  } finally {
    for (const g of extra) g.child.kill('SIGTERM');
    await nc.close();
    await lectureDb.close();
    await stack.stop();
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    process.stderr.write(`✖ ${err?.stack ?? err}\n`);
    process.exit(1);
  },
);
