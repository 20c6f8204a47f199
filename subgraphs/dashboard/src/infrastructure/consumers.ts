/**
 * Every event subscription of the dashboard, in one place: the projection of registration
 * and payment events into the read model (durables `dashboard-registrations` and
 * `dashboard-payments`).
 */
import { streamOf } from '@courses/contracts';
import { startConsumer, type RunningConsumer, type SubgraphRuntime } from '@courses/platform';
import type { DashboardRepository } from './dashboard-repository.js';

export async function startDashboardConsumers(rt: SubgraphRuntime, repo: DashboardRepository): Promise<RunningConsumer[]> {
  const common = { nc: rt.nc, namespace: rt.namespace, logger: rt.logger, metrics: rt.metrics };
  return [
    await startConsumer({
      ...common,
      stream: streamOf('registration', rt.namespace),
      durable: 'dashboard-registrations',
      handlers: {
        'registration.confirmed': async ({ payload: p, occurredAt }) => {
          const k = { ...p, at: new Date(occurredAt) };
          await repo.applyRegistration(k, 'CONFIRMED', p.lectureTitle);
          await repo.applyPayment(k, 'COMPLETED');
        },
        'registration.canceled': async ({ payload: p, occurredAt }) => {
          await repo.applyRegistration({ ...p, at: new Date(occurredAt) }, 'CANCELED');
        },
      },
    }),
    await startConsumer({
      ...common,
      stream: streamOf('payment', rt.namespace),
      durable: 'dashboard-payments',
      handlers: {
        'payment.completed': async ({ payload: p, occurredAt }) => {
          await repo.applyPayment({ ...p, at: new Date(occurredAt) }, 'COMPLETED');
        },
        'payment.refunded': async ({ payload: p, occurredAt }) => {
          await repo.applyPayment({ ...p, at: new Date(occurredAt) }, 'REFUNDED');
        },
      },
    }),
  ];
}
