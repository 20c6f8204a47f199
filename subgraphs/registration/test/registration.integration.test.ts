/**
 * Registration subgraph on real servers, with the real payment subgraph behind it: the
 * catalog replica, registering, entities and their visibility.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '@courses/devkit/graphql-client';
import { startSubgraphHarness, type SubgraphHarness } from '@courses/test-kit/subgraph';
import { startPaymentService } from '../../payment/src/wiring.js';
import { startRegistrationService } from '../src/wiring.js';

let payment: SubgraphHarness<Awaited<ReturnType<typeof startPaymentService>>>;
let h: SubgraphHarness<Awaited<ReturnType<typeof startRegistrationService>>>;

const REGISTER = `mutation($id: ID!) { registerForLecture(lectureId: $id) { id studentId status lecture { id } payment { id } } }`;
const student = { sub: 's-1', role: 'STUDENT' } as const;
let lectureNo = 0;
async function lecture(capacity = 5) {
  lectureNo++;
  const lectureId = `${'a'.repeat(20)}${String(lectureNo).padStart(4, '0')}`;
  await h.publish('lecture.opened', { lectureId, title: `Lecture ${lectureNo}`, instructorId: 'i-1', capacity, price: 10_000 });
  await eventually(
    async () => (await (await h.db()).collection('catalog').findOne({ _id: lectureId as never })) !== null,
    10_000,
    'catalog replica',
  );
  return lectureId;
}

describe.each(['memory', 'nats'] as const)('on the %s bus', (bus) => {
  beforeAll(async () => {
    payment = await startSubgraphHarness('payment', startPaymentService, { PAYMENT_DECLINE_STUDENTS: 's-broke' }, { bus });
    h = await startSubgraphHarness('registration', startRegistrationService, { PAYMENT_URL: payment.service.url }, { bus });
  });
  afterAll(async () => {
    await h?.stop();
    await payment?.stop();
  });

  describe('registration subgraph', () => {
    it('registers against its catalog replica and pays through the payment service', async () => {
      const id = await lecture();
      const r = await h.call(REGISTER, { id }, student);
      expect(r.errors).toBeUndefined();
      expect(r.data.registerForLecture).toMatchObject({ studentId: 's-1', status: 'CONFIRMED', lecture: { id } });
      expect(r.data.registerForLecture.payment.id).toMatch(/^[0-9a-f]{24}$/);
      const again = await h.call(REGISTER, { id }, student);
      expect(again.errors?.[0].extensions.code).toBe('ALREADY_REGISTERED');
    });

    it('resolves an _entities reference whose id is not a plain string as null, never as a query operator', async () => {
      const id = await lecture();
      const mine = (await h.call(REGISTER, { id }, { sub: 's-entities', role: 'STUDENT' })).data.registerForLecture.id;
      const ENTITIES = 'query($r: [_Any!]!) { _entities(representations: $r) { ... on Registration { id studentId } } }';
      const admin = { sub: 'a-1', role: 'ADMIN' as const };
      const forged = await h.call(
        ENTITIES,
        {
          r: [
            { __typename: 'Registration', id: { $ne: null } },
            { __typename: 'Registration', id: { $gt: '' } },
          ],
        },
        admin,
      );
      expect(forged.errors).toBeUndefined();
      expect(forged.data._entities).toEqual([null, null]);
      // A real id still resolves.
      const real = await h.call(ENTITIES, { r: [{ __typename: 'Registration', id: mine }] }, admin);
      expect(real.data._entities).toEqual([{ id: mine, studentId: 's-entities' }]);
    });

    it('refuses unknown and malformed lectures and non-students', async () => {
      expect((await h.call(REGISTER, { id: 'bad' }, student)).errors?.[0].extensions).toMatchObject({
        code: 'BAD_USER_INPUT',
        field: 'lectureId',
      });
      expect((await h.call(REGISTER, { id: 'f'.repeat(24) }, student)).errors?.[0].extensions.code).toBe('NOT_FOUND');
      const id = await lecture();
      expect((await h.call(REGISTER, { id }, { sub: 'i-1', role: 'INSTRUCTOR' })).errors?.[0].extensions.code).toBe('FORBIDDEN');
      expect((await h.call(REGISTER, { id })).errors?.[0].extensions.code).toBe('UNAUTHENTICATED');
    });

    it('leaves nothing behind when the payment is declined', async () => {
      const id = await lecture(1);
      const r = await h.call(REGISTER, { id }, { sub: 's-broke', role: 'STUDENT' });
      expect(r.errors?.[0].extensions.code).toBe('PAYMENT_DECLINED');
      const db = await h.db();
      expect(await db.collection('seats').countDocuments({ lectureId: id })).toBe(0);
      expect((await h.call(`{ myRegistrations { id } }`, {}, { sub: 's-broke', role: 'STUDENT' })).data.myRegistrations).toEqual([]);
      // The only seat is still free for someone else.
      expect((await h.call(REGISTER, { id }, student)).data.registerForLecture.status).toBe('CONFIRMED');
    });

    it("pages the caller's registrations newest first, and refuses a cursor that is not one of theirs", async () => {
      const pager = { sub: 's-pager', role: 'STUDENT' } as const;
      const ids: string[] = [];
      for (let i = 0; i < 3; i++) ids.push((await h.call(REGISTER, { id: await lecture() }, pager)).data.registerForLecture.id);
      const PAGE = `query($first: Int, $after: String) {
      myRegistrationsPage(first: $first, after: $after) { totalCount pageInfo { hasNextPage endCursor } edges { cursor node { id } } }
    }`;
      const first = (await h.call(PAGE, { first: 2 }, pager)).data.myRegistrationsPage;
      expect(first.totalCount).toBe(3);
      expect(first.edges.map((e: { node: { id: string } }) => e.node.id)).toEqual([ids[2], ids[1]]);
      expect(first.pageInfo.hasNextPage).toBe(true);
      const second = (await h.call(PAGE, { first: 2, after: first.pageInfo.endCursor }, pager)).data.myRegistrationsPage;
      expect(second.edges.map((e: { node: { id: string } }) => e.node.id)).toEqual([ids[0]]);
      expect(second.pageInfo).toEqual({ hasNextPage: false, endCursor: second.edges[0].cursor });
      // Another student's cursor, a malformed one, and a page size out of range.
      const foreign = await h.call(PAGE, { after: first.pageInfo.endCursor }, { sub: 's-other-pager', role: 'STUDENT' });
      expect(foreign.errors?.[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'after' });
      expect((await h.call(PAGE, { after: 'nope' }, pager)).errors?.[0].extensions.code).toBe('BAD_USER_INPUT');
      expect((await h.call(PAGE, { first: 101 }, pager)).errors?.[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'first' });
      expect((await h.call(PAGE, {})).errors?.[0].extensions.code).toBe('UNAUTHENTICATED');
    });

    it('resolves Registration entities for those who may see them, null for others', async () => {
      const id = await lecture();
      const reg = (await h.call(REGISTER, { id }, { sub: 's-ent', role: 'STUDENT' })).data.registerForLecture;
      const Q = `query($r: [_Any!]!) { _entities(representations: $r) { ... on Registration { id studentId status } } }`;
      const rep = { r: [{ __typename: 'Registration', id: reg.id }] };
      expect((await h.call(Q, rep, { sub: 's-ent', role: 'STUDENT' })).data._entities).toEqual([
        { id: reg.id, studentId: 's-ent', status: 'CONFIRMED' },
      ]);
      expect((await h.call(Q, rep, { sub: 'i-1', role: 'INSTRUCTOR' })).data._entities[0]?.id).toBe(reg.id);
      expect((await h.call(Q, rep, { sub: 's-2', role: 'STUDENT' })).data._entities).toEqual([null]);
      const L = `query($r: [_Any!]!) { _entities(representations: $r) { ... on Lecture { id registrations { edges { node { id } } } } } }`;
      const lrep = { r: [{ __typename: 'Lecture', id }] };
      expect((await h.call(L, lrep, { sub: 'i-1', role: 'INSTRUCTOR' })).data._entities[0].registrations.edges).toEqual([
        { node: { id: reg.id } },
      ]);
      expect((await h.call(L, lrep, { sub: 'i-2', role: 'INSTRUCTOR' })).data._entities[0].registrations).toBeNull();
    });

    it('cancels registrations when their lecture is canceled (policy), once', async () => {
      const id = await lecture();
      const reg = (await h.call(REGISTER, { id }, { sub: 's-pol', role: 'STUDENT' })).data.registerForLecture;
      const e = await h.publish('lecture.canceled', { lectureId: id, instructorId: 'i-1' });
      await h.republish(e);
      await h.publish('lecture.canceled', { lectureId: id, instructorId: 'i-1' });
      const Q = `query($id: ID!) { registration(id: $id) { status cancellationReason } }`;
      const final = await eventually(async () => {
        const r = (await h.call(Q, { id: reg.id }, { sub: 's-pol', role: 'STUDENT' })).data.registration;
        return r.status === 'CANCELED' ? r : undefined;
      });
      expect(final.cancellationReason).toBe('LECTURE_CANCELED');
      const db = await h.db();
      const doc = await db.collection('registrations').findOne({ _id: reg.id });
      expect(doc?.status).toBe('CANCELED');
      expect(await db.collection('seats').countDocuments({ lectureId: id })).toBe(0);
      expect((await h.call(REGISTER, { id }, student)).errors?.[0].extensions.code).toBe('LECTURE_NOT_OPEN');
    });
  });

  describe('lecture canceled while a registration is in flight', () => {
    let slowPayment: SubgraphHarness<Awaited<ReturnType<typeof startPaymentService>>>;
    let r: SubgraphHarness<Awaited<ReturnType<typeof startRegistrationService>>>;
    beforeAll(async () => {
      slowPayment = await startSubgraphHarness('payment', startPaymentService, { PAYMENT_LATENCY_MS: '1500' }, { bus });
      r = await startSubgraphHarness(
        'registration',
        startRegistrationService,
        {
          PAYMENT_URL: slowPayment.service.url,
          PAYMENT_TIMEOUT_MS: '3000',
          // The timing budget: a 3 s charge leaves 1 s of admission queue under the gateway's 8 s.
          REGISTRATION_QUEUE_MS: '1000',
        },
        { bus },
      );
    });
    afterAll(async () => {
      await r?.stop();
      await slowPayment?.stop();
    });

    it('cancels a registration confirmed after the policy first looked, when it looks again', async () => {
      const lectureId = 'b'.repeat(24);
      await r.publish('lecture.opened', { lectureId, title: 'Race', instructorId: 'i-1', capacity: 5, price: 10_000 });
      const db = await r.db();
      await eventually(
        async () => (await db.collection('catalog').findOne({ _id: lectureId as never })) !== null,
        10_000,
        'catalog replica',
      );
      const pending = r.call(REGISTER, { id: lectureId }, { sub: 's-race', role: 'STUDENT' });
      // The attempt holds its claim and waits on the charge; the lecture is canceled meanwhile.
      await eventually(
        async () => (await db.collection('_outbox').countDocuments({ 'data.lectureId': lectureId })) > 0,
        5_000,
        'attempt in flight',
      );
      await r.publish('lecture.canceled', { lectureId, instructorId: 'i-1' });
      const reg = (await pending).data.registerForLecture;
      expect(reg.status).toBe('CONFIRMED'); // it had passed its check before the cancellation
      const Q = `query($id: ID!) { registration(id: $id) { status cancellationReason } }`;
      const final = await eventually(
        async () => {
          const x = (await r.call(Q, { id: reg.id }, { sub: 's-race', role: 'STUDENT' })).data.registration;
          return x.status === 'CANCELED' ? x : undefined;
        },
        20_000,
        'canceled by the second look',
      );
      expect(final.cancellationReason).toBe('LECTURE_CANCELED');
      expect(await db.collection('seats').countDocuments({ lectureId })).toBe(0);
    });
  });
});
