/**
 * The Payment aggregate and the simulated payment provider's rules. No I/O.
 *
 * States: COMPLETED (charged) → REFUNDED (registration canceled or abandoned). VOIDED is a
 * tombstone for a registration abandoned before any charge: a charge for it that arrives later
 * is refunded at once (VOIDED → REFUNDED).
 *
 * The transitions ({@link complete}, {@link voided}, {@link refund}, {@link refundLateCharge})
 * return the new state and the event it raises; the repository stores them guarded by the
 * stored status.
 */
import { createHash } from 'node:crypto';
import { createEvent, type EventEnvelope } from '@courses/contracts';
import { transition, type Created, type Identity, type Transition } from '@courses/platform';

export type PaymentState = 'COMPLETED' | 'REFUNDED' | 'VOIDED';

/** What a charge carries: who pays, for which registration and lecture, how much (KRW). */
export interface ChargeInput {
  registrationId: string;
  studentId: string;
  lectureId: string;
  /** KRW */
  amount: number;
}

export interface Payment {
  id: string;
  registrationId: string;
  studentId: string;
  lectureId: string;
  /** KRW */
  amount: number;
  status: PaymentState;
  createdAt: Date;
  updatedAt: Date;
}

/** A latency range in ms; a single value is a range of one. */
export interface LatencyRange {
  minMs: number;
  maxMs: number;
}

/**
 * Parses `PAYMENT_LATENCY_MS`: `"500"` or `"400-620"` (ms, inclusive).
 * @throws Error for any other shape or a range whose end is below its start.
 */
export function parseLatency(spec: string): LatencyRange {
  const m = /^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$/.exec(spec);
  if (!m) throw new Error(`PAYMENT_LATENCY_MS must be "N" or "MIN-MAX" in ms, got "${spec}"`);
  const minMs = Number(m[1]);
  const maxMs = m[2] === undefined ? minMs : Number(m[2]);
  if (maxMs < minMs) throw new Error(`PAYMENT_LATENCY_MS range ${spec} ends before it starts`);
  return { minMs, maxMs };
}

/** A uniformly drawn latency from `range` (ms); `random` in [0, 1). */
export function drawLatency(range: LatencyRange, random: number = Math.random()): number {
  return range.minMs + Math.floor(random * (range.maxMs - range.minMs + 1));
}

/** The simulated provider's decision for a charge: declined for listed students, else approved. */
export function providerDecision(studentId: string, declinedStudents: ReadonlySet<string>): 'approved' | 'declined' {
  return declinedStudents.has(studentId) ? 'declined' : 'approved';
}

/** True when `who` may see `payment`: the paying student or an admin; never a voided one. */
export function mayView(payment: Pick<Payment, 'studentId' | 'status'>, who: Identity | undefined): boolean {
  return payment.status !== 'VOIDED' && !!who && (who.role === 'ADMIN' || who.sub === payment.studentId);
}

/**
 * The id of the payment for a registration: the first 24 hex digits of
 * SHA-256(`payment:<registrationId>`). One registration has at most one payment, so its id is
 * known before any read, and a repeated charge meets the unique `_id`.
 */
export function paymentIdOf(registrationId: string): string {
  return createHash('sha256').update(`payment:${registrationId}`).digest('hex').slice(0, 24);
}

/** `payment.completed` for a charge just recorded. */
export function completedEvent(
  p: Pick<Payment, 'id' | 'registrationId' | 'studentId' | 'lectureId' | 'amount'>,
): EventEnvelope<'payment.completed'> {
  return createEvent('payment.completed', {
    paymentId: p.id,
    registrationId: p.registrationId,
    studentId: p.studentId,
    lectureId: p.lectureId,
    amount: p.amount,
  });
}

/** `payment.refunded`: a COMPLETED payment was refunded (its registration canceled or abandoned). */
export function refundedEvent(
  p: Pick<Payment, 'id' | 'registrationId' | 'studentId' | 'lectureId' | 'amount'>,
): EventEnvelope<'payment.refunded'> {
  return createEvent('payment.refunded', {
    paymentId: p.id,
    registrationId: p.registrationId,
    studentId: p.studentId,
    lectureId: p.lectureId,
    amount: p.amount,
  });
}

/** The payment `id` of an approved charge: COMPLETED, raising `payment.completed`. */
export function complete(id: string, charge: ChargeInput, now = new Date()): Created<Payment, EventEnvelope<'payment.completed'>> {
  const created: Payment = { id, ...charge, status: 'COMPLETED', createdAt: now, updatedAt: now };
  return { created, event: completedEvent(created) };
}

/**
 * The VOIDED tombstone `id` of a registration given up before any charge was stored (amount 0,
 * no event): a charge for it that arrives later is refunded ({@link refundLateCharge}).
 */
export function voided(id: string, of: Omit<ChargeInput, 'amount'>, now = new Date()): Payment {
  return {
    id,
    registrationId: of.registrationId,
    studentId: of.studentId,
    lectureId: of.lectureId,
    amount: 0,
    status: 'VOIDED',
    createdAt: now,
    updatedAt: now,
  };
}

/**
 * COMPLETED → REFUNDED (its registration was canceled or abandoned); raises `payment.refunded`.
 * @returns null unless it is COMPLETED: a refunded payment is not refunded twice, and a
 *   tombstone has nothing to refund.
 */
export function refund(p: Payment, now = new Date()): Transition<Payment, EventEnvelope<'payment.refunded'>> | null {
  if (p.status !== 'COMPLETED') return null;
  return transition(p, 'COMPLETED', { status: 'REFUNDED' }, now, refundedEvent);
}

/**
 * VOIDED → REFUNDED: the provider charged `amount` (KRW) for a registration given up before,
 * so the money goes back at once; raises `payment.refunded`.
 * @returns null unless it is VOIDED.
 */
export function refundLateCharge(
  p: Payment,
  amount: number,
  now = new Date(),
): Transition<Payment, EventEnvelope<'payment.refunded'>> | null {
  if (p.status !== 'VOIDED') return null;
  return transition(p, 'VOIDED', { status: 'REFUNDED', amount }, now, refundedEvent);
}
