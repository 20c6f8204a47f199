/**
 * `npm run bench:subscriptions`: live-update fan-out of the gateway.
 *
 * Starts the subgraphs (in this process) on the provisioned MongoDB-wire server and NATS,
 * then, for one gateway process and again for two, connects CLIENTS graphql-ws clients
 * (anonymous, `lectureUpdated` on one of LECTURES lectures) and publishes RATE events per
 * second for SECONDS seconds. Each event follows a real state change (the lecture's enrolled
 * count is set in its database first), so every event yields a new payload. Prints events
 * delivered per second, event → client latency p50/p99 (publish to receipt, same clock),
 * and the gateway's memory per connected client (heap and RSS from its /metrics, before
 * and after connecting). Figures only: nothing here asserts a timing.
 *
 * Env: CLIENTS (1000), LECTURES (10), RATE (20 events/s), SECONDS (15).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import mongoose from 'mongoose';
import { jetstream } from '@nats-io/jetstream';
import { createEvent } from '@courses/contracts';
import { publishEvent } from '@courses/platform';
import { ROOT, ensureMongo, stopStarted } from './lib/provision.mjs';
import { gqlOk, wsClient } from './lib/graphql-client.js';

const CLIENTS = Number(process.env.CLIENTS ?? 1000);
const LECTURES = Number(process.env.LECTURES ?? 10);
const RATE = Number(process.env.RATE ?? 20);
const SECONDS = Number(process.env.SECONDS ?? 15);

const mongo = await ensureMongo({ preferPort: 27019 });
process.env.TEST_MONGODB_URI = mongo.uri;
const { startSystem } = await import('../tests/support/system.js');
const { mongoUri } = await import('../tests/support/env.js');
const sys = await startSystem();

async function metric(url: string, name: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `));
  return Number(line?.split(' ').at(-1) ?? NaN);
}

async function startGatewayProcess(): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(process.execPath, [path.join(ROOT, 'gateway/dist/main.js')], {
    // All the clients come from this one address: lift the per-client socket cap.
    env: { ...process.env, ...sys.envOf('gateway'), PORT: '0', LOG_LEVEL: 'info', WS_MAX_SOCKETS_PER_CLIENT: String(CLIENTS + 100) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => {
      const m = /"port":(\d+),"msg":"gateway listening"/.exec(d.toString());
      if (m) resolve(Number(m[1]));
    });
    child.once('exit', (code) => reject(new Error(`gateway exited ${code}`)));
  });
  return { url: `http://127.0.0.1:${port}`, child };
}

function percentile(sorted: number[], p: number): number {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] : NaN;
}

async function run(replicas: number) {
  const gateways = [];
  for (let i = 0; i < replicas; i++) gateways.push(await startGatewayProcess());
  const instructor = await sys.token('INSTRUCTOR', 'i-bench');
  const lectures: string[] = [];
  for (let i = 0; i < LECTURES; i++) {
    lectures.push((await gqlOk(sys.url, `mutation($i: OpenLectureInput!) { openLecture(input: $i) { id } }`, { i: { title: `Bench ${replicas}-${i}`, capacity: 100, price: 0 } }, instructor)).openLecture.id);
  }
  const before = await Promise.all(gateways.map(async (g) => ({ heap: await metric(g.url, 'nodejs_heap_size_used_bytes'), rss: await metric(g.url, 'process_resident_memory_bytes') })));

  const sent = new Map<string, number>(); // `${lectureId}:${count}` → publish time (ms)
  const latencies: number[] = [];
  let received = 0;
  const clients = Array.from({ length: CLIENTS }, (_, i) => wsClient(gateways[i % replicas].url));
  clients.forEach((c, i) => {
    const lectureId = lectures[i % LECTURES];
    c.subscribe(
      { query: `subscription($id: ID!) { lectureUpdated(lectureId: $id) { id enrolledCount } }`, variables: { id: lectureId } },
      {
        next: (v: any) => {
          const at = sent.get(`${lectureId}:${v.data?.lectureUpdated?.enrolledCount}`);
          if (at !== undefined) {
            latencies.push(performance.now() - at);
            received++;
          }
        },
        error: () => undefined,
        complete: () => undefined,
      },
    );
  });
  await new Promise((r) => setTimeout(r, 1500)); // let every subscription reach its gateway
  const after = await Promise.all(gateways.map(async (g) => ({ heap: await metric(g.url, 'nodejs_heap_size_used_bytes'), rss: await metric(g.url, 'process_resident_memory_bytes') })));

  const db = await mongoose.createConnection(mongoUri(`${sys.tag}_lecture`)).asPromise();
  const nc = await sys.nats.connect('lecture');
  const js = jetstream(nc);
  const total = RATE * SECONDS;
  const t0 = performance.now();
  for (let n = 1; n <= total; n++) {
    const lectureId = lectures[n % LECTURES];
    await db.collection('lectures').updateOne({ _id: lectureId as never }, { $set: { enrolledCount: n } });
    sent.set(`${lectureId}:${n}`, performance.now());
    await publishEvent(js, createEvent('lecture.enrolledCountChanged', { lectureId, instructorId: 'i-bench', enrolledCount: n }), sys.tag);
    const due = t0 + (n * 1000) / RATE;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  }
  const expected = total * (CLIENTS / LECTURES);
  const until = performance.now() + 10_000;
  while (received < expected && performance.now() < until) await new Promise((r) => setTimeout(r, 100));
  const elapsed = (performance.now() - t0) / 1000;
  latencies.sort((a, b) => a - b);
  const heapPerClient = after.reduce((s, a, i) => s + (a.heap - before[i].heap), 0) / CLIENTS;
  const rssPerClient = after.reduce((s, a, i) => s + (a.rss - before[i].rss), 0) / CLIENTS;
  const row = {
    gateways: replicas,
    clients: CLIENTS,
    events: total,
    eventsPerSecond: RATE,
    deliveriesExpected: expected,
    deliveriesReceived: received,
    deliveredPerSecond: Math.round(received / elapsed),
    latencyP50ms: Number(percentile(latencies, 50).toFixed(1)),
    latencyP99ms: Number(percentile(latencies, 99).toFixed(1)),
    heapPerClientKiB: Number((heapPerClient / 1024).toFixed(1)),
    rssPerClientKiB: Number((rssPerClient / 1024).toFixed(1)),
  };
  await Promise.all(clients.map((c) => c.dispose()));
  await nc.drain();
  await db.close();
  for (const g of gateways) {
    g.child.kill('SIGTERM');
    await new Promise((r) => g.child.once('exit', r));
  }
  return row;
}

try {
  process.stdout.write(`bench:subscriptions: ${CLIENTS} clients over ${LECTURES} lectures, ${RATE} events/s for ${SECONDS} s\n`);
  const rows = [await run(1), await run(2)];
  console.table(rows);
  const [one, two] = rows;
  process.stdout.write(
    `two gateways vs one: delivered/s ×${(two.deliveredPerSecond / one.deliveredPerSecond).toFixed(2)}, p99 ×${(two.latencyP99ms / one.latencyP99ms).toFixed(2)}\n`,
  );
} finally {
  await sys.stop();
  await stopStarted();
}
process.exit(0);
