/**
 * Which domain events feed which Subscription field, the entity each event names, and a
 * cheap audience pre-filter. Authorization proper happens when the gateway resolves the
 * entity through the supergraph with the subscriber's identity (a registration the
 * subscriber may not see resolves to null and is not sent).
 */
import type { Context, EventEnvelope, EventType } from '@courses/contracts';
import type { Identity } from '@courses/platform';

export interface SubscriptionRoute {
  /** Contexts whose events feed the field. */
  contexts: Context[];
  /** Event types that change what the field reports. */
  types: EventType[];
  /** The Query field that fetches the entity by id (`registration(id:)`, `lecture(id:)`, `notification(id:)`). */
  entityQueryField: 'registration' | 'lecture' | 'notification';
  /** Argument of the Subscription field that narrows it to one entity, if it has one. */
  keyArgument?: 'registrationId' | 'lectureId';
  /** Whether the key argument is required. */
  keyRequired: boolean;
  /** Whether subscribing needs a signed-in caller. */
  needsIdentity: boolean;
  /** The entity id an event names. */
  keyOf(event: EventEnvelope): string | undefined;
  /**
   * The events an event stands for, one per entity, when it names several (a waitlist's line
   * names each place in it); absent: the event itself.
   */
  expand?(event: EventEnvelope): EventEnvelope[];
  /** False when the event is certainly not for `who` (saves a query). */
  mayConcern(event: EventEnvelope, who: Identity | undefined): boolean;
  /**
   * Fields of the entity that read the same for every caller. A subscription that selects only
   * these is resolved once per event for everyone (as an anonymous caller), whoever subscribed.
   */
  publicFields?: ReadonlySet<string>;
}

export const ROUTES: Record<string, SubscriptionRoute> = {
  registrationStatusChanged: {
    contexts: ['registration', 'payment'],
    types: [
      'registration.waitlisted',
      'registration.waitlistChanged',
      'registration.confirmed',
      'registration.canceled',
      'payment.completed',
      'payment.refunded',
    ],
    entityQueryField: 'registration',
    keyArgument: 'registrationId',
    keyRequired: false,
    needsIdentity: true,
    keyOf: (e) => e.correlation.registrationId,
    // A line that changed moves every place in it: each is a registration whose position may have changed.
    expand: (e) =>
      e.type === 'registration.waitlistChanged'
        ? (e as EventEnvelope<'registration.waitlistChanged'>).payload.waiting.map((w) => ({
            ...e,
            id: `${e.id}:${w.registrationId}`,
            correlation: { ...e.correlation, registrationId: w.registrationId, studentId: w.studentId },
          }))
        : [e],
    mayConcern(e, who) {
      if (!who) return false;
      if (who.role === 'ADMIN') return true;
      if (e.correlation.studentId === who.sub) return true;
      // Instructors see their lectures' registrations; payment events name no instructor,
      // so those are checked by resolving.
      return who.role === 'INSTRUCTOR' && (e.correlation.instructorId === who.sub || e.type.startsWith('payment.'));
    },
  },
  lectureUpdated: {
    contexts: ['lecture', 'registration'],
    types: ['lecture.canceled', 'lecture.enrolledCountChanged', 'registration.waitlistChanged'],
    entityQueryField: 'lecture',
    keyArgument: 'lectureId',
    keyRequired: true,
    needsIdentity: false,
    keyOf: (e) => e.correlation.lectureId,
    mayConcern: () => true,
    // The lecture subgraph's own fields (public, cacheControl PUBLIC) and the waitlist's length; not `registrations`.
    publicFields: new Set(['__typename', 'id', 'title', 'instructorId', 'capacity', 'price', 'status', 'enrolledCount', 'waitlistLength']),
  },
  notificationReceived: {
    contexts: ['dashboard'],
    types: ['dashboard.notificationCreated'],
    entityQueryField: 'notification',
    keyRequired: false,
    needsIdentity: true,
    keyOf: (e) => e.correlation.notificationId,
    // Only the student it tells (the dashboard answers null to anyone else as well).
    mayConcern: (e, who) => !!who && e.correlation.studentId === who.sub,
  },
};
