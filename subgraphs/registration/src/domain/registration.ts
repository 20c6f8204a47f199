/**
 * The Registration aggregate: its life cycle and who may see or change it. No I/O.
 *
 * Life cycle:
 * - an attempt (seat taken, payment in flight; invisible to clients, kept in its outbox claim
 *   and its seat) becomes CONFIRMED (paid), or FAILED (payment failed; invisible, seat given
 *   back, any late charge voided). PENDING names the attempt's state; no document is stored in it;
 * - an attempt that finds the lecture full and asked to queue becomes WAITLISTED (nothing
 *   charged; its place in line is the lecture's {@link Waitlist}, ./waitlist.ts). When a seat
 *   frees and it is first in line, it is charged then and becomes CONFIRMED, or CANCELED with
 *   reason PAYMENT_DECLINED when the charge is declined;
 * - CONFIRMED or WAITLISTED → CANCELED: the student's request or the lecture canceled (a
 *   confirmed one is refunded; a waitlisted one was never charged).
 *
 * The transitions ({@link confirm}, {@link abandon}, {@link waitlist}, {@link enrollFromWaitlist},
 * {@link cancel}) return the new state and the event it raises; the repository stores them
 * guarded by the stored status. Refusals are {@link DomainError}s. How an attempt gets there is
 * decided in ./attempt.ts.
 */
import { createEvent, type EventEnvelope } from '@courses/contracts';
import { DomainError, ErrorCode, transition, type Created, type Identity, type Transition } from '@courses/platform';

export type RegistrationState = 'PENDING' | 'WAITLISTED' | 'CONFIRMED' | 'CANCELED' | 'FAILED';
/** Why a registration was canceled: PAYMENT_DECLINED only for a waitlist place whose charge, when a seat freed, was declined. */
export type CancellationReason = 'STUDENT_REQUEST' | 'LECTURE_CANCELED' | 'PAYMENT_DECLINED';
/** States clients can see; PENDING and FAILED never leave the subgraph. */
export const VISIBLE_STATES: readonly RegistrationState[] = ['WAITLISTED', 'CONFIRMED', 'CANCELED'];

export interface Registration {
  id: string;
  studentId: string;
  lectureId: string;
  /** The lecture's instructor, copied from the catalog replica at registration. */
  instructorId: string;
  lectureTitle: string;
  /** Price charged, KRW. */
  amount: number;
  status: RegistrationState;
  cancellationReason: CancellationReason | null;
  paymentId: string | null;
  /** The seat held (`<lectureId>#<n>`), from the confirmation on; null before. */
  seat: string | null;
  /** When it joined the lecture's waitlist (stamped once the waitlist stored it); null when it never waited. */
  waitlistedAt: Date | null;
  /**
   * When it was given its seat: for an attempt, when it was promised one (its request found a free
   * seat and nobody waiting, and it came before anyone who joined the line after); for a waitlist
   * place, when the freed seat was offered to it. Null while it has none. The consistency checker
   * compares it with `waitlistedAt`: nobody is seated past a student already waiting.
   */
  seatedAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
}

/** Why an attempt was abandoned at the payment step. */
export type AbandonReason = 'PAYMENT_DECLINED' | 'PAYMENT_UNAVAILABLE';

/** A registration attempt before its outcome is stored: who, which lecture, at what price (KRW). */
export type Attempt = Pick<Registration, 'id' | 'studentId' | 'lectureId' | 'instructorId' | 'lectureTitle' | 'amount'>;

/** The attempt of `studentId` for `lecture`, with id `id`. */
export function attemptOf(id: string, studentId: string, lecture: CatalogLecture): Attempt {
  return { id, studentId, lectureId: lecture.id, instructorId: lecture.instructorId, lectureTitle: lecture.title, amount: lecture.price };
}

/** Registration's replica of a lecture, fed by lecture events. */
export interface CatalogLecture {
  id: string;
  title: string;
  instructorId: string;
  capacity: number;
  /** KRW */
  price: number;
  status: 'OPEN' | 'CANCELED';
}

/** The id of seat number `n` (1..capacity) of a lecture in the seat ledger. */
export function seatId(lectureId: string, n: number): string {
  return `${lectureId}#${n}`;
}

/** `registration.confirmed`: the attempt was paid (PENDING → CONFIRMED). */
export function confirmedEvent(reg: Attempt, paymentId: string, fromWaitlist = false): EventEnvelope<'registration.confirmed'> {
  return createEvent('registration.confirmed', {
    registrationId: reg.id,
    studentId: reg.studentId,
    lectureId: reg.lectureId,
    instructorId: reg.instructorId,
    lectureTitle: reg.lectureTitle,
    paymentId,
    amount: reg.amount,
    ...(fromWaitlist ? { fromWaitlist } : {}),
  });
}

/** `registration.waitlisted`: the attempt joined the lecture's waitlist at `position` (PENDING → WAITLISTED). */
export function waitlistedEvent(reg: Attempt, position: number): EventEnvelope<'registration.waitlisted'> {
  return createEvent('registration.waitlisted', {
    registrationId: reg.id,
    studentId: reg.studentId,
    lectureId: reg.lectureId,
    instructorId: reg.instructorId,
    lectureTitle: reg.lectureTitle,
    position,
  });
}

/** `registration.abandoned`: the attempt failed at the payment step (PENDING → FAILED); payment voids any charge. */
export function abandonedEvent(
  reg: Pick<Registration, 'id' | 'studentId' | 'lectureId'>,
  reason: AbandonReason,
): EventEnvelope<'registration.abandoned'> {
  return createEvent('registration.abandoned', { registrationId: reg.id, studentId: reg.studentId, lectureId: reg.lectureId, reason });
}

/**
 * `registration.canceled`: a confirmed registration was canceled (CONFIRMED → CANCELED), and
 * payment refunds it; or a waitlist place ended (WAITLISTED → CANCELED, `fromWaitlist`), and
 * payment voids any charge attempted when it was offered a seat.
 */
export function canceledEvent(reg: Registration, reason: CancellationReason, fromWaitlist = false): EventEnvelope<'registration.canceled'> {
  return createEvent('registration.canceled', {
    registrationId: reg.id,
    studentId: reg.studentId,
    lectureId: reg.lectureId,
    instructorId: reg.instructorId,
    reason,
    paymentId: reg.paymentId,
    ...(fromWaitlist ? { fromWaitlist } : {}),
  });
}

/** The registration created when an attempt's outcome is stored, with its event. */
type Outcome<K extends 'registration.confirmed' | 'registration.abandoned' | 'registration.waitlisted'> = Created<
  Registration,
  EventEnvelope<K>
>;

/** A new registration of `attempt` in `status`, as of `now`. */
function created(attempt: Attempt, status: RegistrationState, fields: Partial<Registration>, now: Date): Registration {
  return {
    ...attempt,
    status,
    cancellationReason: null,
    paymentId: null,
    seat: null,
    waitlistedAt: null,
    seatedAt: null,
    ...fields,
    createdAt: now,
    updatedAt: now,
  };
}

/**
 * PENDING → CONFIRMED: the attempt was paid with payment `paymentId` and holds `seat`, which it
 * got at `seatedAt`; raises `registration.confirmed`.
 */
export function confirm(
  attempt: Attempt,
  paymentId: string,
  seat: string,
  seatedAt: Date,
  now = new Date(),
): Outcome<'registration.confirmed'> {
  const reg = created(attempt, 'CONFIRMED', { paymentId, seat, seatedAt }, now);
  return { created: reg, event: confirmedEvent(reg, paymentId) };
}

/**
 * PENDING → WAITLISTED: the lecture was full, the student asked to queue, and the lecture's
 * waitlist took them at `position` (1 = next); nothing is charged. `now` is when the waitlist
 * stored the place. Raises `registration.waitlisted`.
 */
export function waitlist(attempt: Attempt, position: number, now = new Date()): Outcome<'registration.waitlisted'> {
  const reg = created(attempt, 'WAITLISTED', { waitlistedAt: now }, now);
  return { created: reg, event: waitlistedEvent(reg, position) };
}

/**
 * WAITLISTED → CONFIRMED: a seat freed, this place was first in line and was offered `seat` at
 * `seatedAt`, and its charge went through as payment `paymentId`; raises
 * `registration.confirmed` (fromWaitlist).
 * @returns null unless it is WAITLISTED (enrolled or canceled already: nothing to do).
 */
export function enrollFromWaitlist(
  reg: Registration,
  paymentId: string,
  seat: string,
  seatedAt: Date,
  now = new Date(),
): Transition<Registration, EventEnvelope<'registration.confirmed'>> | null {
  if (reg.status !== 'WAITLISTED') return null;
  return transition(reg, 'WAITLISTED', { status: 'CONFIRMED', paymentId, seat, seatedAt }, now, (next) =>
    confirmedEvent(next, paymentId, true),
  );
}

/**
 * PENDING → FAILED: the attempt failed at the payment step for `reason`, and gives back `seat`
 * (null when it is not known, as in the recovery of a dead process's attempt); raises
 * `registration.abandoned`, on which payment voids any charge.
 */
export function abandon(attempt: Attempt, reason: AbandonReason, seat: string | null, now = new Date()): Outcome<'registration.abandoned'> {
  const reg = created(attempt, 'FAILED', { seat }, now);
  return { created: reg, event: abandonedEvent(reg, reason) };
}

/**
 * CONFIRMED → CANCELED for `reason`, on which payment refunds; or WAITLISTED → CANCELED (the
 * place ends, nothing to refund). Raises `registration.canceled`.
 * @returns null when it is CANCELED already (canceling twice changes nothing).
 * @throws DomainError REGISTRATION_NOT_ACTIVE when it never was confirmed nor waitlisted (PENDING or FAILED).
 */
export function cancel(
  reg: Registration,
  reason: CancellationReason,
  now = new Date(),
): Transition<Registration, EventEnvelope<'registration.canceled'>> | null {
  if (reg.status === 'CANCELED') return null;
  const from = reg.status;
  if (from !== 'CONFIRMED' && from !== 'WAITLISTED')
    throw new DomainError(ErrorCode.REGISTRATION_NOT_ACTIVE, `registration ${reg.id} was never confirmed`);
  return transition(reg, from, { status: 'CANCELED', cancellationReason: reason }, now, (next) =>
    canceledEvent(next, reason, from === 'WAITLISTED'),
  );
}

/**
 * The cancellation `who` asks for: {@link cancel} with reason STUDENT_REQUEST, once `who` may.
 * @throws DomainError NOT_FOUND when `who` may not see it (another student learns nothing of
 *   it), FORBIDDEN when `who` may see it but not cancel it (the lecture's instructor).
 */
export function cancelAtRequest(
  reg: Registration,
  who: Identity,
  now = new Date(),
): Transition<Registration, EventEnvelope<'registration.canceled'>> | null {
  if (!mayView(reg, who)) throw new DomainError(ErrorCode.NOT_FOUND, `no registration ${reg.id}`);
  assertMayCancel(reg, who);
  return cancel(reg, 'STUDENT_REQUEST', now);
}

/** True when `who` may see `reg`: its student, the lecture's instructor, or an admin. */
export function mayView(reg: Pick<Registration, 'studentId' | 'instructorId' | 'status'>, who: Identity | undefined): boolean {
  if (!who || !VISIBLE_STATES.includes(reg.status)) return false;
  return who.role === 'ADMIN' || who.sub === reg.studentId || (who.role === 'INSTRUCTOR' && who.sub === reg.instructorId);
}

/** True when `who` may see the payment of `reg`: its student or an admin. */
export function mayViewPayment(reg: Pick<Registration, 'studentId'>, who: Identity | undefined): boolean {
  return !!who && (who.role === 'ADMIN' || who.sub === reg.studentId);
}

/** @throws DomainError FORBIDDEN unless `who` is the registration's student or an admin. */
export function assertMayCancel(reg: Pick<Registration, 'studentId'>, who: Identity): void {
  if (who.role !== 'ADMIN' && who.sub !== reg.studentId) {
    throw new DomainError(ErrorCode.FORBIDDEN, 'only the student who registered, or an admin, may cancel a registration');
  }
}

/** True when the instructor view (`Lecture.registrations`) is allowed for `who`. */
export function mayListLectureRegistrations(lecture: Pick<CatalogLecture, 'instructorId'>, who: Identity | undefined): boolean {
  return !!who && (who.role === 'ADMIN' || (who.role === 'INSTRUCTOR' && who.sub === lecture.instructorId));
}

/** A reference to a lecture owned by the lecture subgraph (resolved there by its key). */
export interface LectureRef {
  id: string;
}
