/**
 * A registration attempt's decisions, step by step. No I/O: the application service loads what
 * a step needs, asks the next step here, and does what it says.
 *
 * 1. {@link entryStep}: from what this process knows of the lecture (its status, its free seats
 *    and its waitlist, kept in memory), take a seat, join the waitlist, or refuse at once. A
 *    lecture known to be full, or not open, is refused without a write, a claim or an admission
 *    slot; students already waiting come before anyone who asks now.
 * 2. {@link afterSeat}: the seat ledger's answer to the take (a seat; full; the student holds a
 *    live place already; or a seat taken while someone waits, which is given back: the line
 *    comes first).
 * 3. {@link afterCharge}: payment's answer. Paid → CONFIRMED; declined, timed out or unreachable
 *    → FAILED (payment voids any late charge) and the seat goes back; never sent (breaker open,
 *    or too many calls in flight) → nothing stored, the seat goes back.
 * 4. {@link afterJoin}: the waitlist's answer to a place asked for: WAITLISTED at a position, or
 *    a refusal.
 */
import type { EventEnvelope } from '@courses/contracts';
import { DomainError, ErrorCode, type Created } from '@courses/platform';
import { abandon, confirm, type AbandonReason, type Attempt, type CatalogLecture, type Registration } from './registration.js';
import type { JoinRefusal } from './waitlist.js';

/** What this process knows, in memory, of a lecture's seats and waitlist. */
export interface SeatView {
  /** Seats believed free for newcomers: 0 when the lecture is known full. */
  freeSeats: number;
  /** Places believed waiting for a seat (not offered one yet). */
  waiting: number;
  /** True when the waitlist is believed at its limit (or closed, or the lecture has none). */
  waitlistFull: boolean;
}

/** An attempt's refusal: it ends here with `error`. */
export type Refusal = { kind: 'refuse'; error: DomainError };
/** What an attempt does first: take a seat, join the waitlist, or stop. */
export type EntryStep = { kind: 'take-seat' } | { kind: 'join-waitlist' } | Refusal;
/** What an attempt does once the seat ledger answered: pay for its seat, join the waitlist, or stop. */
export type SeatStep = { kind: 'pay'; seat: string } | { kind: 'join-waitlist' } | Refusal;

const refuse = (error: DomainError): Refusal => ({ kind: 'refuse', error });

/** LECTURE_FULL for `lecture`. */
export function fullError(lecture: Pick<CatalogLecture, 'title' | 'capacity'>): DomainError {
  return new DomainError(ErrorCode.LECTURE_FULL, `lecture "${lecture.title}" has no seat left (capacity ${lecture.capacity})`);
}

/** LECTURE_NOT_OPEN for `lecture`. */
export function notOpenError(lecture: Pick<CatalogLecture, 'title'>): DomainError {
  return new DomainError(ErrorCode.LECTURE_NOT_OPEN, `lecture "${lecture.title}" is not open for registration`);
}

/** ALREADY_REGISTERED for `lecture`: the student holds a live registration or waitlist place of it. */
export function alreadyRegisteredError(lecture: Pick<CatalogLecture, 'title'>): DomainError {
  return new DomainError(ErrorCode.ALREADY_REGISTERED, `you already hold a registration or a waitlist place for "${lecture.title}"`);
}

/**
 * The first step of an attempt on `lecture` by a student who asks (`wantsWaitlist`) to queue
 * when it is full, from what is known in memory: a seat while some are free and nobody waits;
 * else the waitlist, when asked and not full; else LECTURE_FULL. LECTURE_NOT_OPEN for a lecture
 * that is not open.
 */
export function entryStep(
  lecture: Pick<CatalogLecture, 'title' | 'capacity' | 'status'>,
  view: SeatView,
  wantsWaitlist: boolean,
): EntryStep {
  if (lecture.status !== 'OPEN') return refuse(notOpenError(lecture));
  if (view.freeSeats > 0 && view.waiting === 0) return { kind: 'take-seat' };
  if (wantsWaitlist && !view.waitlistFull) return { kind: 'join-waitlist' };
  return refuse(fullError(lecture));
}

/**
 * What the seat ledger answered: a seat was taken (`seated`, but `someoneWaits` when a student
 * was found waiting for a seat right after, so it is given back), the lecture is `full`, or the
 * student holds a live place of the lecture `already`.
 */
export type SeatResult = { kind: 'seated'; seat: string; someoneWaits: boolean } | { kind: 'full' } | { kind: 'already' };

/**
 * The step after taking a seat: pay for it; or, when the lecture was full (or the seat must go to
 * a student waiting), the waitlist if asked for, else LECTURE_FULL; ALREADY_REGISTERED when the
 * student holds a live place.
 */
export function afterSeat(lecture: Pick<CatalogLecture, 'title' | 'capacity'>, result: SeatResult, wantsWaitlist: boolean): SeatStep {
  if (result.kind === 'already') return refuse(alreadyRegisteredError(lecture));
  if (result.kind === 'seated' && !result.someoneWaits) return { kind: 'pay', seat: result.seat };
  return wantsWaitlist ? { kind: 'join-waitlist' } : refuse(fullError(lecture));
}

/** What payment answered a charge (amounts in KRW are the attempt's). */
export type ChargeResult =
  | { kind: 'completed'; paymentId: string }
  | { kind: 'declined'; reason: string }
  | {
      kind: 'unavailable';
      reason: string;
      /** Seconds after which trying again makes sense. */
      retryAfterSeconds: number;
      /** False when the call never left (payment cannot have charged). */
      maybeCharged: boolean;
    };

/** How a paid-for attempt ends: the registration to store (none when nothing may have been charged), whether its seat goes back, and the answer. */
export interface AttemptEnd {
  /** The registration to store with its event; null when nothing needs remembering. */
  store: Created<Registration, EventEnvelope<'registration.confirmed' | 'registration.abandoned'>> | null;
  /** True when the seat goes back to the lecture. */
  releaseSeat: boolean;
  /** The refusal for the student; undefined when confirmed. */
  error?: DomainError;
}

/**
 * The end of attempt `attempt` holding `seat` (taken at `seatedAt`) once payment answered
 * `charge`: CONFIRMED when paid; FAILED with `registration.abandoned` (payment voids a late
 * charge) and PAYMENT_DECLINED or PAYMENT_UNAVAILABLE when not; nothing stored when the call
 * never left. The seat goes back unless confirmed.
 */
export function afterCharge(attempt: Attempt, seat: string, seatedAt: Date, charge: ChargeResult, now = new Date()): AttemptEnd {
  if (charge.kind === 'completed') return { store: confirm(attempt, charge.paymentId, seat, seatedAt, now), releaseSeat: false };
  const error =
    charge.kind === 'declined'
      ? new DomainError(ErrorCode.PAYMENT_DECLINED, `payment declined: ${charge.reason}`)
      : new DomainError(ErrorCode.PAYMENT_UNAVAILABLE, 'payment is busy or unavailable right now; please try again shortly', {
          retryAfterSeconds: charge.retryAfterSeconds,
        });
  if (charge.kind === 'unavailable' && !charge.maybeCharged) return { store: null, releaseSeat: true, error };
  const reason: AbandonReason = charge.kind === 'declined' ? 'PAYMENT_DECLINED' : 'PAYMENT_UNAVAILABLE';
  return { store: abandon(attempt, reason, seat, now), releaseSeat: true, error };
}

/** PAYMENT_UNAVAILABLE for an attempt another process gave up on first (it took too long); payment voids its charge. */
export function overtakenError(): DomainError {
  return new DomainError(ErrorCode.PAYMENT_UNAVAILABLE, 'payment took too long; please try again', { retryAfterSeconds: 1 });
}

/** The refusal for a waitlist place the waitlist did not take: LECTURE_FULL, LECTURE_NOT_OPEN or ALREADY_REGISTERED. */
export function afterJoin(lecture: Pick<CatalogLecture, 'title' | 'capacity'>, refused: JoinRefusal): DomainError {
  if (refused === 'closed') return notOpenError(lecture);
  if (refused === 'already-waiting') return alreadyRegisteredError(lecture);
  return fullError(lecture);
}

/**
 * How a charge taken from a waitlist place, when it was offered a freed seat, ends it: enrolled
 * (`enroll`), dropped with reason PAYMENT_DECLINED (`drop`; its seat goes to the next in line),
 * or tried again later (`retry`: payment was busy, and may have charged; the charge is
 * idempotent on the registration id, so trying again cannot charge twice).
 */
export function promotionStep(charge: ChargeResult): 'enroll' | 'drop' | 'retry' {
  return charge.kind === 'completed' ? 'enroll' : charge.kind === 'declined' ? 'drop' : 'retry';
}
