/**
 * Every event subscription of the dashboard, in one place, each pull of events stored with one
 * write:
 * - the dashboard read model, from registration and payment events (durables
 *   `dashboard-registrations` and `dashboard-payments`);
 * - the notifications inbox, one notification per notifying event (durables
 *   `dashboard-notifications` and `dashboard-notifications-payments`), each announced with
 *   `dashboard.notificationCreated` for live clients.
 *
 * The announcement needs no outbox: it is published after the notification is stored and before
 * the events that caused it are acked, so a crash in between redelivers them, the insert skips
 * what is stored, and the announcement goes out again with the same id (JetStream drops a repeat
 * within its duplicate window; the gateway sends a client a payload once).
 */
import type { EventEnvelope } from '@courses/contracts';
import { consumeFrom, type RunningConsumer, type SubgraphRuntime } from '@courses/platform';
import type { Fact } from '../domain/dashboard.js';
import { notificationCreated, notificationOf, type Notification } from '../domain/notification.js';
import type { DashboardRepository } from './dashboard-repository.js';
import type { NotificationRepository } from './notification-repository.js';

/** The facts an event establishes (a confirmation also means the payment completed). */
export function factsOf(e: EventEnvelope): Fact[] {
  const at = new Date(e.occurredAt);
  const p = e.payload as { registrationId: string; studentId: string; lectureId: string; lectureTitle?: string };
  const k = { registrationId: p.registrationId, studentId: p.studentId, lectureId: p.lectureId, at };
  switch (e.type) {
    case 'registration.confirmed':
      return [
        { ...k, kind: 'registration', status: 'CONFIRMED', lectureTitle: p.lectureTitle },
        { ...k, kind: 'payment', status: 'COMPLETED' },
      ];
    case 'registration.waitlisted':
      return [{ ...k, kind: 'registration', status: 'WAITLISTED', lectureTitle: p.lectureTitle }];
    case 'registration.canceled':
      return [{ ...k, kind: 'registration', status: 'CANCELED' }];
    case 'payment.completed':
      return [{ ...k, kind: 'payment', status: 'COMPLETED' }];
    case 'payment.refunded':
      return [{ ...k, kind: 'payment', status: 'REFUNDED' }];
    default:
      return [];
  }
}

/** Starts the dashboard's four durable consumers (see above). */
export async function startDashboardConsumers(
  rt: SubgraphRuntime,
  repo: DashboardRepository,
  inbox: NotificationRepository,
): Promise<RunningConsumer[]> {
  // Events trickling in wait up to 50 ms for company: one write per batch instead of per event.
  const project = { handle: (events: EventEnvelope[]) => repo.record(events.flatMap(factsOf)), lingerMs: 50 };
  const notify = {
    async handle(events: EventEnvelope[]) {
      const notifications = events.map(notificationOf).filter((n): n is Notification => n !== null);
      await inbox.record(notifications);
      await Promise.all(notifications.map((n) => rt.bus.publish(notificationCreated(n))));
    },
    lingerMs: 50,
  };
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
