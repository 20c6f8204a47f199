/**
 * Every event subscription of the dashboard, in one place: the projection of registration
 * and payment events into the read model (durables `dashboard-registrations` and
 * `dashboard-payments`).
 */
import { consumeFrom, type RunningConsumer, type SubgraphRuntime } from '@courses/platform';
import type { DashboardRepository } from './dashboard-repository.js';

export async function startDashboardConsumers(rt: SubgraphRuntime, repo: DashboardRepository): Promise<RunningConsumer[]> {
  return [
    await consumeFrom(rt, 'registration', 'dashboard-registrations', {
      'registration.confirmed': async ({ payload: p, occurredAt }) => {
        const k = { ...p, at: new Date(occurredAt) };
        await repo.applyRegistration(k, 'CONFIRMED', p.lectureTitle);
        await repo.applyPayment(k, 'COMPLETED');
      },
      'registration.canceled': async ({ payload: p, occurredAt }) => {
        await repo.applyRegistration({ ...p, at: new Date(occurredAt) }, 'CANCELED');
      },
    }),
    await consumeFrom(rt, 'payment', 'dashboard-payments', {
      'payment.completed': async ({ payload: p, occurredAt }) => {
        await repo.applyPayment({ ...p, at: new Date(occurredAt) }, 'COMPLETED');
      },
      'payment.refunded': async ({ payload: p, occurredAt }) => {
        await repo.applyPayment({ ...p, at: new Date(occurredAt) }, 'REFUNDED');
      },
    }),
  ];
}
