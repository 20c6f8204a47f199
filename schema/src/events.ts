/**
 * Event contracts shared by every publisher and consumer of the supergraph.
 *
 * Each domain event travels in an {@link EventEnvelope} on a JetStream subject named
 * `<context>.<eventName>` (optionally behind a namespace prefix, see {@link subjectOf}).
 * Payload schemas are zod objects; publishers validate before writing to their outbox and
 * consumers validate before applying, so a payload that breaks its contract is refused at
 * both ends. Money amounts are integer KRW; ids are opaque strings.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';

/** The bounded contexts that publish events; each owns exactly one JetStream stream. */
export const CONTEXTS = ['lecture', 'registration', 'payment', 'dashboard'] as const;
/** A publishing bounded context. */
export type Context = (typeof CONTEXTS)[number];

const id = z.string().min(1);
/** Integer amount in KRW (Korean won has no minor unit). */
const krw = z.number().int().nonnegative();

/** Payload schemas, keyed by event type (`<context>.<pastTenseName>`). Schema version 1. */
export const eventPayloads = {
  /** An instructor opened a lecture. Feeds registration's catalog replica. */
  'lecture.opened': z.object({
    lectureId: id,
    title: z.string().min(1),
    instructorId: id,
    capacity: z.number().int().positive(),
    price: krw,
  }),
  /** A lecture was canceled by its instructor (or an admin). Registration cancels its registrations. */
  'lecture.canceled': z.object({ lectureId: id, instructorId: id }),
  /** A lecture's enrolled count changed (count of confirmed registrations, after the change). */
  'lecture.enrolledCountChanged': z.object({
    lectureId: id,
    instructorId: id,
    enrolledCount: z.number().int().nonnegative(),
  }),
  /**
   * A registration was paid and confirmed: at once, or (`fromWaitlist`) when a seat freed and it
   * was first on the lecture's waitlist.
   */
  'registration.confirmed': z.object({
    registrationId: id,
    studentId: id,
    lectureId: id,
    instructorId: id,
    lectureTitle: z.string(),
    paymentId: id,
    amount: krw,
    fromWaitlist: z.boolean().optional(),
  }),
  /**
   * A registration ended: a confirmed one (its payment must be refunded), or (`fromWaitlist`) a
   * place on the waitlist, left by the student, closed with the lecture, or dropped because the
   * payment taken when a seat freed was declined (PAYMENT_DECLINED). Payment voids any charge of
   * a waitlist place (a charge may have been attempted when it was offered a seat).
   */
  'registration.canceled': z.object({
    registrationId: id,
    studentId: id,
    lectureId: id,
    instructorId: id,
    reason: z.enum(['STUDENT_REQUEST', 'LECTURE_CANCELED', 'PAYMENT_DECLINED']),
    paymentId: id.nullable(),
    fromWaitlist: z.boolean().optional(),
  }),
  /**
   * A student asked for a full lecture and joined its waitlist (WAITLISTED) at `position`
   * (1 = next); nothing was charged. They are enrolled, and charged, when a seat frees and they
   * are first in line.
   */
  'registration.waitlisted': z.object({
    registrationId: id,
    studentId: id,
    lectureId: id,
    instructorId: id,
    lectureTitle: z.string(),
    position: z.number().int().positive(),
  }),
  /**
   * A lecture's waitlist changed (someone joined, left, or was offered a freed seat): who waits
   * now, in order (position = index + 1). Carries the whole line, bounded by the lecture's
   * waitlist limit, so a reader needs no other event to know every position.
   */
  'registration.waitlistChanged': z.object({
    lectureId: id,
    instructorId: id,
    waiting: z.array(z.object({ registrationId: id, studentId: id })),
  }),
  /**
   * A registration attempt failed at the payment step (declined, timed out or breaker open).
   * Payment voids any charge for it, including one that completes after the caller gave up.
   */
  'registration.abandoned': z.object({
    registrationId: id,
    studentId: id,
    lectureId: id,
    reason: z.enum(['PAYMENT_DECLINED', 'PAYMENT_UNAVAILABLE']),
  }),
  /** A charge succeeded. */
  'payment.completed': z.object({
    paymentId: id,
    registrationId: id,
    studentId: id,
    lectureId: id,
    amount: krw,
  }),
  /** A completed charge was refunded (registration canceled or abandoned). */
  'payment.refunded': z.object({
    paymentId: id,
    registrationId: id,
    studentId: id,
    lectureId: id,
    amount: krw,
  }),
  /**
   * The dashboard told a student something (a notification in their inbox). Published after the
   * notification is stored and before the event that caused it is acked, again on redelivery,
   * with an id derived from the notification ({@link stableEventId}), so JetStream drops repeats.
   * Feeds the gateway's `notificationReceived`.
   */
  'dashboard.notificationCreated': z.object({
    notificationId: id,
    studentId: id,
    registrationId: id,
    lectureId: id,
    kind: z.enum(['REGISTRATION_WAITLISTED', 'REGISTRATION_CONFIRMED', 'REGISTRATION_CANCELED', 'PAYMENT_REFUNDED', 'PAYMENT_FAILED']),
  }),
} as const;

/** Every event type name, e.g. `registration.confirmed`. */
export type EventType = keyof typeof eventPayloads;
/** The payload shape of event type `T`. */
export type EventPayload<T extends EventType> = z.infer<(typeof eventPayloads)[T]>;
/** All event types, in a stable order. */
export const EVENT_TYPES = Object.keys(eventPayloads) as EventType[];

/** Keys that say which aggregate(s) an event concerns; used for tracing and for subscriptions. */
export interface Correlation {
  registrationId?: string;
  lectureId?: string;
  paymentId?: string;
  studentId?: string;
  instructorId?: string;
  notificationId?: string;
}

/** Current envelope schema version; bump it (and keep reading older ones) on a breaking change. */
export const SCHEMA_VERSION = 1;

/**
 * The envelope every event travels in. `id` is a UUID and is also the JetStream `Nats-Msg-Id`,
 * so the server drops a re-send inside its duplicate window; consumers key idempotency on it
 * or on the aggregate ids in `correlation`.
 */
export interface EventEnvelope<T extends EventType = EventType> {
  id: string;
  type: T;
  /** ISO-8601 UTC timestamp of the state change the event describes. */
  occurredAt: string;
  schemaVersion: number;
  correlation: Correlation;
  payload: EventPayload<T>;
  /**
   * W3C trace context (`traceparent`, `tracestate`) of the change that raised the event, kept
   * with it in the outbox while tracing is on. It travels as NATS message headers, never in the
   * message body, so a parsed event does not have it.
   */
  traceContext?: Record<string, string>;
}

const envelopeSchema = z.object({
  id: z.string().uuid(),
  type: z.enum(EVENT_TYPES as [EventType, ...EventType[]]),
  occurredAt: z.string().datetime(),
  schemaVersion: z.literal(SCHEMA_VERSION),
  correlation: z.record(z.string(), z.string()),
  payload: z.unknown(),
});

/** Raised when bytes on the wire are not a valid event of a known type; the message is poison. */
export class InvalidEventError extends Error {
  override name = 'InvalidEventError';
}

/** The correlation keys an event of type `type` carries: every `*Id` field of its payload. */
export function correlationOf<T extends EventType>(type: T, payload: EventPayload<T>): Correlation {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(payload as Record<string, unknown>)) {
    if (key.endsWith('Id') && typeof value === 'string') out[key] = value;
  }
  void type;
  return out as Correlation;
}

/**
 * Builds a validated envelope for a new event, with a random id unless `id` is given (see
 * {@link stableEventId}).
 * @throws InvalidEventError when `payload` does not satisfy the schema of `type`.
 */
export function createEvent<T extends EventType>(
  type: T,
  payload: EventPayload<T>,
  now = new Date(),
  id: string = crypto.randomUUID(),
): EventEnvelope<T> {
  const parsed = eventPayloads[type].safeParse(payload);
  if (!parsed.success) throw new InvalidEventError(`${type}: ${parsed.error.message}`);
  return {
    id,
    type,
    occurredAt: now.toISOString(),
    schemaVersion: SCHEMA_VERSION,
    correlation: correlationOf(type, parsed.data as EventPayload<T>),
    payload: parsed.data as EventPayload<T>,
  };
}

/**
 * An event id that is the same every time it is made from `key`: the first 128 bits of
 * SHA-256(`key`) laid out as a name-based UUID (RFC 9562 §5.5 layout: version 5, variant 10).
 * An event published again with it (say, after a redelivery) is dropped by JetStream's duplicate
 * window (the message id is the event id) and is the same event to every consumer.
 */
export function stableEventId(key: string): string {
  const h = createHash('sha256').update(key).digest('hex').slice(0, 32).split('');
  h[12] = '5';
  h[16] = ((parseInt(h[16], 16) & 0x3) | 0x8).toString(16);
  const x = h.join('');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`;
}

/**
 * Parses and validates an envelope received from the wire.
 * @throws InvalidEventError when the JSON, the envelope or the payload breaks its contract.
 */
export function parseEvent(data: Uint8Array | string): EventEnvelope {
  let json: unknown;
  try {
    json = JSON.parse(typeof data === 'string' ? data : new TextDecoder().decode(data));
  } catch (e) {
    throw new InvalidEventError(`not JSON: ${(e as Error).message}`);
  }
  const env = envelopeSchema.safeParse(json);
  if (!env.success) throw new InvalidEventError(`bad envelope: ${env.error.message}`);
  const payload = eventPayloads[env.data.type].safeParse(env.data.payload);
  if (!payload.success) throw new InvalidEventError(`${env.data.type}: ${payload.error.message}`);
  return { ...env.data, payload: payload.data } as EventEnvelope;
}

/** The bounded context that publishes event type `type`. */
export function contextOf(type: EventType): Context {
  return type.split('.')[0] as Context;
}

/**
 * Subject of an event type. `namespace` isolates deployments or test runs sharing one NATS
 * server: with namespace `t1`, `registration.confirmed` travels on `t1.registration.confirmed`.
 */
export function subjectOf(type: EventType, namespace = ''): string {
  return namespace ? `${namespace}.${type}` : type;
}

/** The event type carried on `subject`, or undefined for a subject outside the contracts. */
export function typeOfSubject(subject: string, namespace = ''): EventType | undefined {
  const bare = namespace && subject.startsWith(`${namespace}.`) ? subject.slice(namespace.length + 1) : subject;
  return (EVENT_TYPES as string[]).includes(bare) ? (bare as EventType) : undefined;
}

/** JetStream stream definition for one publishing context. */
export interface StreamSpec {
  name: string;
  subjects: string[];
}

/**
 * Stream `base` (e.g. `registration`, `deadletter`) of a namespace: named `BASE` or
 * `<NAMESPACE>_BASE`, capturing subjects `base.>` or `<namespace>.base.>`.
 */
export function namespacedStream(base: string, namespace = ''): StreamSpec {
  const prefix = namespace ? `${namespace.replace(/[^A-Za-z0-9_-]/g, '_').toUpperCase()}_` : '';
  return { name: `${prefix}${base.toUpperCase()}`, subjects: [namespace ? `${namespace}.${base}.>` : `${base}.>`] };
}

/** The stream a context publishes to: `REGISTRATION` with subjects `registration.>` (namespaced when given). */
export function streamOf(context: Context, namespace = ''): StreamSpec {
  return namespacedStream(context, namespace);
}
