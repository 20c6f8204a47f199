/**
 * Which domain events feed which Subscription field, the entity each event names, and a
 * cheap audience pre-filter. Authorization proper happens when the gateway resolves the
 * entity through the supergraph with the subscriber's identity (a registration the
 * subscriber may not see resolves to null and is not sent).
 *
 * What an event itself says about its entity ({@link SubscriptionRoute.facts}) is laid over the
 * entity read when the event is delivered, so that each delivery reports its own event: a
 * registration confirmed then canceled within milliseconds is delivered CONFIRMED, then
 * CANCELED, though both reads see it canceled.
 */
import type { Context, EventEnvelope, EventType } from '@courses/contracts';
import type { Identity } from '@courses/platform';

/** Field values an event states (see SubscriptionRoute.facts). */
export interface Facts {
  [field: string]: string | number | boolean | null | Facts;
}

/** A registration's fields as of one of its events (a payment completes exactly when its registration is confirmed). */
function registrationFacts(e: EventEnvelope): Facts | undefined {
  switch (e.type) {
    case 'registration.confirmed':
      return { status: 'CONFIRMED', cancellationReason: null, waitlistPosition: null, payment: { status: 'COMPLETED' } };
    case 'registration.waitlisted':
      return {
        status: 'WAITLISTED',
        cancellationReason: null,
        waitlistPosition: (e as EventEnvelope<'registration.waitlisted'>).payload.position,
        payment: null,
      };
    case 'registration.waitlistChanged': {
      const { waiting } = (e as EventEnvelope<'registration.waitlistChanged'>).payload;
      const at = waiting.findIndex((w) => w.registrationId === e.correlation.registrationId);
      return at < 0 ? undefined : { status: 'WAITLISTED', cancellationReason: null, waitlistPosition: at + 1, payment: null };
    }
    case 'registration.canceled': {
      const p = (e as EventEnvelope<'registration.canceled'>).payload;
      // Its payment (if it was charged) is refunded after: payment.refunded says so.
      const facts: Facts = { status: 'CANCELED', cancellationReason: p.reason, waitlistPosition: null };
      facts.payment = p.fromWaitlist || !p.paymentId ? null : { status: 'COMPLETED' };
      return facts;
    }
    case 'payment.refunded':
      return { status: 'CANCELED', waitlistPosition: null, payment: { status: 'REFUNDED' } };
    default:
      return undefined;
  }
}

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
  /**
   * The `correlation` field that holds the key in every event of the route (absent when some
   * events name their entities otherwise, see `expand`): subscribers of one entity then hear only
   * its events, through the hub's index.
   */
  keyField?: 'lectureId';
  /** Whether subscribing needs a signed-in caller. */
  needsIdentity: boolean;
  /** The entity id an event names. */
  keyOf(event: EventEnvelope): string | undefined;
  /**
   * The events an event stands for, one per entity, when it names several (a waitlist's line
   * names each place in it); absent: the event itself.
   */
  expand?(event: EventEnvelope): EventEnvelope[];
  /**
   * The entity's fields as of `event`, by field name (an object for a field of an object type,
   * laid over its own fields; null for a field the event says is null): what the delivery of
   * the event reports whatever a read at delivery time says.
   */
  facts?(event: EventEnvelope): Facts | undefined;
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
      // payment.completed is not: it always comes with registration.confirmed, which reports it.
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
    facts: registrationFacts,
    mayConcern(e, who) {
      if (!who) return false;
      if (who.role === 'ADMIN') return true;
      if (e.correlation.studentId === who.sub) return true;
      // Instructors see their lectures' registrations, but not their payments (registration's
      // mayViewPayment): a payment event changes nothing an instructor can see, so it is not
      // even resolved for one (once, each instructor subscription cost a query per payment event).
      return who.role === 'INSTRUCTOR' && !e.type.startsWith('payment.') && e.correlation.instructorId === who.sub;
    },
  },
  lectureUpdated: {
    contexts: ['lecture', 'registration'],
    types: ['lecture.canceled', 'lecture.enrolledCountChanged', 'registration.waitlistChanged'],
    entityQueryField: 'lecture',
    keyArgument: 'lectureId',
    keyRequired: true,
    keyField: 'lectureId',
    needsIdentity: false,
    keyOf: (e) => e.correlation.lectureId,
    facts(e): Facts | undefined {
      if (e.type === 'lecture.canceled') return { status: 'CANCELED' };
      if (e.type === 'lecture.enrolledCountChanged')
        return { enrolledCount: (e as EventEnvelope<'lecture.enrolledCountChanged'>).payload.enrolledCount };
      if (e.type === 'registration.waitlistChanged')
        return { waitlistLength: (e as EventEnvelope<'registration.waitlistChanged'>).payload.waiting.length };
      return undefined;
    },
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
