/**
 * Quality requirements end to end: no overbooking under contention, registration while the
 * lecture or dashboard subgraph is down (and catch-up after), and the gateway's refusals.
 */
import mongoose from 'mongoose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collect, eventually, gql, gqlOk, wsClient } from '@courses/devkit/graphql-client';
import { mongoUri } from '@courses/test-kit/env';
import { startSystem, type TestSystem } from '@courses/test-kit/system';

let sys: TestSystem;
let instructor: string;
beforeAll(async () => {
  sys = await startSystem();
  instructor = await sys.token('INSTRUCTOR', 'i-res');
});
afterAll(async () => sys?.stop());

const REGISTER = `mutation($id: ID!) { registerForLecture(lectureId: $id) { id status payment { status } } }`;
const LECTURE = `query($id: ID!) { lecture(id: $id) { enrolledCount status } }`;

async function openReplicated(title: string, capacity: number, price = 10_000) {
  const id = await sys.openLecture(instructor, title, capacity, price);
  await sys.waitForCatalog(id);
  return id;
}

async function count(db: string, collection: string, filter: Record<string, unknown>) {
  const conn = await mongoose.createConnection(mongoUri(`${sys.tag}_${db}`)).asPromise();
  try {
    return await conn.collection(collection).countDocuments(filter);
  } finally {
    await conn.close();
  }
}

describe('no overbooking', () => {
  it('confirms exactly `capacity` of many concurrent students, and charges only them', async () => {
    const capacity = 3;
    const id = await openReplicated('The Last Seat', capacity, 77_000);
    const tokens = await Promise.all(Array.from({ length: 12 }, (_, i) => sys.token('STUDENT', `s-rush-${i}`)));
    const results = await Promise.all(tokens.map((t) => gql(sys.url, REGISTER, { id }, t)));
    const confirmed = results.filter((r) => r.data?.registerForLecture?.status === 'CONFIRMED');
    const full = results.filter((r) => r.errors?.[0]?.extensions?.code === 'LECTURE_FULL');
    expect(confirmed).toHaveLength(capacity);
    expect(full).toHaveLength(12 - capacity);
    expect(await count('registration', 'seats', { lectureId: id, kind: 'seat' })).toBe(capacity);
    expect(await count('registration', 'seats', { lectureId: id, kind: 'holder' })).toBe(capacity);
    expect(await count('payment', 'payments', { lectureId: id, status: 'COMPLETED' })).toBe(capacity);
    expect(await count('payment', 'payments', { lectureId: id })).toBe(capacity);
    await eventually(async () => (await gqlOk(sys.url, LECTURE, { id })).lecture.enrolledCount === capacity, 15_000, 'enrolled count');
  });
});

describe('fault isolation', () => {
  it('registers while the lecture subgraph is down; the lecture side catches up when it returns', async () => {
    const id = await openReplicated('Resilient Lecture', 10);
    await sys.stopService('lecture');
    const students = await Promise.all(['a', 'b', 'c'].map((s) => sys.token('STUDENT', `s-down-${s}`)));
    for (const t of students) {
      const r = await gqlOk(sys.url, `mutation($id: ID!) { registerForLecture(lectureId: $id) { id status } }`, { id }, t);
      expect(r.registerForLecture.status).toBe('CONFIRMED');
    }
    // What needs the stopped subgraph fails with a stable code and no internal address.
    const down = await gql(sys.url, `query($id: ID!) { lecture(id: $id) { title } }`, { id });
    expect(down.errors?.[0].extensions).toMatchObject({ code: 'SERVICE_UNAVAILABLE', retryAfterSeconds: 1 });
    expect(JSON.stringify(down.errors)).not.toMatch(/127\.0\.0\.1|ECONNREFUSED/);
    await sys.restartService('lecture');
    const after = await eventually(
      async () => {
        const d = await gqlOk(sys.url, LECTURE, { id });
        return d.lecture.enrolledCount === 3 ? d.lecture : undefined;
      },
      20_000,
      'lecture caught up',
    );
    expect(after).toEqual({ enrolledCount: 3, status: 'OPEN' });
  });

  it("answers a student in full while the lecture subgraph is down, from registration's catalog replica; lecture-only fields fail alone", async () => {
    const id = await openReplicated('Answered Anyway', 10, 25_000);
    await sys.stopService('lecture');
    const t = await sys.token('STUDENT', 's-outage-answer');
    const reg = (
      await gqlOk(
        sys.url,
        `mutation($id: ID!) { registerForLecture(lectureId: $id) { id status lecture { title price status } } }`,
        { id },
        t,
      )
    ).registerForLecture;
    expect(reg).toMatchObject({ status: 'CONFIRMED', lecture: { title: 'Answered Anyway', price: 25_000, status: 'OPEN' } });
    const canceled = (
      await gqlOk(sys.url, `mutation($id: ID!) { cancelRegistration(id: $id) { status lecture { title } } }`, { id: reg.id }, t)
    ).cancelRegistration;
    expect(canceled).toEqual({ status: 'CANCELED', lecture: { title: 'Answered Anyway' } });
    const mine = await eventually(
      async () => {
        const d = (await gqlOk(sys.url, `{ myRegistrations { id status lecture { title price } payment { status } } }`, {}, t))
          .myRegistrations;
        return d[0]?.payment?.status === 'REFUNDED' ? d : undefined;
      },
      15_000,
      'the refund',
    );
    expect(mine).toEqual([
      { id: reg.id, status: 'CANCELED', lecture: { title: 'Answered Anyway', price: 25_000 }, payment: { status: 'REFUNDED' } },
    ]);
    // The enrolled count is the lecture subgraph's alone: asking for it fails with a stable code.
    const count = await gql(sys.url, `{ myRegistrations { id lecture { enrolledCount } } }`, {}, t);
    expect(count.errors?.[0].extensions?.code).toBe('SERVICE_UNAVAILABLE');
    // Payment and dashboard down as well: what does not need them still answers in full.
    await sys.stopService('payment');
    await sys.stopService('dashboard');
    const bare = (await gqlOk(sys.url, `{ myRegistrations { id status cancellationReason lecture { title status } } }`, {}, t))
      .myRegistrations;
    expect(bare).toEqual([
      { id: reg.id, status: 'CANCELED', cancellationReason: 'STUDENT_REQUEST', lecture: { title: 'Answered Anyway', status: 'OPEN' } },
    ]);
    for (const name of ['payment', 'dashboard', 'lecture'] as const) await sys.restartService(name);
    await sys.assertConsistent();
  });

  it('brings back each subgraph killed abruptly in process, as the soak does, and keeps serving', async () => {
    for (const name of ['registration', 'payment', 'lecture', 'dashboard'] as const) {
      await sys.crashService(name);
      await sys.restartService(name);
    }
    const id = await openReplicated('After the crashes', 5);
    const reg = await sys.register(id, await sys.token('STUDENT', 's-after-crashes'));
    expect(reg.status).toBe('CONFIRMED');
    await sys.assertConsistent();
  });

  it('registers while the dashboard is down; the dashboard catches up when it returns', async () => {
    const id = await openReplicated('Dashboard Outage', 10);
    await sys.stopService('dashboard');
    const t = await sys.token('STUDENT', 's-dash-down');
    const reg = (await gqlOk(sys.url, `mutation($id: ID!) { registerForLecture(lectureId: $id) { id status } }`, { id }, t))
      .registerForLecture;
    expect(reg.status).toBe('CONFIRMED');
    await sys.restartService('dashboard');
    await eventually(
      async () => {
        const d = (await gqlOk(sys.url, `{ myDashboard { registrationId registrationStatus paymentStatus } }`, {}, t)).myDashboard;
        return d.some((e: any) => e.registrationId === reg.id && e.paymentStatus === 'COMPLETED');
      },
      20_000,
      'dashboard caught up',
    );
    // The inbox too: the confirmation that happened while it was down, told once.
    const inbox = await eventually(
      async () => {
        const n = (await gqlOk(sys.url, `{ myNotifications { edges { node { kind registrationId } } } unreadNotificationCount }`, {}, t))
          .myNotifications.edges;
        return n.length ? n : undefined;
      },
      20_000,
      'inbox caught up',
    );
    expect(inbox.map((e: any) => e.node)).toEqual([{ kind: 'REGISTRATION_CONFIRMED', registrationId: reg.id }]);
    await sys.assertConsistent();
  });
});

describe('consumers that were down catch up', () => {
  it("payment's refund policy: a cancellation made while payment is down is refunded when it returns", async () => {
    const id = await openReplicated('Refund Later', 5);
    const t = await sys.token('STUDENT', 's-refund-later');
    const reg = await sys.register(id, t);
    await sys.stopService('payment');
    const canceled = await gqlOk(sys.url, `mutation($id: ID!) { cancelRegistration(id: $id) { status } }`, { id: reg.id }, t);
    expect(canceled.cancelRegistration.status).toBe('CANCELED');
    expect(await count('payment', 'payments', { registrationId: reg.id, status: 'COMPLETED' })).toBe(1);
    await sys.restartService('payment');
    await eventually(
      async () => (await count('payment', 'payments', { registrationId: reg.id, status: 'REFUNDED' })) === 1,
      20_000,
      'refunded after restart',
    );
  });

  it("registration's lecture-canceled policy: a lecture canceled while registration is down cancels its registrations when it returns", async () => {
    const id = await openReplicated('Cancel While Down', 5);
    const t = await sys.token('STUDENT', 's-policy-down');
    const reg = await sys.register(id, t);
    await sys.stopService('registration');
    await gqlOk(sys.url, `mutation($id: ID!) { cancelLecture(id: $id) { status } }`, { id }, instructor);
    await sys.restartService('registration');
    const final = await eventually(
      async () => {
        const r = (
          await gqlOk(
            sys.url,
            `query($id: ID!) { registration(id: $id) { status cancellationReason payment { status } } }`,
            { id: reg.id },
            t,
          )
        ).registration;
        return r?.payment?.status === 'REFUNDED' ? r : undefined;
      },
      20_000,
      'canceled and refunded after restart',
    );
    expect(final).toMatchObject({ status: 'CANCELED', cancellationReason: 'LECTURE_CANCELED' });
  });
});

describe('the gateway refuses what it must', () => {
  it('answers a bad token with UNAUTHENTICATED, and serves the public catalog without one', async () => {
    const r = await gql(sys.url, `{ myRegistrations { id } }`, {}, 'not-a-jwt');
    expect(r.status).toBe(401);
    expect(r.errors?.[0].extensions?.code).toBe('UNAUTHENTICATED');
    const anon = await gql(sys.url, `{ myRegistrations { id } }`);
    expect(anon.errors?.[0].extensions?.code).toBe('UNAUTHENTICATED');
    expect((await gqlOk(sys.url, `{ lectures(first: 1) { totalCount } }`)).lectures.totalCount).toBeGreaterThan(0);
  });

  it('reports malformed ids as BAD_USER_INPUT through the supergraph', async () => {
    const t = await sys.token('STUDENT', 's-bad');
    for (const [q, v] of [
      [REGISTER, { id: '123' }],
      [`mutation($id: ID!) { cancelRegistration(id: $id) { id } }`, { id: 'zz' }],
      [`query($id: ID!) { lecture(id: $id) { id } }`, { id: '../etc' }],
    ] as const) {
      const r = await gql(sys.url, q, v, t);
      expect(r.errors?.[0].extensions?.code).toBe('BAD_USER_INPUT');
    }
    const neg = await gql(sys.url, `mutation { openLecture(input: { title: "x", capacity: 5, price: -100 }) { id } }`, {}, instructor);
    expect(neg.errors?.[0].extensions?.code).toBe('BAD_USER_INPUT');
  });

  it('refuses a websocket with a bad token (4403) and an anonymous registration subscription', async () => {
    const closed = new Promise<number>((resolve) => {
      const c = wsClient(sys.url, 'garbage', (code) => resolve(code));
      c.subscribe({ query: '{ __typename }' }, { next: () => undefined, error: () => undefined, complete: () => undefined });
    });
    expect(await closed).toBe(4403);
    const anon = wsClient(sys.url);
    const sub = collect(anon, `subscription { registrationStatusChanged { id } }`);
    const [first] = await sub.waitFor(1);
    expect(JSON.stringify(first)).toContain('UNAUTHENTICATED');
    await anon.dispose();
  });

  it('subgraphs refuse direct calls that bypass the gateway', async () => {
    for (const s of Object.values(sys.services)) {
      const res = await fetch(`${s.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{"query":"{ __typename }"}',
      });
      expect(res.status).toBe(401);
    }
  });
});

describe('afterwards', () => {
  it('the consistency checker finds every invariant holding', async () => {
    await sys.assertConsistent();
  });
});
