/**
 * Every event subscription of the dashboard, in one place: the projection of registration
 * and payment events into the read model (durables `dashboard-registrations` and
 * `dashboard-payments`), each pull of events stored with one write.
 */
import type { EventEnvelope } from '@courses/contracts';
import { consumeFrom, type RunningConsumer, type SubgraphRuntime } from '@courses/platform';
import type { Fact } from '../domain/dashboard.js';
import type { DashboardRepository } from './dashboard-repository.js';

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

export async function startDashboardConsumers(rt: SubgraphRuntime, repo: DashboardRepository): Promise<RunningConsumer[]> {
  // Events trickling in wait up to 50 ms for company: one write per batch instead of per event.
  const project = { handle: (events: EventEnvelope[]) => repo.record(events.flatMap(factsOf)), lingerMs: 50 };
  return [
    await consumeFrom(rt, 'registration', 'dashboard-registrations', {
      types: ['registration.confirmed', 'registration.canceled'],
      ...project,
    }),
    await consumeFrom(rt, 'payment', 'dashboard-payments', { types: ['payment.completed', 'payment.refunded'], ...project }),
  ];
}
