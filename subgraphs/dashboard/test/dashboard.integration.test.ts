/** Dashboard subgraph on real servers: the read model follows events in any order, once each. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSubgraphHarness, type SubgraphHarness } from '@courses/test-kit/subgraph';
import { eventually } from '../../../scripts/lib/graphql-client.js';
import { startDashboardService } from '../src/wiring.js';

let h: SubgraphHarness<Awaited<ReturnType<typeof startDashboardService>>>;
beforeAll(async () => {
  h = await startSubgraphHarness('dashboard', startDashboardService);
});
afterAll(async () => h?.stop());

const Q = `{ myDashboard { registrationId lectureId lectureTitle registrationStatus paymentStatus updatedAt } }`;
const me = { sub: 's-dash', role: 'STUDENT' } as const;

describe('dashboard read model', () => {
  it('needs a signed-in caller', async () => {
    expect((await h.call(Q)).errors?.[0].extensions.code).toBe('UNAUTHENTICATED');
  });

  it('ends in the right state whatever the order and duplicates of events', async () => {
    const k = { registrationId: 'r-a', studentId: 's-dash', lectureId: 'l-1' };
    // Refund first, then completion (two streams, any order), then confirmation twice, then cancellation.
    await h.publish('payment.refunded', { ...k, paymentId: 'p-a', amount: 100 });
    await h.publish('payment.completed', { ...k, paymentId: 'p-a', amount: 100 });
    const confirmed = await h.publish('registration.confirmed', {
      ...k,
      instructorId: 'i',
      lectureTitle: 'Graph Theory',
      paymentId: 'p-a',
      amount: 100,
    });
    await h.republish(confirmed);
    await h.publish('registration.canceled', { ...k, instructorId: 'i', reason: 'STUDENT_REQUEST', paymentId: 'p-a' });
    await h.publish('registration.confirmed', { ...k, instructorId: 'i', lectureTitle: 'Graph Theory', paymentId: 'p-a', amount: 100 });
    // A second registration that stays confirmed; and someone else's.
    await h.publish('registration.confirmed', {
      ...k,
      registrationId: 'r-b',
      instructorId: 'i',
      lectureTitle: 'Topology',
      paymentId: 'p-b',
      amount: 200,
    });
    await h.publish('registration.confirmed', {
      ...k,
      registrationId: 'r-c',
      studentId: 's-other',
      instructorId: 'i',
      lectureTitle: 'X',
      paymentId: 'p-c',
      amount: 1,
    });
    const entries = await eventually(async () => {
      const d = (await h.call(Q, {}, me)).data.myDashboard;
      return d.length === 2 && d.find((e: any) => e.registrationId === 'r-a')?.registrationStatus === 'CANCELED' ? d : undefined;
    });
    const byId = Object.fromEntries(entries.map((e: any) => [e.registrationId, e]));
    expect(byId['r-a']).toMatchObject({ lectureTitle: 'Graph Theory', registrationStatus: 'CANCELED', paymentStatus: 'REFUNDED' });
    expect(byId['r-b']).toMatchObject({ lectureTitle: 'Topology', registrationStatus: 'CONFIRMED', paymentStatus: 'COMPLETED' });
    // Every event handled (both consumers have none left): the read model holds.
    await Promise.all([h.drained('registration', 'dashboard-registrations'), h.drained('payment', 'dashboard-payments')]);
    const again = (await h.call(Q, {}, me)).data.myDashboard;
    expect(again.find((e: any) => e.registrationId === 'r-a')).toMatchObject({ registrationStatus: 'CANCELED', paymentStatus: 'REFUNDED' });
  });
});
