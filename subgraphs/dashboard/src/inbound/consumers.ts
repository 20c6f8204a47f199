/**
 * Every event subscription of the dashboard, in one place, each pull of events stored with one
 * write:
 * - the dashboard read model, from registration and payment events (durables
 *   `dashboard-registrations` and `dashboard-payments`);
 * - the notifications inbox, one notification per notifying event (durables
 *   `dashboard-notifications` and `dashboard-notifications-payments`), each announced with
 *   `dashboard.notificationCreated` for live clients.
 *
 * The policies themselves are in ../application/dashboard-policies.ts.
 */
import type { EventEnvelope } from '@courses/contracts';
import { consumeFrom, type RunningConsumer, type SubgraphRuntime } from '@courses/platform';
import type { DashboardPolicies } from '../application/dashboard-policies.js';

/** Starts the dashboard's four durable consumers (see above). */
export async function startDashboardConsumers(rt: SubgraphRuntime, policies: DashboardPolicies): Promise<RunningConsumer[]> {
  // Events trickling in wait up to 50 ms for company: one write per batch instead of per event.
  const project = { handle: (events: EventEnvelope[]) => policies.project(events), lingerMs: 50 };
  const notify = { handle: (events: EventEnvelope[]) => policies.notify(events), lingerMs: 50 };
  return [
    await consumeFrom(rt, 'registration', 'dashboard-registrations', {
      types: ['registration.waitlisted', 'registration.confirmed', 'registration.canceled'],
      ...project,
    }),
    await consumeFrom(rt, 'payment', 'dashboard-payments', { types: ['payment.completed', 'payment.refunded'], ...project }),
    await consumeFrom(rt, 'registration', 'dashboard-notifications', {
      types: ['registration.waitlisted', 'registration.confirmed', 'registration.canceled', 'registration.abandoned'],
      ...notify,
    }),
    await consumeFrom(rt, 'payment', 'dashboard-notifications-payments', { types: ['payment.refunded'], ...notify }),
  ];
}
