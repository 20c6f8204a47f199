/**
 * `npm run bench:db-ceiling -- --from run.json`: the most mutations per second the database
 * server alone allows for the commands a `bench:load` run measured, on the same backend and
 * machine, with nothing else running.
 *
 * It reads the run's database commands per mutation (`--json` output of `npm run bench:load`,
 * by command kind: insert, update, delete, find, …), measures how many of each kind the server
 * does per second from 16 concurrent connections of the MongoDB driver (each kind against
 * collections of the run's document sizes, by `_id`, for `--seconds`; inserts first, so that deletes have their own documents), and prints
 * ceiling = 1 / Σ (commands of a kind per mutation ÷ that kind's rate), and the run's
 * mutations per second as a share of it. The services share the machine with the database
 * in a real run, so a share of one half or more means the services add little beyond the
 * database's own work. Batched commands (insertMany, deleteMany) count as single ones, which
 * makes the ceiling a little higher than the truth.
 *
 * Options: --from FILE (required), --seconds S per kind (4), --connections N (16; FerretDB v1 on PostgreSQL stalls for good when more updates than its pool's 20 connections run at once),
 * --documents N in the collection measured (5000).
 * The database: MONGODB_URI, or the one `npm start` would find or start.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import mongoose from 'mongoose';
import { ensureMongo, say, stopStarted, withDatabase } from '@courses/devkit/provision';

const { values: opt } = parseArgs({
  options: {
    from: { type: 'string' },
    seconds: { type: 'string', default: '4' },
    connections: { type: 'string', default: '16' },
    documents: { type: 'string', default: '5000' },
  },
});
if (!opt.from) throw new Error('--from <bench:load --json output> is required');
const run = JSON.parse(readFileSync(opt.from, 'utf8')) as {
  summary: { mutationsPerSecond: number; backend: string; students: number; paymentLatencyMs: string };
  commandRows: Array<{ command: string; perMutation: number }>;
};
const SECONDS = Number(opt.seconds);
const CONNECTIONS = Number(opt.connections);
const SIZE = Number(opt.documents);

/** Commands per mutation by kind (the first word of `command collection`). */
const perKind = new Map<string, number>();
for (const r of run.commandRows) {
  const kind = r.command.split(' ')[0];
  perKind.set(kind, (perKind.get(kind) ?? 0) + r.perMutation);
}

const mongo = await ensureMongo({ preferPort: 27021 });
// A database of its own per run, dropped at the end (FerretDB's PostgreSQL backend can trip on
// re-creating a database it has just dropped).
const conn = await mongoose
  .createConnection(withDatabase(mongo.uri, `bench_ceiling_${Date.now()}`), { maxPoolSize: CONNECTIONS })
  .asPromise();
try {
  const col = await conn.createCollection('docs');
  const doc = (i: number) => ({
    _id: `d${i}`,
    studentId: `s-${i % 500}`,
    lectureId: 'l-1',
    status: 'CONFIRMED',
    amount: 50_000,
    outbox: [{ id: `${i}`, type: 'registration.confirmed', payload: { a: 'x'.repeat(200) } }],
    createdAt: new Date(),
  });
  // A collection the size of a busy one, so that lookups by _id meet a real index.
  say(`filling a collection of ${SIZE} documents`);
  for (let i = 0; i < SIZE; i += 500) await col.insertMany(Array.from({ length: 500 }, (_, j) => doc(i + j)) as never[]);
  let next = 1_000_000;
  let nextDelete = SIZE;
  const ops: Record<string, (i: number) => Promise<unknown>> = {
    insert: () => col.insertOne(doc(next++) as never),
    update: (i) => col.updateOne({ _id: `d${i % SIZE}` as never }, { $set: { status: 'CANCELED', updatedAt: new Date() } }),
    delete: () => col.deleteOne({ _id: `d${nextDelete++}` as never }),
    find: (i) => col.findOne({ _id: `d${i % SIZE}` as never }),
  };
  const rates = new Map<string, number>();
  const order = ['insert', 'update', 'find', 'delete'];
  for (const kind of [...perKind.keys()].sort((a, b) => order.indexOf(a) - order.indexOf(b))) {
    const op = ops[kind];
    if (!op) continue;
    // Deletes need documents of their own: the insert rate times the measured seconds, twice over.
    if (kind === 'delete') {
      const spare = Math.ceil((2 * (rates.get('insert') ?? 1_000) * SECONDS) / 500) * 500;
      for (let i = 0; i < spare; i += 500) await col.insertMany(Array.from({ length: 500 }, (_, j) => doc(SIZE + i + j)) as never[]);
    }
    say(`measuring ${kind} for ${SECONDS} s`);
    let n = 0;
    const until = performance.now() + SECONDS * 1_000;
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: CONNECTIONS }, async () => {
        while (performance.now() < until) await op(n++);
      }),
    );
    rates.set(kind, n / ((performance.now() - t0) / 1_000));
  }
  const rows = [...perKind].map(([kind, perMutation]) => ({
    kind,
    perMutation: Number(perMutation.toFixed(2)),
    rawPerSecond: Math.round(rates.get(kind) ?? NaN),
  }));
  console.table(rows);
  const msPerMutation = rows.filter((r) => Number.isFinite(r.rawPerSecond)).reduce((a, r) => a + r.perMutation / r.rawPerSecond, 0) * 1_000;
  const ceiling = 1_000 / msPerMutation;
  say(
    `backend ${mongo.backend ?? run.summary.backend}: the database alone allows about ${ceiling.toFixed(0)} mutations/s for this command mix`,
  );
  say(
    `the run (${run.summary.students} students, payment ${run.summary.paymentLatencyMs} ms) reached ${run.summary.mutationsPerSecond} mutations/s: ${((100 * run.summary.mutationsPerSecond) / ceiling).toFixed(0)} % of that ceiling`,
  );
  await conn.dropDatabase();
} finally {
  await conn.close();
  await stopStarted();
}
process.exit(0);
