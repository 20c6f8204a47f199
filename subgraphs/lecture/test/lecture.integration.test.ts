/** Lecture subgraph against a real MongoDB-wire server and NATS: API, entities, enrolment policy. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '@courses/devkit/graphql-client';
import { chargeSecret, DEV_GATEWAY_SECRET, subgraphSecret } from '@courses/platform';
import { startSubgraphHarness, type SubgraphHarness } from '@courses/test-kit/subgraph';
import { startLectureService } from '../src/wiring.js';

let h: SubgraphHarness<Awaited<ReturnType<typeof startLectureService>>>;
const kim = { sub: 'i-kim', role: 'INSTRUCTOR' } as const;
const student = { sub: 's-1', role: 'STUDENT' } as const;
const OPEN = `mutation($input: OpenLectureInput!) { openLecture(input: $input) { id title status enrolledCount instructorId } }`;

async function open(title = 'Databases', capacity = 10, price = 1000) {
  const r = await h.call(OPEN, { input: { title, capacity, price } }, kim);
  expect(r.errors).toBeUndefined();
  return r.data.openLecture;
}

describe.each(['memory', 'nats'] as const)('on the %s bus', (bus) => {
  beforeAll(async () => {
    h = await startSubgraphHarness('lecture', startLectureService, {}, { bus });
  });
  afterAll(async () => h?.stop());

  describe('lecture subgraph', () => {
    it('refuses calls without the gateway secret', async () => {
      const res = await fetch(`${h.service.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{"query":"{ __typename }"}',
      });
      expect(res.status).toBe(401);
      expect(((await res.json()) as any).errors[0].extensions.code).toBe('UNAUTHENTICATED');
    });

    it("accepts only its own secret: neither the gateway's nor another subgraph's (a leaked one opens one subgraph)", async () => {
      const as = async (secret: string) =>
        (
          await fetch(`${h.service.url}/graphql`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', 'x-gateway-secret': secret },
            body: '{"query":"{ __typename }"}',
          })
        ).status;
      expect(await as(subgraphSecret(DEV_GATEWAY_SECRET, 'lecture'))).toBe(200);
      expect(await as(DEV_GATEWAY_SECRET)).toBe(401);
      expect(await as(subgraphSecret(DEV_GATEWAY_SECRET, 'registration'))).toBe(401);
      expect(await as(chargeSecret(DEV_GATEWAY_SECRET))).toBe(401);
    });

    it('opens a lecture for an instructor and refuses students', async () => {
      const l = await open(' Trimmed Title ');
      expect(l).toMatchObject({ title: 'Trimmed Title', status: 'OPEN', enrolledCount: 0, instructorId: 'i-kim' });
      const r = await h.call(OPEN, { input: { title: 'x', capacity: 1, price: 1 } }, student);
      expect(r.errors?.[0].extensions.code).toBe('FORBIDDEN');
      const anon = await h.call(OPEN, { input: { title: 'x', capacity: 1, price: 1 } });
      expect(anon.errors?.[0].extensions.code).toBe('UNAUTHENTICATED');
    });

    it.each([
      [{ title: '   ', capacity: 1, price: 0 }, 'title'],
      [{ title: 'ok', capacity: 0, price: 0 }, 'capacity'],
      [{ title: 'ok', capacity: -5, price: 0 }, 'capacity'],
      [{ title: 'ok', capacity: 3, price: -1 }, 'price'],
    ])('rejects bad input %j with BAD_USER_INPUT on %s', async (input, field) => {
      const r = await h.call(OPEN, { input }, kim);
      expect(r.errors?.[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field });
    });

    it('rejects malformed ids and cursors with BAD_USER_INPUT', async () => {
      expect((await h.call(`{ lecture(id: "nope") { id } }`)).errors?.[0].extensions.code).toBe('BAD_USER_INPUT');
      expect((await h.call(`{ lectures(after: "garbage") { totalCount } }`)).errors?.[0].extensions.code).toBe('BAD_USER_INPUT');
      expect((await h.call(`{ lectures(first: 0) { totalCount } }`)).errors?.[0].extensions.code).toBe('BAD_USER_INPUT');
    });

    it('pages the catalog with Relay cursors', async () => {
      for (const t of ['P1', 'P2', 'P3']) await open(t);
      const Q = `query($after: String) { lectures(first: 2, after: $after) { totalCount edges { cursor node { id title } } pageInfo { hasNextPage endCursor } } }`;
      const seen: string[] = [];
      let after: string | null = null;
      let pages = 0;
      for (;;) {
        const r: any = await h.call(Q, { after });
        const c = r.data.lectures;
        seen.push(...c.edges.map((e: any) => e.node.id));
        pages++;
        if (!c.pageInfo.hasNextPage) {
          expect(seen.length).toBe(c.totalCount);
          break;
        }
        after = c.pageInfo.endCursor;
      }
      expect(new Set(seen).size).toBe(seen.length);
      expect(pages).toBeGreaterThanOrEqual(2);
    });

    it('resolves Lecture entities from representations (_entities)', async () => {
      const l = await open('Entities');
      const r = await h.call(`query($r: [_Any!]!) { _entities(representations: $r) { ... on Lecture { id title capacity price } } }`, {
        r: [
          { __typename: 'Lecture', id: l.id },
          { __typename: 'Lecture', id: '000000000000000000000000' },
        ],
      });
      expect(r.data._entities).toEqual([{ id: l.id, title: 'Entities', capacity: 10, price: 1000 }, null]);
    });

    it('counts each confirmed registration once, under duplicates and reordering', async () => {
      const l = await open('Counting', 5);
      const base = { studentId: 's-1', lectureId: l.id, instructorId: 'i-kim', lectureTitle: 'Counting', paymentId: 'p', amount: 1000 };
      const confirmed = await h.publish('registration.confirmed', { ...base, registrationId: 'r-1' });
      await h.republish(confirmed); // dropped by JetStream (same Nats-Msg-Id)
      await h.publish('registration.confirmed', { ...base, registrationId: 'r-1' }); // same fact, new envelope
      await h.publish('registration.confirmed', { ...base, registrationId: 'r-2' });
      // r-3 canceled before its confirmation arrives: never counted.
      await h.publish('registration.canceled', {
        registrationId: 'r-3',
        studentId: 's-1',
        lectureId: l.id,
        instructorId: 'i-kim',
        reason: 'STUDENT_REQUEST',
        paymentId: null,
      });
      await h.publish('registration.confirmed', { ...base, registrationId: 'r-3' });
      await h.publish('registration.canceled', {
        registrationId: 'r-2',
        studentId: 's-1',
        lectureId: l.id,
        instructorId: 'i-kim',
        reason: 'STUDENT_REQUEST',
        paymentId: 'p',
      });
      await h.publish('registration.canceled', {
        registrationId: 'r-2',
        studentId: 's-1',
        lectureId: l.id,
        instructorId: 'i-kim',
        reason: 'STUDENT_REQUEST',
        paymentId: 'p',
      });
      await h.publish('registration.confirmed', { ...base, registrationId: 'r-4' });
      const final = await eventually(async () => {
        const r = await h.call(`query($id: ID!) { lecture(id: $id) { enrolledCount } }`, { id: l.id });
        return r.data.lecture.enrolledCount === 2 ? r.data.lecture : undefined;
      });
      expect(final.enrolledCount).toBe(2); // r-1 and r-4
      // Nothing else changes it: every event is handled (the consumer has none left) and the count holds.
      await h.drained('registration', 'lecture-enrolment');
      expect((await h.call(`query($id: ID!) { lecture(id: $id) { enrolledCount } }`, { id: l.id })).data.lecture.enrolledCount).toBe(2);
    });

    it('writes each lecture event with its change and publishes it, leaving no claim behind', async () => {
      const seen: string[] = [];
      const stopListening = await h.bus.listen('lecture', (e) => {
        if (e.type === 'lecture.opened') seen.push((e.payload as { title: string }).title);
      });
      const l = await open('Outbox');
      const db = await h.db();
      const doc = await db.collection('lectures').findOne({ _id: l.id as never });
      expect(doc?.outbox.map((e: { type: string }) => e.type)).toEqual(['lecture.opened']);
      await eventually(async () => seen.includes('Outbox'), 10_000, 'lecture.opened published');
      await eventually(async () => (await db.collection('_outbox').countDocuments({})) === 0, 5_000, 'claim released');
      stopListening();
    });

    it('lets only the owner or an admin cancel; canceling twice is harmless', async () => {
      const l = await open('Cancel me');
      const C = `mutation($id: ID!) { cancelLecture(id: $id) { id status } }`;
      expect((await h.call(C, { id: l.id }, { sub: 'i-other', role: 'INSTRUCTOR' })).errors?.[0].extensions.code).toBe('FORBIDDEN');
      expect((await h.call(C, { id: l.id }, { sub: 'a', role: 'ADMIN' })).data.cancelLecture.status).toBe('CANCELED');
      expect((await h.call(C, { id: l.id }, kim)).data.cancelLecture.status).toBe('CANCELED');
      expect((await h.call(C, { id: '000000000000000000000000' }, kim)).errors?.[0].extensions.code).toBe('NOT_FOUND');
    });
  });
});
