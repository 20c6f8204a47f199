/**
 * Processes killed with SIGKILL at the worst moment:
 * - between storing a state change and publishing its event: the event waits in the
 *   aggregate's outbox and is delivered after the restart;
 * - in the middle of a registration's payment call: after the restart, the reconciler
 *   abandons the stuck attempt, its seat is freed and the late charge refunded.
 * The subgraph under test runs as a child process (dist/main.js) in place of the in-process one.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import mongoose from 'mongoose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, gql } from '@courses/devkit/graphql-client';
import { mongoUri } from '@courses/test-kit/env';
import { startSystem, type TestSystem } from '@courses/test-kit/system';

let sys: TestSystem;
const children: ChildProcess[] = [];
const root = fileURLToPath(new URL('../../', import.meta.url));

/** Starts subgraph `name` from its build as a child process on the in-process one's port and env. */
async function spawnSubgraph(name: 'lecture' | 'registration', extraEnv: Record<string, string> = {}): Promise<ChildProcess> {
  const env = { ...process.env, ...sys.envOf(name), ...extraEnv };
  const child = spawn(process.execPath, [`${root}subgraphs/${name}/dist/main.js`], { env, stdio: 'ignore' });
  children.push(child);
  const url = `http://127.0.0.1:${env.PORT}/health/ready`;
  await eventually(async () => (await fetch(url).catch(() => null))?.ok, 15_000, `${name} child ready`);
  return child;
}
async function kill9(child: ChildProcess) {
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGKILL');
  await exited;
}
async function collection(db: string, name: string) {
  const conn = await mongoose.createConnection(mongoUri(`${sys.tag}_${db}`)).asPromise();
  return { col: conn.collection(name), close: () => conn.close() };
}

beforeAll(async () => {
  // A 5 s charge timeout, and no admission queue, so that the timing budget (platform's
  // timing-budget.ts) allows abandoning a dead attempt after 6.5 s below.
  sys = await startSystem({ registration: { PAYMENT_TIMEOUT_MS: '5000', REGISTRATION_QUEUE_MS: '0' } });
});
afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await sys?.stop();
});

describe('SIGKILL', () => {
  it('between storing a change and publishing its event: the event is delivered after restart', async () => {
    await sys.stopService('lecture');
    const crashing = await spawnSubgraph('lecture', { OUTBOX_RELAY: 'off' });
    const instructor = await sys.token('INSTRUCTOR', 'i-crash');
    const lectureId = await sys.openLecture(instructor, 'Survives a crash', 5);
    const lectures = await collection('lecture', 'lectures');
    const stored = await lectures.col.findOne({ _id: lectureId as never });
    expect(stored?.outbox.map((e: { type: string }) => e.type)).toEqual(['lecture.opened']);
    await kill9(crashing);

    const restarted = await spawnSubgraph('lecture');
    await sys.waitForCatalog(lectureId); // registration learned of it: the event was published
    await lectures.close();
    const claims = await collection('lecture', '_outbox');
    await eventually(async () => (await claims.col.countDocuments({ docId: lectureId })) === 0, 10_000, "the dead process's claim settled");
    await claims.close();
    await kill9(restarted);
    await sys.restartService('lecture');
  });

  it('in the middle of the payment call: the stuck attempt is abandoned, its seat freed, the charge refunded', async () => {
    await sys.stopService('payment');
    Object.assign(sys.envOf('payment'), { PAYMENT_LATENCY_MS: '2500' });
    await sys.restartService('payment');
    await sys.stopService('registration');
    let registration = await spawnSubgraph('registration', { PENDING_TIMEOUT_MS: '6500' });

    const instructor = await sys.token('INSTRUCTOR', 'i-crash2');
    const lectureId = await sys.openLecture(instructor, 'Crash during payment', 1, 70_000);
    await sys.waitForCatalog(lectureId);
    const student = await sys.token('STUDENT', 's-crash');
    const inFlight = gql(sys.url, `mutation($id: ID!) { registerForLecture(lectureId: $id) { id } }`, { id: lectureId }, student).catch(
      (e) => e,
    );
    const seats = await collection('registration', 'seats');
    await eventually(async () => (await seats.col.countDocuments({ lectureId, kind: 'seat' })) === 1, 5_000, 'seat taken');
    await kill9(registration); // the charge is still in flight at payment
    await inFlight;

    registration = await spawnSubgraph('registration', { PENDING_TIMEOUT_MS: '6500' });
    // Seat and holder both.
    await eventually(async () => (await seats.col.countDocuments({ lectureId })) === 0, 30_000, 'seat and holder freed by reconciliation');
    await seats.close();
    // The late charge completes (2.5 s in) and is refunded once the attempt is abandoned.
    const pay = await collection('payment', 'payments');
    await eventually(
      async () => (await pay.col.countDocuments({ lectureId, status: { $in: ['REFUNDED', 'VOIDED'] } })) === 1,
      20_000,
      'late charge refunded',
    );
    await pay.close();
    await sys.assertConsistent(); // includes: no COMPLETED payment without a CONFIRMED registration
    const payments = await collection('payment', 'payments');
    const docs = await payments.col.find({ lectureId }).toArray();
    await payments.close();
    expect(docs.map((d) => d.status)).toEqual([expect.stringMatching(/^(REFUNDED|VOIDED)$/)]);
    // The seat is free for someone else.
    const other = await sys.token('STUDENT', 's-after-crash');
    expect((await sys.register(lectureId, other)).status).toBe('CONFIRMED');
    await kill9(registration);
    await sys.restartService('registration');
  });

  it('afterwards the consistency checker finds every invariant holding', async () => {
    await sys.assertConsistent();
  });
});
