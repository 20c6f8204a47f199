/**
 * The waitlist end to end, through the gateway, on a real MongoDB-wire server and a real NATS
 * server: a full lecture queues the students who ask, first come first served, with a live
 * position; a freed seat enrolls the first in line (charged then, told live and in the inbox); a
 * declined charge drops them for the next; leaving and a canceled lecture charge nothing; bad
 * input gets a clear code and changes nothing; the consistency checker holds throughout.
 */
import mongoose from 'mongoose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collect, eventually, gql, gqlOk, wsClient } from '@courses/devkit/graphql-client';
import { mongoUri } from '@courses/test-kit/env';
import { startSystem, type TestSystem } from '@courses/test-kit/system';

let sys: TestSystem;
let instructor: string;
const students: Record<string, string> = {};

const REGISTER = `mutation($id: ID!, $w: Boolean) { registerForLecture(lectureId: $id, waitlistIfFull: $w) { id studentId status waitlistPosition cancellationReason payment { status amount } } }`;
const CANCEL = `mutation($id: ID!) { cancelRegistration(id: $id) { id status cancellationReason waitlistPosition } }`;
const REG = `query($id: ID!) { registration(id: $id) { id status waitlistPosition cancellationReason payment { status } } }`;
const LECTURE = `query($id: ID!) { lecture(id: $id) { id enrolledCount waitlistLength } }`;
const INBOX = `{ myNotifications(first: 20) { edges { node { kind reason fromWaitlist position message } } } }`;

const code = (r: { errors?: Array<{ extensions?: Record<string, any> }> }) => r.errors?.[0]?.extensions?.code;
const token = async (sub: string) => (students[sub] ??= await sys.token('STUDENT', sub));
const register = async (lectureId: string, sub: string, waitlist = true) =>
  gql(sys.url, REGISTER, { id: lectureId, w: waitlist }, await token(sub));
const registerOk = async (lectureId: string, sub: string, waitlist = true) => {
  const r = await register(lectureId, sub, waitlist);
  if (r.errors?.length) throw new Error(`${sub}: ${JSON.stringify(r.errors)}`);
  return r.data!.registerForLecture;
};
/** A lecture of `capacity` seats, known to registration, filled by students `<prefix>-1..capacity`. */
async function fullLecture(prefix: string, capacity: number) {
  const id = await sys.openLecture(instructor, `Waitlist ${prefix}`, capacity, 20_000);
  await sys.waitForCatalog(id);
  const seated = [];
  for (let i = 1; i <= capacity; i++) seated.push(await registerOk(id, `${prefix}-${i}`, false));
  expect(seated.every((r) => r.status === 'CONFIRMED')).toBe(true);
  return { id, seated };
}
const registration = async (id: string, sub: string) => (await gqlOk(sys.url, REG, { id }, await token(sub))).registration;

beforeAll(async () => {
  sys = await startSystem({ payment: { PAYMENT_DECLINE_STUDENTS: 'broke-1' } });
  instructor = await sys.token('INSTRUCTOR', 'i-wait');
});
afterAll(async () => sys?.stop());

describe('joining a waitlist', () => {
  it('queues the students who ask once the lecture is full, first come first served; refuses the others with LECTURE_FULL', async () => {
    const { id } = await fullLecture('a', 2);
    const w1 = await registerOk(id, 'a-w1');
    const w2 = await registerOk(id, 'a-w2');
    expect(w1).toMatchObject({ status: 'WAITLISTED', waitlistPosition: 1, payment: null });
    expect(w2).toMatchObject({ status: 'WAITLISTED', waitlistPosition: 2 });
    expect(code(await register(id, 'a-no', false))).toBe('LECTURE_FULL');
    expect((await gqlOk(sys.url, LECTURE, { id })).lecture.waitlistLength).toBe(2);
    await eventually(async () => (await gqlOk(sys.url, LECTURE, { id })).lecture.enrolledCount === 2, 10_000, 'enrolled count 2');
    // Nothing was charged, and the dashboard shows the place.
    const dash = await eventually(async () => {
      const d = await gqlOk(sys.url, `{ myDashboard { registrationId registrationStatus paymentStatus } }`, {}, await token('a-w1'));
      return d.myDashboard.find((e: any) => e.registrationId === w1.id);
    });
    expect(dash).toMatchObject({ registrationStatus: 'WAITLISTED', paymentStatus: null });
    const told = await eventually(async () =>
      (await gqlOk(sys.url, INBOX, {}, await token('a-w2'))).myNotifications.edges.map((e: any) => e.node),
    );
    expect(told).toEqual([expect.objectContaining({ kind: 'REGISTRATION_WAITLISTED', fromWaitlist: true, position: 2 })]);
    await sys.assertConsistent();
  });

  it('bounds the waitlist (as many places as seats, by default): past it, LECTURE_FULL', async () => {
    const { id } = await fullLecture('b', 1);
    await registerOk(id, 'b-w1');
    expect(code(await register(id, 'b-w2'))).toBe('LECTURE_FULL');
    expect((await gqlOk(sys.url, LECTURE, { id })).lecture.waitlistLength).toBe(1);
  });

  it('refuses bad input with a clear code and changes nothing: an unknown lecture, a canceled one, queuing twice, a seat holder queuing', async () => {
    const { id } = await fullLecture('c', 2);
    await registerOk(id, 'c-w1');
    expect(code(await register('0'.repeat(24), 'c-w1'))).toBe('NOT_FOUND');
    expect(code(await register(id, 'c-w1'))).toBe('ALREADY_REGISTERED');
    expect(code(await register(id, 'c-1'))).toBe('ALREADY_REGISTERED');
    expect((await gqlOk(sys.url, LECTURE, { id })).lecture.waitlistLength).toBe(1);
    const closed = await sys.openLecture(instructor, 'Closed', 1);
    await sys.waitForCatalog(closed);
    await gqlOk(sys.url, `mutation($id: ID!) { cancelLecture(id: $id) { id } }`, { id: closed }, instructor);
    await eventually(
      async () => code(await register(closed, 'c-w9')) === 'LECTURE_NOT_OPEN',
      10_000,
      'the replica learning the cancellation',
    );
    await sys.assertConsistent();
  });
});

describe('a seat that frees', () => {
  it("enrolls the first in line at once: charged then, CONFIRMED live and in the inbox; the next one's position moves up live", async () => {
    const { id, seated } = await fullLecture('d', 2);
    const w1 = await registerOk(id, 'd-w1');
    const w2 = await registerOk(id, 'd-w2');
    const c1 = wsClient(sys.url, await token('d-w1'));
    const c2 = wsClient(sys.url, await token('d-w2'));
    const live = `subscription($id: ID) { registrationStatusChanged(registrationId: $id) { id status waitlistPosition payment { status } } }`;
    const before = sys.gateway.hub.listeners;
    const first = collect(c1, live, { id: w1.id });
    const second = collect(c2, live, { id: w2.id });
    // Each listens to registration and payment events.
    await eventually(async () => sys.gateway.hub.listeners >= before + 4, 5_000, 'both subscriptions listening');
    await gqlOk(sys.url, CANCEL, { id: seated[0].id }, await token('d-1'));
    const enrolled = await eventually(async () => {
      const r = await registration(w1.id, 'd-w1');
      return r.status === 'CONFIRMED' ? r : undefined;
    });
    expect(enrolled).toMatchObject({ waitlistPosition: null, payment: { status: 'COMPLETED' } });
    // The line loses its first place just after the enrollment is stored (two documents): the
    // next one reads 1 once it has (a CI run read 2 in between).
    await eventually(async () => (await registration(w2.id, 'd-w2')).waitlistPosition === 1, 10_000, 'd-w2 first in line');
    await eventually(
      async () => first.results.some((r: any) => r.data?.registrationStatusChanged.status === 'CONFIRMED'),
      10_000,
      'CONFIRMED delivered',
    );
    await eventually(
      async () => second.results.some((r: any) => r.data?.registrationStatusChanged.waitlistPosition === 1),
      10_000,
      'position 1 delivered',
    );
    const told = await eventually(async () => {
      const n = (await gqlOk(sys.url, INBOX, {}, await token('d-w1'))).myNotifications.edges.map((e: any) => e.node);
      return n.find((x: any) => x.kind === 'REGISTRATION_CONFIRMED');
    });
    expect(told).toMatchObject({ fromWaitlist: true });
    expect(told.message).toMatch(/seat freed up/);
    await eventually(async () => (await gqlOk(sys.url, LECTURE, { id })).lecture.enrolledCount === 2, 10_000, 'enrolled count back at 2');
    first.stop();
    second.stop();
    await c1.dispose();
    await c2.dispose();
    await sys.assertConsistent();
  });

  it('drops a place whose charge is declined (CANCELED, PAYMENT_DECLINED, told why) and gives the seat to the next in line', async () => {
    const { id, seated } = await fullLecture('e', 2);
    const broke = await registerOk(id, 'broke-1');
    const next = await registerOk(id, 'e-w2');
    await gqlOk(sys.url, CANCEL, { id: seated[0].id }, await token('e-1'));
    const dropped = await eventually(async () => {
      const r = await registration(broke.id, 'broke-1');
      return r.status === 'CANCELED' ? r : undefined;
    });
    expect(dropped).toMatchObject({ cancellationReason: 'PAYMENT_DECLINED', payment: null });
    await eventually(async () => (await registration(next.id, 'e-w2')).status === 'CONFIRMED', 10_000, 'the next in line enrolled');
    const told = await eventually(async () => {
      const n = (await gqlOk(sys.url, INBOX, {}, await token('broke-1'))).myNotifications.edges.map((e: any) => e.node);
      return n.find((x: any) => x.kind === 'REGISTRATION_CANCELED');
    });
    expect(told).toMatchObject({ reason: 'PAYMENT_DECLINED', fromWaitlist: true });
    await sys.assertConsistent();
  });

  it('goes to the line, not to a newcomer: while someone waits, a new request is queued behind them or refused', async () => {
    const { id, seated } = await fullLecture('f', 1);
    const w1 = await registerOk(id, 'f-w1');
    await gqlOk(sys.url, CANCEL, { id: seated[0].id }, await token('f-1'));
    const late = await register(id, 'f-late', false);
    expect(code(late)).toBe('LECTURE_FULL');
    await eventually(async () => (await registration(w1.id, 'f-w1')).status === 'CONFIRMED', 10_000, 'the first in line enrolled');
    await sys.assertConsistent();
  });
});

describe('leaving', () => {
  it('takes a waitlist place out of line with no charge, and moves the others up', async () => {
    const { id } = await fullLecture('g', 2);
    const w1 = await registerOk(id, 'g-w1');
    const w2 = await registerOk(id, 'g-w2');
    // Another student's place answers NOT_FOUND, as registrations do.
    expect(code(await gql(sys.url, CANCEL, { id: w1.id }, await token('g-w2')))).toBe('NOT_FOUND');
    const left = (await gqlOk(sys.url, CANCEL, { id: w1.id }, await token('g-w1'))).cancelRegistration;
    expect(left).toMatchObject({ status: 'CANCELED', cancellationReason: 'STUDENT_REQUEST', waitlistPosition: null });
    expect((await registration(w2.id, 'g-w2')).waitlistPosition).toBe(1);
    expect((await gqlOk(sys.url, LECTURE, { id })).lecture.waitlistLength).toBe(1);
    // Leaving again changes nothing; the student may queue again, at the end.
    expect((await gqlOk(sys.url, CANCEL, { id: w1.id }, await token('g-w1'))).cancelRegistration.status).toBe('CANCELED');
    await sys.assertConsistent();
  });

  it('closes the line of a canceled lecture: every waiting student is told, and nobody is charged for waiting', async () => {
    const { id } = await fullLecture('h', 1);
    const w1 = await registerOk(id, 'h-w1');
    await gqlOk(sys.url, `mutation($id: ID!) { cancelLecture(id: $id) { id } }`, { id }, instructor);
    const closed = await eventually(async () => {
      const r = await registration(w1.id, 'h-w1');
      return r.status === 'CANCELED' ? r : undefined;
    });
    expect(closed).toMatchObject({ cancellationReason: 'LECTURE_CANCELED', payment: null });
    const told = await eventually(async () => {
      const n = (await gqlOk(sys.url, INBOX, {}, await token('h-w1'))).myNotifications.edges.map((e: any) => e.node);
      return n.find((x: any) => x.kind === 'REGISTRATION_CANCELED');
    });
    expect(told).toMatchObject({ reason: 'LECTURE_CANCELED', fromWaitlist: true });
    expect(told.message).toMatch(/nothing was charged/);
    await sys.assertConsistent();
  });
});

describe('a rush on one lecture', () => {
  it('seats the first, queues the next in order, refuses the rest, and answers ALREADY_REGISTERED to nobody who asked once', async () => {
    const id = await sys.openLecture(instructor, 'Rush', 5, 10_000);
    await sys.waitForCatalog(id);
    const subs = Array.from({ length: 40 }, (_, i) => `r-${i}`);
    await Promise.all(subs.map(token));
    const answers = await Promise.all(subs.map((s, i) => register(id, s, i % 2 === 0)));
    const codes = answers.map((a) => (a.errors?.length ? code(a) : a.data!.registerForLecture.status));
    expect(codes.filter((c) => c === 'CONFIRMED')).toHaveLength(5);
    expect(codes).not.toContain('ALREADY_REGISTERED');
    expect(codes).not.toContain('SERVICE_UNAVAILABLE');
    const positions = answers
      .filter((a) => a.data?.registerForLecture.status === 'WAITLISTED')
      .map((a) => a.data!.registerForLecture.waitlistPosition);
    expect(positions.length).toBe(5);
    expect(new Set(positions)).toEqual(new Set([1, 2, 3, 4, 5]));
    await sys.assertConsistent();
  });
});

describe('the consistency checker on waitlists', () => {
  it('reports a seat taken past an earlier waiting student, a place out of its line, and a charge while waiting', async () => {
    const { id, seated } = await fullLecture('k', 2);
    const w1 = await registerOk(id, 'k-w1');
    const w2 = await registerOk(id, 'k-w2');
    await sys.assertConsistent();
    const reg = await mongoose.createConnection(mongoUri(`${sys.tag}_registration`)).asPromise();
    const pay = await mongoose.createConnection(mongoUri(`${sys.tag}_payment`)).asPromise();
    const regs = reg.collection('registrations');
    const original = await regs.findOne({ _id: w1.id as never });
    try {
      // w1 "waited" since before the seats were taken directly; w2 is "charged" while waiting.
      await regs.updateOne({ _id: w1.id as never }, { $set: { waitlistedAt: new Date(Date.now() - 3_600_000) } });
      await pay.collection('payments').insertOne({
        _id: 'tampered' as never,
        registrationId: w2.id,
        studentId: 'k-w2',
        lectureId: id,
        amount: 20_000,
        status: 'COMPLETED',
        createdAt: new Date(),
        updatedAt: new Date(),
      });
      // A WAITLISTED registration that is in no line.
      await regs.updateOne({ _id: seated[0].id as never }, { $set: { status: 'WAITLISTED', waitlistedAt: new Date() } });
      const found = (await sys.check()).filter((v) => v.invariant === 8).map((v) => `${v.subject} ${v.message}`);
      expect(found).toEqual(
        expect.arrayContaining([
          expect.stringMatching(new RegExp(`^registration ${seated[1].id} got a seat directly while registration ${w1.id}`)),
          `registration ${w2.id} WAITLISTED but charged (payment tampered)`,
          expect.stringMatching(new RegExp(`^registration ${seated[0].id} WAITLISTED but not in lecture ${id}'s line`)),
        ]),
      );
    } finally {
      await regs.replaceOne({ _id: w1.id as never }, original!);
      await regs.updateOne({ _id: seated[0].id as never }, { $set: { status: 'CONFIRMED', waitlistedAt: null } });
      await pay.collection('payments').deleteOne({ _id: 'tampered' as never });
      await Promise.all([reg.close(), pay.close()]);
    }
    await sys.assertConsistent();
  });
});
