/**
 * The NATS server restarts during a burst of registrations and cancellations: publishers
 * (outbox relays) and consumers reconnect on their own, nothing is lost, and the
 * consistency checker ends green. Uses a nats-server of its own, with a store on disk.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, gql } from '@courses/devkit/graphql-client';
import { toolAvailable } from '@courses/test-kit/env';
import { natsServerBinary, startOwnNatsServer, type OwnNatsServer } from '@courses/test-kit/nats-server';
import { startSystem, type TestSystem } from '@courses/test-kit/system';

const hasNats = toolAvailable('nats-server', !!natsServerBinary(), 'npm test installs one; or set NATS_SERVER_BIN');
let nats: OwnNatsServer;
let sys: TestSystem;

describe.skipIf(!hasNats)('NATS restart during a burst', () => {
  beforeAll(async () => {
    nats = await startOwnNatsServer();
    sys = await startSystem({ nats, logLevel: process.env.TEST_LOG_LEVEL ?? 'error' });
  });
  afterAll(async () => {
    await sys?.stop().catch(() => undefined);
    await nats?.dispose();
  });

  it('loses nothing: every registration and cancellation takes full effect', async () => {
    const instructor = await sys.token('INSTRUCTOR', 'i-nats');
    const lectures = await Promise.all([0, 1, 2].map((i) => sys.openLecture(instructor, `NATS Restart ${i}`, 30, 10_000 * (i + 1))));
    await Promise.all(lectures.map((l) => sys.waitForCatalog(l)));
    const students = await Promise.all(Array.from({ length: 12 }, (_, i) => sys.token('STUDENT', `s-nats-${i}`)));

    // The burst: each student registers for a lecture, then cancels every other registration.
    const results: string[] = [];
    let burstDone = false;
    const burst = (async () => {
      for (let round = 0; round < 3; round++) {
        await Promise.all(
          students.map(async (t, i) => {
            const lectureId = lectures[(i + round) % lectures.length];
            const r = await gql(sys.url, `mutation($id: ID!) { registerForLecture(lectureId: $id) { id } }`, { id: lectureId }, t);
            if (r.errors) return void results.push(String(r.errors[0].extensions?.code));
            results.push('CONFIRMED');
            if (i % 2 === 0) {
              const c = await gql(
                sys.url,
                `mutation($id: ID!) { cancelRegistration(id: $id) { status } }`,
                { id: r.data!.registerForLecture.id },
                t,
              );
              results.push(c.errors ? String(c.errors[0].extensions?.code) : 'CANCELED');
            }
          }),
        );
        await new Promise((r) => setTimeout(r, 300)); // pacing: the burst spans the outage
      }
      burstDone = true;
    })();
    await eventually(async () => results.length > 0, 15_000, 'the burst under way');
    await nats.stop(); // mid-burst
    const answeredAtStop = results.length;
    // Registration does not need NATS to answer: one more student registers and cancels while it
    // is down (known to be down: the port is closed), the events waiting in the outbox.
    const whileDown = await sys.token('STUDENT', 's-nats-down');
    const down = await gql(
      sys.url,
      `mutation($id: ID!) { registerForLecture(lectureId: $id) { id status } }`,
      { id: lectures[0] },
      whileDown,
    );
    expect(down.errors).toBeUndefined();
    expect(down.data!.registerForLecture.status).toBe('CONFIRMED');
    // Readiness says what the pod can serve: it takes writes (their events wait in the outbox),
    // so it stays ready, and says it is degraded (from the connection's status events).
    const health = async () => {
      const res = await fetch(`${sys.services.registration.url}/health/ready`);
      return { status: res.status, degraded: ((await res.json()) as { degraded: string[] }).degraded };
    };
    await eventually(async () => (await health()).degraded.includes('nats'), 10_000, 'registration degraded while NATS is down');
    expect((await health()).status).toBe(200);
    expect((await fetch(`${sys.url}/health/ready`)).status).toBe(200); // the gateway too
    // The outage lasts until the burst has gone on answering without NATS.
    await eventually(async () => results.length > answeredAtStop || burstDone, 15_000, 'the burst answering while NATS is down');
    await nats.start();
    await eventually(async () => (await health()).degraded.length === 0, 15_000, 'registration no longer degraded');
    await burst;

    // Any other answer is an error code: named in the failure.
    const refused = `answers other than CONFIRMED and CANCELED: ${JSON.stringify(results.filter((r) => r !== 'CONFIRMED' && r !== 'CANCELED'))}`;
    expect(results.filter((r) => r === 'CONFIRMED').length, refused).toBe(36);
    expect(results.filter((r) => r === 'CANCELED').length, refused).toBe(18);
    // Messages the server had handed a consumer as it stopped, and that never reached it, are
    // delivered again once their ack wait (30 s, platform's consumer.ts) has passed: the outage can
    // hold back a projection that long, never lose it. (A CI run found 8 confirmation notices
    // still missing after the default 20 s: the likeliest cause, not proven.)
    await sys.assertConsistent(45_000);
  });
});
