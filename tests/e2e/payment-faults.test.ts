/**
 * Overload protection: payment declined, down, or slower than the breaker's timeout. The
 * student gets a prompt, typed error; no seat is held; nothing shows the attempt as
 * registered; money taken by a late charge is given back.
 */
import mongoose from 'mongoose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, gql, gqlOk } from '../../scripts/lib/graphql-client.js';
import { mongoUri } from '../support/env.js';
import { startSystem, type TestSystem } from '../support/system.js';

let sys: TestSystem;
let instructor: string;
beforeAll(async () => {
  sys = await startSystem({
    payment: { PAYMENT_DECLINE_STUDENTS: 's-broke' },
    registration: { PAYMENT_TIMEOUT_MS: '300', PAYMENT_BREAKER_RESET_MS: '1000' },
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
    const ok = await eventually(async () => {
      const r = await gql(sys.url, REGISTER, { id }, tokens[0]);
      return r.data?.registerForLecture?.status === 'CONFIRMED' ? r.data.registerForLecture : undefined;
    }, 15_000, 'registration after recovery');
    expect(ok.status).toBe('CONFIRMED');
    expect(sys.services.registration.payment.state).toBe('closed');
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
    await eventually(async () => {
      const docs = await pay.collection('payments').find({ lectureId: id }).toArray();
      return docs.length > 0 && docs.every((d) => d.status !== 'COMPLETED');
    }, 15_000, 'late charge refunded or voided');
    await pay.close();
  });
});

describe('afterwards', () => {
  it('the consistency checker finds every invariant holding', async () => {
    await sys.assertConsistent();
  });
});
