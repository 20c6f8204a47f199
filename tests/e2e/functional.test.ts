/**
 * The 12 functional requirements (requirements.md), end to end through the gateway, on a
 * real MongoDB-wire server and a real NATS server.
 */
import mongoose from 'mongoose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MarkNotificationsReadDocument, MyInboxDocument, request, type MyInboxQuery } from '@courses/client';
import { collect, eventually, gql, gqlOk, wsClient } from '@courses/devkit/graphql-client';
import { mongoUri } from '@courses/test-kit/env';
import { startSystem, type TestSystem } from '@courses/test-kit/system';

let sys: TestSystem;
let instructor: string;
let otherInstructor: string;
let student: string;
let student2: string;

const OPEN = `mutation($input: OpenLectureInput!) { openLecture(input: $input) { id title instructorId capacity price status enrolledCount } }`;
const REGISTER = `mutation($lectureId: ID!) { registerForLecture(lectureId: $lectureId) { id studentId status cancellationReason payment { id amount status } lecture { id title } } }`;
const CANCEL_REG = `mutation($id: ID!) { cancelRegistration(id: $id) { id status cancellationReason } }`;
const LECTURE = `query($id: ID!) { lecture(id: $id) { id status enrolledCount registrations { totalCount edges { cursor node { id status studentId } } pageInfo { hasNextPage endCursor } } } }`;
const DASHBOARD = `{ myDashboard { registrationId lectureId lectureTitle registrationStatus paymentStatus updatedAt } }`;

async function openLecture(title: string, capacity = 10, price = 50_000, token = instructor) {
  return (await gqlOk(sys.url, OPEN, { input: { title, capacity, price } }, token)).openLecture;
}
const REGISTRATION_FIELDS = 'id studentId status cancellationReason payment { id amount status } lecture { id title }';
const registerWhenReplicated = (lectureId: string, token: string) => sys.register(lectureId, token, REGISTRATION_FIELDS);

beforeAll(async () => {
  sys = await startSystem({ payment: { PAYMENT_DECLINE_STUDENTS: 's-broke' } });
  [instructor, otherInstructor, student, student2] = await Promise.all([
    sys.token('INSTRUCTOR', 'i-kim'),
    sys.token('INSTRUCTOR', 'i-lee'),
    sys.token('STUDENT', 's-park'),
    sys.token('STUDENT', 's-choi'),
  ]);
});
afterAll(async () => sys?.stop());

describe('instructor side', () => {
  it('FR6: an instructor opens a lecture', async () => {
    const l = await openLecture('Introduction to Databases', 30, 120_000);
    expect(l).toMatchObject({
      title: 'Introduction to Databases',
      instructorId: 'i-kim',
      capacity: 30,
      price: 120_000,
      status: 'OPEN',
      enrolledCount: 0,
    });
    const page = await gqlOk(sys.url, `{ lectures(first: 100) { totalCount edges { node { id } } } }`);
    expect(page.lectures.edges.map((e: any) => e.node.id)).toContain(l.id);
  });

  it("FR7: an instructor cancels their own lecture, but not another instructor's", async () => {
    const l = await openLecture('Compilers');
    const denied = await gql(sys.url, `mutation($id: ID!) { cancelLecture(id: $id) { id } }`, { id: l.id }, otherInstructor);
    expect(denied.errors?.[0].extensions?.code).toBe('FORBIDDEN');
    const ok = await gqlOk(sys.url, `mutation($id: ID!) { cancelLecture(id: $id) { id status } }`, { id: l.id }, instructor);
    expect(ok.cancelLecture.status).toBe('CANCELED');
  });
});

describe('student side', () => {
  it('FR1, FR2, FR3: registering pays the fee and the lecture learns the enrolled count', async () => {
    const l = await openLecture('Operating Systems', 5, 90_000);
    const reg = await registerWhenReplicated(l.id, student);
    expect(reg).toMatchObject({
      studentId: 's-park',
      status: 'CONFIRMED',
      cancellationReason: null,
      lecture: { id: l.id, title: 'Operating Systems' },
    });
    expect(reg.payment).toMatchObject({ amount: 90_000, status: 'COMPLETED' });
    // FR3/FR10: the instructor sees the enrolled count and the registrations.
    const seen = await eventually(async () => {
      const d = await gqlOk(sys.url, LECTURE, { id: l.id }, instructor);
      return d.lecture.enrolledCount === 1 ? d.lecture : undefined;
    });
    expect(seen.registrations.edges.map((e: any) => e.node.id)).toEqual([reg.id]);
    expect(seen.registrations).toMatchObject({ totalCount: 1, pageInfo: { hasNextPage: false } });
    // Another instructor gets no list.
    const other = await gqlOk(sys.url, LECTURE, { id: l.id }, otherInstructor);
    expect(other.lecture.registrations).toBeNull();
  });

  it('FR4, FR5: a student cancels; the payment is refunded and the count drops', async () => {
    const l = await openLecture('Computer Networks', 5, 70_000);
    const reg = await registerWhenReplicated(l.id, student);
    await eventually(async () => (await gqlOk(sys.url, LECTURE, { id: l.id }, instructor)).lecture.enrolledCount === 1);
    const canceled = await gqlOk(sys.url, CANCEL_REG, { id: reg.id }, student);
    expect(canceled.cancelRegistration).toMatchObject({ status: 'CANCELED', cancellationReason: 'STUDENT_REQUEST' });
    const refunded = await eventually(async () => {
      const d = await gqlOk(sys.url, `query($id: ID!) { registration(id: $id) { payment { status amount } } }`, { id: reg.id }, student);
      return d.registration.payment.status === 'REFUNDED' ? d.registration.payment : undefined;
    });
    expect(refunded.amount).toBe(70_000);
    await eventually(async () => (await gqlOk(sys.url, LECTURE, { id: l.id }, instructor)).lecture.enrolledCount === 0);
    // Another student may not cancel it, nor learn that it exists: the same answer as an unknown id.
    const denied = await gql(sys.url, CANCEL_REG, { id: reg.id }, student2);
    expect(denied.errors?.[0].extensions?.code).toBe('NOT_FOUND');
    const unknown = await gql(sys.url, CANCEL_REG, { id: 'f'.repeat(24) }, student2);
    expect(unknown.errors?.[0].extensions?.code).toBe('NOT_FOUND');
  });

  it('FR8: canceling a lecture cancels and refunds every registration of it', async () => {
    const l = await openLecture('Machine Learning', 5, 150_000);
    const r1 = await registerWhenReplicated(l.id, student);
    const r2 = await registerWhenReplicated(l.id, student2);
    await gqlOk(sys.url, `mutation($id: ID!) { cancelLecture(id: $id) { id } }`, { id: l.id }, instructor);
    for (const [reg, token] of [
      [r1, student],
      [r2, student2],
    ] as const) {
      const final = await eventually(async () => {
        const d = await gqlOk(
          sys.url,
          `query($id: ID!) { registration(id: $id) { status cancellationReason payment { status } } }`,
          { id: reg.id },
          token,
        );
        // One answer reads registration, then payment: a refund may land between the two reads
        // (federation gives no snapshot across subgraphs), so wait for both sides to show it.
        return d.registration.payment.status === 'REFUNDED' && d.registration.status === 'CANCELED' ? d.registration : undefined;
      });
      expect(final).toMatchObject({ status: 'CANCELED', cancellationReason: 'LECTURE_CANCELED' });
    }
    const after = await gql(sys.url, REGISTER, { lectureId: l.id }, student);
    expect(after.errors?.[0].extensions?.code).toBe('LECTURE_NOT_OPEN');
  });

  it("FR10: an instructor pages through a lecture's registrations (Relay connection, first 1-100)", async () => {
    const l = await openLecture('Paged', 5);
    const ids: string[] = [];
    for (const s of ['s-page-1', 's-page-2', 's-page-3']) ids.push((await registerWhenReplicated(l.id, await sys.token('STUDENT', s))).id);
    const PAGE = `query($id: ID!, $first: Int, $after: String) { lecture(id: $id) { registrations(first: $first, after: $after) { totalCount edges { cursor node { id } } pageInfo { hasNextPage endCursor } } } }`;
    const one = (await gqlOk(sys.url, PAGE, { id: l.id, first: 2 }, instructor)).lecture.registrations;
    expect(one.totalCount).toBe(3);
    expect(one.edges).toHaveLength(2);
    expect(one.pageInfo.hasNextPage).toBe(true);
    const two = (await gqlOk(sys.url, PAGE, { id: l.id, first: 2, after: one.pageInfo.endCursor }, instructor)).lecture.registrations;
    expect(two.edges).toHaveLength(1);
    expect(two.pageInfo.hasNextPage).toBe(false);
    expect([...one.edges, ...two.edges].map((e: any) => e.node.id).sort()).toEqual([...ids].sort());
    for (const [vars, field] of [
      [{ first: 0 }, 'first'],
      [{ first: 101 }, 'first'],
      [{ after: 'bm90LWEtY3Vyc29y' }, 'after'],
    ] as const) {
      const bad = await gql(sys.url, PAGE, { id: l.id, ...vars }, instructor);
      expect(bad.errors?.[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field });
    }
  });

  it('FR9: a student looks up their own registrations only', async () => {
    const mine = await gqlOk(sys.url, `{ myRegistrations { id studentId status } }`, {}, student);
    expect(mine.myRegistrations.length).toBeGreaterThanOrEqual(3);
    expect(new Set(mine.myRegistrations.map((r: any) => r.studentId))).toEqual(new Set(['s-park']));
    const theirs = await gqlOk(sys.url, `{ myRegistrations { id } }`, {}, student2);
    const someoneElses = mine.myRegistrations[0].id;
    expect(theirs.myRegistrations.map((r: any) => r.id)).not.toContain(someoneElses);
    const peek = await gqlOk(sys.url, `query($id: ID!) { registration(id: $id) { id } }`, { id: someoneElses }, student2);
    expect(peek.registration).toBeNull();
  });

  it('FR11: the dashboard shows every registration with its payment state', async () => {
    const mine = (await gqlOk(sys.url, `{ myRegistrations { id status payment { status } } }`, {}, student)).myRegistrations;
    const entries = await eventually(async () => {
      const d = (await gqlOk(sys.url, DASHBOARD, {}, student)).myDashboard;
      const byId = new Map(d.map((e: any) => [e.registrationId, e]));
      return mine.every((r: any) => {
        const e: any = byId.get(r.id);
        return e && e.registrationStatus === r.status && e.paymentStatus === r.payment.status;
      })
        ? d
        : undefined;
    });
    expect(entries.length).toBe(mine.length);
    for (const e of entries) expect(e.lectureTitle, JSON.stringify(e)).toMatch(/\S/);
  });
});

describe('notifications inbox', () => {
  const INBOX = `{ myNotifications { totalCount edges { node { id kind message reason amount read registrationId lecture { title } } } } unreadNotificationCount }`;

  it('tells a student, once each, that they registered, canceled and were refunded, and that a payment failed; read ones stop counting', async () => {
    const lecture = await openLecture('Inbox Lecture', 5, 30_000);
    await sys.waitForCatalog(lecture.id);
    const t = await sys.token('STUDENT', 's-inbox-e2e');
    const reg = await sys.register(lecture.id, t);
    await gqlOk(sys.url, CANCEL_REG, { id: reg.id }, t);
    const broke = await sys.token('STUDENT', 's-broke');
    const declined = await gql(sys.url, `mutation($id: ID!) { registerForLecture(lectureId: $id) { id } }`, { id: lecture.id }, broke);
    expect(declined.errors?.[0].extensions?.code).toBe('PAYMENT_DECLINED');

    const inbox = await eventually(async () => {
      const d = await gqlOk(sys.url, INBOX, {}, t);
      // The list, its count and the unread count are read in parallel (separate queries), so wait
      // until all three saw all three notifications.
      const all = d.myNotifications.totalCount === 3 && d.myNotifications.edges.length === 3 && d.unreadNotificationCount === 3;
      return all ? d : undefined;
    });
    expect(inbox.unreadNotificationCount).toBe(3);
    const byKind = Object.fromEntries(inbox.myNotifications.edges.map((e: any) => [e.node.kind, e.node]));
    expect(byKind.REGISTRATION_CONFIRMED).toMatchObject({ registrationId: reg.id, amount: 30_000, lecture: { title: 'Inbox Lecture' } });
    expect(byKind.REGISTRATION_CANCELED).toMatchObject({ reason: 'STUDENT_REQUEST', read: false });
    expect(byKind.PAYMENT_REFUNDED).toMatchObject({ amount: 30_000, message: '30,000 KRW was refunded.' });
    const failed = await eventually(async () => (await gqlOk(sys.url, INBOX, {}, broke)).myNotifications.edges[0]?.node);
    expect(failed).toMatchObject({ kind: 'PAYMENT_FAILED', reason: 'PAYMENT_DECLINED', lecture: { title: 'Inbox Lecture' } });

    // The same through the typed documents a TypeScript client imports (@courses/client): the
    // result and variables are typed by the document.
    const typed: MyInboxQuery = await request(`${sys.url}/graphql`, MyInboxDocument, {}, t);
    expect(typed.unreadNotificationCount).toBe(3);
    const ids = typed.myNotifications.edges.map((e) => e.node.id);
    expect((await request(`${sys.url}/graphql`, MarkNotificationsReadDocument, { ids }, t)).markNotificationsRead).toBe(3);
    expect((await request(`${sys.url}/graphql`, MyInboxDocument, {}, t)).unreadNotificationCount).toBe(0);
    await expect(request(`${sys.url}/graphql`, MarkNotificationsReadDocument, { ids: ['nope'] }, t)).rejects.toMatchObject({
      errors: [expect.objectContaining({ extensions: expect.objectContaining({ code: 'BAD_USER_INPUT' }) })],
    });
    await sys.assertConsistent();
  });
});

describe('FR12: live status changes over graphql-ws', () => {
  it("a student receives their own registration changes, and no one else's", async () => {
    const l = await openLecture('Live Systems', 5, 10_000);
    const c1 = wsClient(sys.url, student);
    const c2 = wsClient(sys.url, student2);
    const Q = `subscription { registrationStatusChanged { id studentId status payment { status } lecture { title enrolledCount } } }`;
    const before = sys.gateway.hub.listeners;
    const mineSub = collect(c1, Q);
    const theirsSub = collect(c2, Q);
    const lectureSub = collect(c1, `subscription($id: ID!) { lectureUpdated(lectureId: $id) { id status enrolledCount } }`, { id: l.id });
    // Every subscription listens to each context of its route: 2 + 2 + 1.
    await eventually(async () => sys.gateway.hub.listeners >= before + 5, 5_000, 'the three subscriptions listening');
    const reg = await registerWhenReplicated(l.id, student);
    const got = await mineSub.waitFor(1);
    expect(got[0].data).toMatchObject({
      registrationStatusChanged: { id: reg.id, studentId: 's-park', lecture: { title: 'Live Systems' } },
    });
    const counts = await lectureSub.waitFor(1);
    expect(counts[0].data).toMatchObject({ lectureUpdated: { id: l.id, enrolledCount: 1 } });
    await gqlOk(sys.url, CANCEL_REG, { id: reg.id }, student);
    const all = await eventually(async () => {
      const statuses = mineSub.results.map(
        (r: any) => `${r.data.registrationStatusChanged.status}/${r.data.registrationStatusChanged.payment?.status}`,
      );
      return statuses.includes('CANCELED/REFUNDED') ? statuses : undefined;
    });
    expect(all[0].startsWith('CONFIRMED')).toBe(true);
    expect(theirsSub.results).toEqual([]);
    mineSub.stop();
    theirsSub.stop();
    lectureSub.stop();
    await c1.dispose();
    await c2.dispose();
  });
});

describe('consistency checker', () => {
  it('finds every invariant holding after the scenario', async () => {
    await sys.assertConsistent();
  });

  it('reports tampered state: a wrong enrolled count, an unrefunded cancellation, an orphan charge, a notification told twice', async () => {
    const l = await openLecture('Tamper Test', 5, 30_000);
    const reg = await registerWhenReplicated(l.id, student);
    await gqlOk(sys.url, CANCEL_REG, { id: reg.id }, student);
    await sys.assertConsistent();
    const conn = (name: string) => mongoose.createConnection(mongoUri(`${sys.tag}_${name}`)).asPromise();
    const [lec, pay, dash] = await Promise.all([conn('lecture'), conn('payment'), conn('dashboard')]);
    const told = await dash.collection('notifications').findOne({ registrationId: reg.id, kind: 'REGISTRATION_CANCELED' });
    expect(told).not.toBeNull();
    // FerretDB v1 rewrites a whole document per update: tamper and repair only while the lecture
    // service has no write of this lecture in flight (no outbox claim on it), or its write could
    // put back what it read.
    const noLectureWrite = () =>
      eventually(
        async () => !(await lec.collection('_outbox').findOne({ _id: `lectures:${l.id}` as never })),
        10_000,
        'no lecture write in flight',
      );
    try {
      await noLectureWrite();
      await lec.collection('lectures').updateOne({ _id: l.id as never }, { $set: { enrolledCount: 4 } });
      await pay.collection('payments').updateOne({ registrationId: reg.id }, { $set: { status: 'COMPLETED' } });
      await dash.collection('notifications').insertOne({ ...told!, _id: 'f'.repeat(24) as never });
      const found = (await sys.check()).map((v) => `${v.invariant} ${v.subject} ${v.message}`);
      expect(found).toEqual(
        expect.arrayContaining([
          expect.stringMatching(new RegExp(`^4 lecture ${l.id}`)),
          expect.stringMatching(new RegExp(`^2 registration ${reg.id}`)),
          expect.stringMatching(/^3 payment /),
          `7 registration ${reg.id} 2 REGISTRATION_CANCELED notifications, expected 1`,
        ]),
      );
    } finally {
      await noLectureWrite();
      await lec.collection('lectures').updateOne({ _id: l.id as never }, { $set: { enrolledCount: 0 } });
      await pay.collection('payments').updateOne({ registrationId: reg.id }, { $set: { status: 'REFUNDED' } });
      await dash.collection('notifications').deleteOne({ _id: 'f'.repeat(24) as never });
      await Promise.all([lec.close(), pay.close(), dash.close()]);
    }
    await sys.assertConsistent();
  });
});
