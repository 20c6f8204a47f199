/** Dashboard subgraph on real servers: the read model follows events in any order, once each. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '@courses/devkit/graphql-client';
import { startSubgraphHarness, type SubgraphHarness } from '@courses/test-kit/subgraph';
import { startDashboardService } from '../src/wiring.js';

let h: SubgraphHarness<Awaited<ReturnType<typeof startDashboardService>>>;

const Q = `{ myDashboard { registrationId lectureId lectureTitle registrationStatus paymentStatus updatedAt } }`;
const me = { sub: 's-dash', role: 'STUDENT' } as const;

describe.each(['memory', 'nats'] as const)('on the %s bus', (bus) => {
  beforeAll(async () => {
    h = await startSubgraphHarness('dashboard', startDashboardService, {}, { bus });
  });
  afterAll(async () => h?.stop());

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
      // Until both entries have folded every fact (one batch's facts are separate documents, which
      // FerretDB may show one by one: a CI run read r-b CONFIRMED with its payment not yet there).
      const entries = await eventually(async () => {
        const d = (await h.call(Q, {}, me)).data.myDashboard;
        const of = (id: string) => d.find((e: any) => e.registrationId === id);
        const done = of('r-a')?.registrationStatus === 'CANCELED' && of('r-a')?.paymentStatus === 'REFUNDED' && of('r-b')?.paymentStatus;
        return d.length === 2 && done ? d : undefined;
      });
      const byId = Object.fromEntries(entries.map((e: any) => [e.registrationId, e]));
      expect(byId['r-a']).toMatchObject({ lectureTitle: 'Graph Theory', registrationStatus: 'CANCELED', paymentStatus: 'REFUNDED' });
      expect(byId['r-b']).toMatchObject({ lectureTitle: 'Topology', registrationStatus: 'CONFIRMED', paymentStatus: 'COMPLETED' });
      // Every event handled (both consumers have none left): the read model holds.
      await Promise.all([h.drained('registration', 'dashboard-registrations'), h.drained('payment', 'dashboard-payments')]);
      const again = (await h.call(Q, {}, me)).data.myDashboard;
      expect(again.find((e: any) => e.registrationId === 'r-a')).toMatchObject({
        registrationStatus: 'CANCELED',
        paymentStatus: 'REFUNDED',
      });
    });

    it('pages the dashboard, and refuses a cursor it did not issue', async () => {
      const PAGE = `query($first: Int, $after: String) {
      myDashboardPage(first: $first, after: $after) { totalCount pageInfo { hasNextPage endCursor } edges { cursor node { registrationId } } }
    }`;
      const all = (await h.call(Q, {}, me)).data.myDashboard.map((e: any) => e.registrationId);
      const first = (await h.call(PAGE, { first: 1 }, me)).data.myDashboardPage;
      expect([first.totalCount, first.pageInfo.hasNextPage, first.edges[0].node.registrationId]).toEqual([2, true, all[0]]);
      const second = (await h.call(PAGE, { first: 1, after: first.pageInfo.endCursor }, me)).data.myDashboardPage;
      expect([second.pageInfo.hasNextPage, second.edges.map((e: any) => e.node.registrationId)]).toEqual([false, [all[1]]]);
      const bad = await h.call(PAGE, { after: Buffer.from('notification:abc').toString('base64url') }, me);
      expect(bad.errors?.[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'after' });
      expect((await h.call(PAGE, { first: 0 }, me)).errors?.[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'first' });
    });
  });

  describe('notifications inbox', () => {
    const INBOX = `query ($first: Int, $after: String, $unreadOnly: Boolean) {
    myNotifications(first: $first, after: $after, unreadOnly: $unreadOnly) {
      totalCount pageInfo { hasNextPage endCursor }
      edges { cursor node { id kind message registrationId lecture { id } reason amount createdAt read } }
    }
    unreadNotificationCount
  }`;
    const MARK = `mutation ($ids: [ID!]!) { markNotificationsRead(ids: $ids) }`;
    const ann = { sub: 's-inbox', role: 'STUDENT' } as const;
    const k = { registrationId: 'r-n1', studentId: 's-inbox', lectureId: 'l-n' };

    it('needs a signed-in caller', async () => {
      expect((await h.call(INBOX)).errors?.[0].extensions.code).toBe('UNAUTHENTICATED');
      expect((await h.call(MARK, { ids: [] })).errors?.[0].extensions.code).toBe('UNAUTHENTICATED');
    });

    it('holds one notification per notifying event, redelivered or not, and lets its student page, count and mark them read', async () => {
      const confirmed = await h.publish('registration.confirmed', {
        ...k,
        instructorId: 'i',
        lectureTitle: 'Sheaves',
        paymentId: 'p-n1',
        amount: 50_000,
      });
      await h.republish(confirmed); // the same event again: still one notification
      await h.publish('registration.canceled', { ...k, instructorId: 'i', reason: 'LECTURE_CANCELED', paymentId: 'p-n1' });
      await h.publish('payment.refunded', { ...k, paymentId: 'p-n1', amount: 50_000 });
      await h.publish('registration.abandoned', { ...k, registrationId: 'r-n2', reason: 'PAYMENT_DECLINED' });
      await h.publish('payment.completed', { ...k, paymentId: 'p-n1', amount: 50_000 }); // notifies nobody
      await h.publish('registration.confirmed', {
        ...k,
        registrationId: 'r-n3',
        studentId: 's-else',
        instructorId: 'i',
        lectureTitle: 'X',
        paymentId: 'p-n3',
        amount: 1,
      });
      await Promise.all([h.drained('registration', 'dashboard-notifications'), h.drained('payment', 'dashboard-notifications-payments')]);

      const all = (await h.call(INBOX, { first: 10 }, ann)).data;
      expect(all.unreadNotificationCount).toBe(4);
      expect(all.myNotifications.totalCount).toBe(4);
      const byKind = Object.fromEntries(all.myNotifications.edges.map((e: any) => [e.node.kind, e.node]));
      expect(byKind.REGISTRATION_CONFIRMED).toMatchObject({
        registrationId: 'r-n1',
        lecture: { id: 'l-n' },
        amount: 50_000,
        reason: null,
        read: false,
        message: 'You are registered for "Sheaves"; 50,000 KRW paid.',
      });
      expect(byKind.REGISTRATION_CANCELED).toMatchObject({ reason: 'LECTURE_CANCELED', amount: null });
      expect(byKind.REGISTRATION_CANCELED.message).toMatch(/instructor canceled the lecture/);
      expect(byKind.PAYMENT_REFUNDED).toMatchObject({ amount: 50_000, message: '50,000 KRW was refunded.' });
      expect(byKind.PAYMENT_FAILED).toMatchObject({ registrationId: 'r-n2', reason: 'PAYMENT_DECLINED' });
      const times = all.myNotifications.edges.map((e: any) => Date.parse(e.node.createdAt));
      expect([...times].sort((a, b) => b - a)).toEqual(times); // newest first

      // Pages of two cover the inbox once.
      const first = (await h.call(INBOX, { first: 2 }, ann)).data.myNotifications;
      expect(first.pageInfo.hasNextPage).toBe(true);
      const second = (await h.call(INBOX, { first: 2, after: first.pageInfo.endCursor }, ann)).data.myNotifications;
      expect(second.pageInfo.hasNextPage).toBe(false);
      const paged = [...first.edges, ...second.edges].map((e: any) => e.node.id);
      expect(paged).toEqual(all.myNotifications.edges.map((e: any) => e.node.id));
      expect((await h.call(INBOX, { after: 'bm90aGluZw' }, ann)).errors?.[0].extensions).toMatchObject({
        code: 'BAD_USER_INPUT',
        field: 'after',
      });

      // Marking read: only the caller's, only once.
      const others = (await h.call(INBOX, {}, { sub: 's-else', role: 'STUDENT' })).data.myNotifications.edges.map((e: any) => e.node.id);
      expect(others).toHaveLength(1);
      const mine = byKind.REGISTRATION_CONFIRMED.id;
      expect((await h.call(MARK, { ids: [mine, others[0]] }, ann)).data.markNotificationsRead).toBe(1);
      expect((await h.call(MARK, { ids: [mine] }, ann)).data.markNotificationsRead).toBe(0);
      const after = (await h.call(INBOX, { unreadOnly: true }, ann)).data;
      expect(after.unreadNotificationCount).toBe(3);
      expect(after.myNotifications.totalCount).toBe(3);
      expect(after.myNotifications.edges.map((e: any) => e.node.id)).not.toContain(mine);
      expect((await h.call(INBOX, {}, { sub: 's-else', role: 'STUDENT' })).data.unreadNotificationCount).toBe(1);
      expect((await h.call(MARK, { ids: ['nope'] }, ann)).errors?.[0].extensions.code).toBe('BAD_USER_INPUT');
    });
  });
});
