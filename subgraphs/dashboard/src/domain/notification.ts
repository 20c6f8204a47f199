/**
 * A student's notifications inbox (the mailbox seed's alarm): what happened to their
 * registrations while they were away. A read model fed by events; no I/O here.
 *
 * One notification per notifiable event, whatever the redeliveries or replicas: its id derives
 * from the event's id ({@link notificationIdOf}), and storing it is an insert that skips an id
 * already stored. A notification only ever changes from unread to read.
 */
import { createHash } from 'node:crypto';
import { createEvent, stableEventId, type EventEnvelope, type EventPayload } from '@courses/contracts';

/** What a notification tells. */
export type NotificationKind =
  'REGISTRATION_WAITLISTED' | 'REGISTRATION_CONFIRMED' | 'REGISTRATION_CANCELED' | 'PAYMENT_REFUNDED' | 'PAYMENT_FAILED';

/** The events that notify a student, each of exactly one kind. */
export const NOTIFYING = {
  'registration.waitlisted': 'REGISTRATION_WAITLISTED',
  'registration.confirmed': 'REGISTRATION_CONFIRMED',
  'registration.canceled': 'REGISTRATION_CANCELED',
  'payment.refunded': 'PAYMENT_REFUNDED',
  'registration.abandoned': 'PAYMENT_FAILED',
} as const satisfies Record<string, NotificationKind>;

/** An event type that notifies. */
export type NotifyingEvent = keyof typeof NOTIFYING;

export interface Notification {
  /** 24 hex digits, from the id of the event that caused it. */
  id: string;
  studentId: string;
  kind: NotificationKind;
  registrationId: string;
  lectureId: string;
  /** The lecture's title, when the event carries it (confirmations do). */
  lectureTitle: string | null;
  /**
   * Why: STUDENT_REQUEST, LECTURE_CANCELED or PAYMENT_DECLINED (a waitlist place's charge) for a
   * cancellation, PAYMENT_DECLINED or PAYMENT_UNAVAILABLE for a failed payment; null for the
   * other kinds.
   */
  reason: string | null;
  /** True when it tells of a waitlist place (joined, enrolled from it, or ended while waiting). */
  fromWaitlist: boolean;
  /** The place in line when it joined (REGISTRATION_WAITLISTED); null for the other kinds. */
  position: number | null;
  /** KRW paid (confirmed) or given back (refunded); null for the other kinds. */
  amount: number | null;
  /** One sentence for people. */
  message: string;
  /** When it happened: the event's occurredAt. */
  createdAt: Date;
  /** When the student marked it read; null while unread. */
  readAt: Date | null;
}

/**
 * The id of the notification event `eventId` causes: the first 24 hex digits of
 * SHA-256(`notification:<eventId>`), so a redelivered event meets the stored one.
 */
export function notificationIdOf(eventId: string): string {
  return createHash('sha256').update(`notification:${eventId}`).digest('hex').slice(0, 24);
}

/** "50,000 KRW". */
const krw = (amount: number) => `${amount.toLocaleString('en-US')} KRW`;

/** The sentence a notification shows. */
export function messageOf(n: Pick<Notification, 'kind' | 'reason' | 'amount' | 'lectureTitle' | 'fromWaitlist' | 'position'>): string {
  const lecture = n.lectureTitle ? `"${n.lectureTitle}"` : 'the lecture';
  switch (n.kind) {
    case 'REGISTRATION_WAITLISTED':
      return `${lecture[0].toUpperCase()}${lecture.slice(1)} is full: you are number ${n.position ?? '?'} on its waitlist. Nothing is charged until a seat is yours.`;
    case 'REGISTRATION_CONFIRMED':
      return `${n.fromWaitlist ? 'A seat freed up: you' : 'You'} are registered for ${lecture}${n.amount ? `; ${krw(n.amount)} paid` : ''}.`;
    case 'REGISTRATION_CANCELED':
      if (n.fromWaitlist)
        return n.reason === 'LECTURE_CANCELED'
          ? 'The instructor canceled the lecture, so its waitlist is closed; nothing was charged.'
          : n.reason === 'PAYMENT_DECLINED'
            ? 'A seat freed up for you, but your payment was declined, so the seat went to the next student in line.'
            : 'You left the waitlist; nothing was charged.';
      return n.reason === 'LECTURE_CANCELED'
        ? 'Your registration was canceled because the instructor canceled the lecture; your payment will be refunded.'
        : 'Your registration was canceled as you asked; your payment will be refunded.';
    case 'PAYMENT_REFUNDED':
      return `${n.amount != null ? krw(n.amount) : 'Your payment'} was refunded.`;
    case 'PAYMENT_FAILED':
      return n.reason === 'PAYMENT_DECLINED'
        ? 'Your payment was declined, so you were not registered.'
        : 'Payment was unavailable, so you were not registered; please try again.';
  }
}

/** The notification `e` causes, or null when its type notifies nobody. */
export function notificationOf(e: EventEnvelope): Notification | null {
  if (!(e.type in NOTIFYING)) return null;
  const type = e.type as NotifyingEvent;
  const p = e.payload as EventPayload<NotifyingEvent>;
  const fields = {
    kind: NOTIFYING[type] as NotificationKind,
    lectureTitle: 'lectureTitle' in p ? p.lectureTitle : null,
    reason: 'reason' in p ? p.reason : null,
    amount: 'amount' in p && type !== 'registration.canceled' ? p.amount : null,
    fromWaitlist: type === 'registration.waitlisted' || ('fromWaitlist' in p && p.fromWaitlist === true),
    position: 'position' in p ? p.position : null,
  };
  return {
    id: notificationIdOf(e.id),
    studentId: p.studentId,
    registrationId: p.registrationId,
    lectureId: p.lectureId,
    ...fields,
    message: messageOf(fields),
    createdAt: new Date(e.occurredAt),
    readAt: null,
  };
}

/**
 * `dashboard.notificationCreated` for `n`, the same event every time (its id derives from the
 * notification's), so publishing it again after a redelivery is a duplicate JetStream drops.
 */
export function notificationCreated(n: Notification): EventEnvelope<'dashboard.notificationCreated'> {
  return createEvent(
    'dashboard.notificationCreated',
    { notificationId: n.id, studentId: n.studentId, registrationId: n.registrationId, lectureId: n.lectureId, kind: n.kind },
    n.createdAt,
    stableEventId(`notification:${n.id}`),
  );
}
