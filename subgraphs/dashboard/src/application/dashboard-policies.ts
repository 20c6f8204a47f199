/**
 * Use cases of the dashboard context, the policies that keep its read models:
 * - "a registration or payment event → the student's dashboard line" (the facts each event
 *   establishes, folded into lines when read: ../domain/dashboard.ts);
 * - "a notifying event → one notification in the student's inbox, announced to live clients"
 *   (`dashboard.notificationCreated`).
 *
 * The announcement needs no outbox: it is published after the notification is stored and before
 * the events that caused it are acked, so a crash in between redelivers them, the insert skips
 * what is stored, and the announcement goes out again with the same id (the bus drops a repeat
 * within its duplicate window; the gateway sends a client a payload once).
 */
import type { EventEnvelope } from '@courses/contracts';
import type { Bus } from '@courses/platform';
import { factsOf } from '../domain/dashboard.js';
import { notificationCreated, notificationOf, type Notification } from '../domain/notification.js';
import type { DashboardRepository } from '../infrastructure/dashboard-repository.js';
import type { NotificationRepository } from '../infrastructure/notification-repository.js';

export class DashboardPolicies {
  constructor(
    private readonly lines: DashboardRepository,
    private readonly inbox: NotificationRepository,
    private readonly bus: Pick<Bus, 'publish'>,
  ) {}

  /** Records the facts `events` establish, in one write (each fact at most once, whatever the redeliveries). */
  project(events: readonly EventEnvelope[]): Promise<void> {
    return this.lines.record(events.flatMap(factsOf));
  }

  /**
   * Stores one notification per notifying event of `events` (at most once each) and announces
   * each on the bus.
   * @throws the store's or the bus's error: the events are delivered again, and what was stored is skipped.
   */
  async notify(events: readonly EventEnvelope[]): Promise<void> {
    const notifications = events.map(notificationOf).filter((n): n is Notification => n !== null);
    await this.inbox.record(notifications);
    await Promise.all(notifications.map((n) => this.bus.publish(notificationCreated(n))));
  }
}
