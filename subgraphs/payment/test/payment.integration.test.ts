/** Payment subgraph on real servers: the charge endpoint, refund and void policies, entity resolution. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '@courses/devkit/graphql-client';
import { chargeSecret, DEV_GATEWAY_SECRET, subgraphSecret } from '@courses/platform';
import { startSubgraphHarness, type SubgraphHarness } from '@courses/test-kit/subgraph';
import { startPaymentService } from '../src/wiring.js';

let h: SubgraphHarness<Awaited<ReturnType<typeof startPaymentService>>>;

let seq = 0;
const ids = () => {
  seq++;
  return { registrationId: `r-${seq}`, studentId: 's-1', lectureId: 'l-1' };
};
async function charge(body: unknown, secret: string | null = chargeSecret(DEV_GATEWAY_SECRET)) {
  const res = await fetch(`${h.service.url}/internal/charges`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(secret ? { 'x-gateway-secret': secret } : {}) },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as any };
}
const PAYMENT = `query($r: [_Any!]!) { _entities(representations: $r) { ... on Payment { id amount status } } }`;
const asStudent = { sub: 's-1', role: 'STUDENT' } as const;

describe.each(['memory', 'nats'] as const)('on the %s bus', (bus) => {
  beforeAll(async () => {
    h = await startSubgraphHarness('payment', startPaymentService, { PAYMENT_DECLINE_STUDENTS: 's-broke, s-other-broke' }, { bus });
  });
  afterAll(async () => h?.stop());

  describe('charge endpoint', () => {
    it('requires the charge secret and a well-formed body', async () => {
      expect((await charge({ ...ids(), amount: 100 }, null)).status).toBe(401);
      expect((await charge({ ...ids(), amount: 100 }, 'wrong-secret-123')).status).toBe(401);
      // Neither the gateway's own secret nor the one it sends payment's GraphQL opens the charge endpoint.
      expect((await charge({ ...ids(), amount: 100 }, DEV_GATEWAY_SECRET)).status).toBe(401);
      expect((await charge({ ...ids(), amount: 100 }, subgraphSecret(DEV_GATEWAY_SECRET, 'payment'))).status).toBe(401);
      expect((await charge({ ...ids(), amount: -1 })).status).toBe(400);
      expect((await charge({ ...ids(), amount: 1.5 })).status).toBe(400);
    });

    it('charges once per registration, however often asked', async () => {
      const req = { ...ids(), amount: 120_000 };
      const [a, b] = await Promise.all([charge(req), charge(req)]);
      expect(a.status).toBe(200);
      expect(b.status).toBe(200);
      expect(a.body.paymentId).toBe(b.body.paymentId);
      const again = await charge(req);
      expect(again.body.paymentId).toBe(a.body.paymentId);
      const r = await h.call(PAYMENT, { r: [{ __typename: 'Payment', id: a.body.paymentId }] }, asStudent);
      expect(r.data._entities).toEqual([{ id: a.body.paymentId, amount: 120_000, status: 'COMPLETED' }]);
    });

    it('declines the configured students with 402 PAYMENT_DECLINED and records nothing', async () => {
      const req = { ...ids(), studentId: 's-broke', amount: 100 };
      const r = await charge(req);
      expect(r.status).toBe(402);
      expect(r.body.code).toBe('PAYMENT_DECLINED');
      const db = await h.db();
      expect(await db.collection('payments').countDocuments({ registrationId: req.registrationId })).toBe(0);
    });
  });

  describe('charge endpoint on a port of its own (INTERNAL_PORT)', () => {
    it('serves charges there and only there, and GraphQL only on the service port', async () => {
      const own = await startSubgraphHarness('payment', startPaymentService, { INTERNAL_PORT: '0' }, { bus }).catch((e) => e as Error);
      // Port 0 would be "any port": the endpoint needs a port the caller can be told, so it is refused.
      expect(own).toBeInstanceOf(Error);
      const { freePort } = await import('@courses/devkit/provision');
      const port = await freePort();
      const p = await startSubgraphHarness('payment', startPaymentService, { INTERNAL_PORT: String(port) }, { bus });
      try {
        const post = (base: string) =>
          fetch(`${base}/internal/charges`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', 'x-gateway-secret': chargeSecret(DEV_GATEWAY_SECRET) },
            body: JSON.stringify({ ...ids(), amount: 100 }),
          });
        expect((await post(p.service.url)).status).toBe(404);
        const res = await post(`http://127.0.0.1:${port}`);
        expect(res.status).toBe(200);
        expect(((await res.json()) as { paymentId: string }).paymentId).toMatch(/^[0-9a-f]{24}$/);
        const graphql = await fetch(`http://127.0.0.1:${port}/graphql`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-gateway-secret': subgraphSecret(DEV_GATEWAY_SECRET, 'payment') },
          body: JSON.stringify({ query: '{ __typename }' }),
        });
        expect(graphql.status).toBe(404);
        expect((await fetch(`http://127.0.0.1:${port}/health/ready`)).status).toBe(200);
      } finally {
        await p.stop();
      }
      await expect(fetch(`http://127.0.0.1:${port}/health/live`)).rejects.toThrow();
    });
  });

  describe('refund and void policies', () => {
    it('refunds the payment when its registration is canceled, once', async () => {
      const req = { ...ids(), amount: 50_000 };
      const { body } = await charge(req);
      const canceled = { ...req, instructorId: 'i-1', reason: 'STUDENT_REQUEST' as const, paymentId: body.paymentId };
      delete (canceled as { amount?: number }).amount;
      const event = await h.publish('registration.canceled', canceled);
      await h.republish(event);
      await h.publish('registration.canceled', canceled);
      const refunded = await eventually(async () => {
        const r = await h.call(PAYMENT, { r: [{ __typename: 'Payment', id: body.paymentId }] }, asStudent);
        return r.data._entities[0]?.status === 'REFUNDED' ? r.data._entities[0] : undefined;
      });
      expect(refunded.amount).toBe(50_000);
      const doc = await (await h.db()).collection('payments').findOne({ _id: body.paymentId });
      expect(doc?.status).toBe('REFUNDED');
    });

    it('voids an abandoned attempt, and refunds at once a charge for it that arrives later', async () => {
      const req = { ...ids(), amount: 10_000 };
      await h.publish('registration.abandoned', { ...req, reason: 'PAYMENT_UNAVAILABLE' } as never);
      const db = await h.db();
      await eventually(async () => (await db.collection('payments').findOne({ registrationId: req.registrationId }))?.status === 'VOIDED');
      const refunds: string[] = [];
      const stopListening = await h.bus.listen('payment', (e) => {
        if (e.type === 'payment.refunded') refunds.push((e.payload as { registrationId: string }).registrationId);
      });
      // The provider answers (registration, which gave up on this attempt, ignores it); the money goes back.
      await charge(req);
      const doc = await eventually(async () => {
        const d = await db.collection('payments').findOne({ registrationId: req.registrationId });
        return d?.status === 'REFUNDED' ? d : undefined;
      });
      expect(doc.amount).toBe(10_000);
      await eventually(async () => refunds.includes(req.registrationId), 5_000, 'payment.refunded published');
      stopListening();
    });

    it('refunds a charge whose cancellation arrived before the charge was stored', async () => {
      const req = { ...ids(), amount: 9_000 };
      const { paymentIdOf } = await import('../src/domain/payment.js');
      const paymentId = paymentIdOf(req.registrationId);
      await h.publish('registration.canceled', {
        registrationId: req.registrationId,
        studentId: req.studentId,
        lectureId: req.lectureId,
        instructorId: 'i-1',
        reason: 'STUDENT_REQUEST',
        paymentId,
      });
      const db = await h.db();
      await eventually(
        async () => (await db.collection('payments').findOne({ _id: paymentId as never }))?.status === 'VOIDED',
        10_000,
        'tombstone',
      );
      await charge(req);
      const doc = await eventually(async () => {
        const d = await db.collection('payments').findOne({ _id: paymentId as never });
        return d?.status === 'REFUNDED' ? d : undefined;
      });
      expect(doc.amount).toBe(9_000);
    });

    it('records, on registration.confirmed, a charge that was answered but not stored', async () => {
      const req = { ...ids(), amount: 7_000 };
      const { paymentIdOf } = await import('../src/domain/payment.js');
      await h.publish('registration.confirmed', {
        ...req,
        instructorId: 'i-1',
        lectureTitle: 'T',
        paymentId: paymentIdOf(req.registrationId),
      });
      const doc = await eventually(
        async () => (await (await h.db()).collection('payments').findOne({ registrationId: req.registrationId })) ?? undefined,
      );
      expect(doc).toMatchObject({ _id: paymentIdOf(req.registrationId), status: 'COMPLETED', amount: 7_000 });
    });

    it('refunds a charge that completed after its attempt was abandoned', async () => {
      const req = { ...ids(), amount: 30_000 };
      const { body } = await charge(req);
      await h.publish('registration.abandoned', {
        registrationId: req.registrationId,
        studentId: req.studentId,
        lectureId: req.lectureId,
        reason: 'PAYMENT_UNAVAILABLE',
      });
      await eventually(async () => (await (await h.db()).collection('payments').findOne({ _id: body.paymentId }))?.status === 'REFUNDED');
    });
  });

  describe('Payment entity', () => {
    it('resolves for its student and admins, and is null for anyone else', async () => {
      const req = { ...ids(), amount: 1_000 };
      const { body } = await charge(req);
      const rep = { r: [{ __typename: 'Payment', id: body.paymentId }] };
      expect((await h.call(PAYMENT, rep, { sub: 'admin', role: 'ADMIN' })).data._entities[0]?.id).toBe(body.paymentId);
      expect((await h.call(PAYMENT, rep, { sub: 's-2', role: 'STUDENT' })).data._entities).toEqual([null]);
      expect((await h.call(PAYMENT, rep)).data._entities).toEqual([null]);
    });
  });
});
