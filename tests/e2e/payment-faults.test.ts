/**
 * Overload protection: payment declined, down, or slower than the breaker's timeout. The
 * student gets a prompt, typed error; no seat is held; nothing shows the attempt as
 * registered; money taken by a late charge is given back.
 */
import mongoose from 'mongoose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, gql, gqlOk } from '@courses/devkit/graphql-client';
import { mongoUri } from '@courses/test-kit/env';
import { startSystem, type TestSystem } from '@courses/test-kit/system';

let sys: TestSystem;
let instructor: string;
beforeAll(async () => {
  sys = await startSystem({
    payment: { PAYMENT_DECLINE_STUDENTS: 's-broke' },
    // A provider that promises 250 ms (the timing budget lets the timeout be 300), then breaks it.
    registration: { PAYMENT_PROVIDER_BOUND_MS: '250', PAYMENT_TIMEOUT_MS: '300', PAYMENT_BREAKER_RESET_MS: '1000' },
  });
  instructor = await sys.token('INSTRUCTOR', 'i-pay');
});
afterAll(async () => sys?.stop());

const REGISTER = `mutation($id: ID!) { registerForLecture(lectureId: $id) { id status } }`;

async function db(name: string) {
  return mongoose.createConnection(mongoUri(`${sys.tag}_${name}`)).asPromise();
}
async function openReplicated(title: string, capacity: number) {
  const id = await sys.openLecture(instructor, title, capacity, 25_000);
  await sys.waitForCatalog(id);
  return id;
}
async function nothingHeld(lectureId: string, studentToken: string) {
  const conn = await db('registration');
  expect(await conn.collection('seats').countDocuments({ lectureId })).toBe(0);
  expect(await conn.collection('registrations').countDocuments({ lectureId, status: { $in: ['PENDING', 'CONFIRMED'] } })).toBe(0);
  await conn.close();
  expect((await gqlOk(sys.url, `{ myRegistrations { id } }`, {}, studentToken)).myRegistrations).toEqual([]);
}

describe('payment trouble', () => {
  it('a declined charge fails with PAYMENT_DECLINED and holds nothing', async () => {
    const id = await openReplicated('Declined', 1);
    const t = await sys.token('STUDENT', 's-broke');
    const r = await gql(sys.url, REGISTER, { id }, t);
    expect(r.errors?.[0].extensions?.code).toBe('PAYMENT_DECLINED');
    await nothingHeld(id, t);
  });

  it('payment down: PAYMENT_UNAVAILABLE with a retry hint, the breaker opens, and it recovers after payment returns', async () => {
    const id = await openReplicated('Payment Outage', 50);
    await sys.stopService('payment');
    const tokens = await Promise.all(Array.from({ length: 8 }, (_, i) => sys.token('STUDENT', `s-out-${i}`)));
    for (const t of tokens) {
      const r = await gql(sys.url, REGISTER, { id }, t);
      expect(r.errors?.[0].extensions?.code).toBe('PAYMENT_UNAVAILABLE');
      expect(r.errors?.[0].extensions?.retryAfterSeconds).toBeGreaterThanOrEqual(1);
    }
    expect(sys.services.registration.payment.state).toBe('open');
    for (const t of tokens) await nothingHeld(id, t);
    await sys.restartService('payment');
    // After the reset timeout a half-open probe succeeds and the breaker closes.
    const ok = await eventually(
      async () => {
        const r = await gql(sys.url, REGISTER, { id }, tokens[0]);
        return r.data?.registerForLecture?.status === 'CONFIRMED' ? r.data.registerForLecture : undefined;
      },
      15_000,
      'registration after recovery',
    );
    expect(ok.status).toBe('CONFIRMED');
    expect(sys.services.registration.payment.state).toBe('closed');
  });

  it('payment overloaded under concurrent load: the breaker opens and sheds load instead of piling up calls', async () => {
    await sys.stopService('payment');
    Object.assign(sys.envOf('payment'), { PAYMENT_LATENCY_MS: '2000' });
    await sys.restartService('payment');
    const id = await openReplicated('Overload', 100);
    const charges = async () => {
      const m = await sys.services.payment.runtime.metrics.httpRequests.get();
      return m.values.filter((v) => v.labels.route === '/internal/charges').reduce((s, v) => s + v.value, 0);
    };
    const tokens = await Promise.all(Array.from({ length: 30 }, (_, i) => sys.token('STUDENT', `s-load-${i}`)));
    // Five waves of six concurrent students.
    const codes: string[] = [];
    for (let wave = 0; wave < 5; wave++) {
      const rs = await Promise.all(tokens.slice(wave * 6, wave * 6 + 6).map((t) => gql(sys.url, REGISTER, { id }, t)));
      codes.push(...rs.map((r) => String(r.errors?.[0]?.extensions?.code)));
    }
    expect(codes).toEqual(Array(30).fill('PAYMENT_UNAVAILABLE'));
    expect(sys.services.registration.payment.state).toBe('open');
    // Calls that reached payment (each waits 2 s there) are far fewer than attempts: the open breaker failed the rest at once.
    await eventually(async () => (await charges()) > 0, 5_000, 'charges counted');
    const reached = await charges();
    expect(reached).toBeLessThan(30 / 2);
    const conn = await db('registration');
    expect(await conn.collection('seats').countDocuments({ lectureId: id })).toBe(0);
    await conn.close();
    // Restore a fast payment for the following tests, once the slow charges have finished.
    await eventually(async () => sys.services.payment.host.inFlight === 0, 10_000, 'the slow charges finished');
    await sys.stopService('payment');
    Object.assign(sys.envOf('payment'), { PAYMENT_LATENCY_MS: '0' });
    await sys.restartService('payment');
    await eventually(
      async () => {
        const r = await gql(sys.url, REGISTER, { id }, tokens[0]);
        return r.data?.registerForLecture?.status === 'CONFIRMED';
      },
      15_000,
      'breaker closed again after recovery',
    );
  });

  it('payment slower than the timeout: PAYMENT_UNAVAILABLE, the seat is free, the late charge is refunded', async () => {
    await sys.stopService('payment');
    Object.assign(sys.envOf('payment'), { PAYMENT_LATENCY_MS: '900' });
    await sys.restartService('payment');
    const id = await openReplicated('Slow Payment', 1);
    const t = await sys.token('STUDENT', 's-slow');
    const r = await gql(sys.url, REGISTER, { id }, t);
    expect(r.errors?.[0].extensions?.code).toBe('PAYMENT_UNAVAILABLE');
    await nothingHeld(id, t);
    const pay = await db('payment');
    // The charge completes ~900 ms in, after registration gave up; the abandonment voids it.
    await eventually(
      async () => {
        const docs = await pay.collection('payments').find({ lectureId: id }).toArray();
        return docs.length > 0 && docs.every((d) => d.status !== 'COMPLETED');
      },
      15_000,
      'late charge refunded or voided',
    );
    await pay.close();
  });
});

describe('afterwards', () => {
  it('the consistency checker finds every invariant holding', async () => {
    await sys.assertConsistent();
  });
});
