/**
 * The Registration aggregate: its life cycle and who may see or change it. No I/O.
 *
 * Life cycle: an attempt (seat taken, payment in flight; invisible to clients, stored as its
 * outbox claim and its seat) becomes CONFIRMED (paid) → CANCELED (student request or lecture
 * canceled; refunded). An attempt whose payment fails becomes FAILED (invisible, seat released,
 * any late charge voided). PENDING names the attempt's state; no document is stored in it.
 *
 * The transitions ({@link confirm}, {@link abandon}, {@link cancel}) return the new state and the
 * event it raises; the repository stores them guarded by the stored status. Refusals are
 * {@link DomainError}s.
 */
import { createEvent, type EventEnvelope } from '@courses/contracts';
import { DomainError, ErrorCode, transition, type Created, type Identity, type Transition } from '@courses/platform';

export type RegistrationState = 'PENDING' | 'CONFIRMED' | 'CANCELED' | 'FAILED';
export type CancellationReason = 'STUDENT_REQUEST' | 'LECTURE_CANCELED';
/** States clients can see; PENDING and FAILED never leave the subgraph. */
export const VISIBLE_STATES: readonly RegistrationState[] = ['CONFIRMED', 'CANCELED'];

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

/**
 * The live key of a student and lecture: unique among held seats, so a student holds at most
 * one live (in-flight or CONFIRMED) registration per lecture; releasing the seat frees it.
 */
export function liveKey(studentId: string, lectureId: string): string {
  return `${studentId}:${lectureId}`;
}

/** The id of seat number `n` (1..capacity) of a lecture in the seat ledger. */
export function seatId(lectureId: string, n: number): string {
  return `${lectureId}#${n}`;
}

/** `registration.confirmed`: the attempt was paid (PENDING → CONFIRMED). */
export function confirmedEvent(reg: Attempt, paymentId: string): EventEnvelope<'registration.confirmed'> {
  return createEvent('registration.confirmed', {
    registrationId: reg.id,
    studentId: reg.studentId,
    lectureId: reg.lectureId,
    instructorId: reg.instructorId,
    lectureTitle: reg.lectureTitle,
    paymentId,
    amount: reg.amount,
  });
}

/** `registration.abandoned`: the attempt failed at the payment step (PENDING → FAILED); payment voids any charge. */
export function abandonedEvent(
  reg: Pick<Registration, 'id' | 'studentId' | 'lectureId'>,
  reason: AbandonReason,
): EventEnvelope<'registration.abandoned'> {
  return createEvent('registration.abandoned', { registrationId: reg.id, studentId: reg.studentId, lectureId: reg.lectureId, reason });
}

/** `registration.canceled`: a confirmed registration was canceled (CONFIRMED → CANCELED); payment refunds it. */
export function canceledEvent(reg: Registration, reason: CancellationReason): EventEnvelope<'registration.canceled'> {
  return createEvent('registration.canceled', {
    registrationId: reg.id,
    studentId: reg.studentId,
    lectureId: reg.lectureId,
    instructorId: reg.instructorId,
    reason,
    paymentId: reg.paymentId,
  });
}

/** The registration created when an attempt's outcome is stored, with its event. */
type Outcome<K extends 'registration.confirmed' | 'registration.abandoned'> = Created<Registration, EventEnvelope<K>>;

/**
 * PENDING → CONFIRMED: the attempt was paid with payment `paymentId` and holds `seat`; raises
 * `registration.confirmed`.
 */
export function confirm(attempt: Attempt, paymentId: string, seat: string, now = new Date()): Outcome<'registration.confirmed'> {
  const created: Registration = {
    ...attempt,
    status: 'CONFIRMED',
    cancellationReason: null,
    paymentId,
    seat,
    createdAt: now,
    updatedAt: now,
  };
  return { created, event: confirmedEvent(created, paymentId) };
}

/**
 * PENDING → FAILED: the attempt failed at the payment step for `reason`, and gives back `seat`
 * (null when it is not known, as in the recovery of a dead process's attempt); raises
 * `registration.abandoned`, on which payment voids any charge.
 */
export function abandon(attempt: Attempt, reason: AbandonReason, seat: string | null, now = new Date()): Outcome<'registration.abandoned'> {
  const created: Registration = {
    ...attempt,
    status: 'FAILED',
    cancellationReason: null,
    paymentId: null,
    seat,
    createdAt: now,
    updatedAt: now,
  };
  return { created, event: abandonedEvent(created, reason) };
}

/**
 * CONFIRMED → CANCELED for `reason`; raises `registration.canceled`, on which payment refunds.
 * @returns null when it is CANCELED already (canceling twice changes nothing).
 * @throws DomainError REGISTRATION_NOT_ACTIVE when it never was confirmed (PENDING or FAILED).
 */
export function cancel(
  reg: Registration,
  reason: CancellationReason,
  now = new Date(),
): Transition<Registration, EventEnvelope<'registration.canceled'>> | null {
  if (reg.status === 'CANCELED') return null;
  if (reg.status !== 'CONFIRMED') throw new DomainError(ErrorCode.REGISTRATION_NOT_ACTIVE, `registration ${reg.id} was never confirmed`);
  return transition(reg, 'CONFIRMED', { status: 'CANCELED', cancellationReason: reason }, now, (next) => canceledEvent(next, reason));
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

/** @throws DomainError LECTURE_NOT_OPEN when the lecture is canceled. */
export function assertOpen(lecture: Pick<CatalogLecture, 'title' | 'status'>): void {
  if (lecture.status !== 'OPEN')
    throw new DomainError(ErrorCode.LECTURE_NOT_OPEN, `lecture "${lecture.title}" is not open for registration`);
}

/** True when the instructor view (`Lecture.registrations`) is allowed for `who`. */
export function mayListLectureRegistrations(lecture: Pick<CatalogLecture, 'instructorId'>, who: Identity | undefined): boolean {
  return !!who && (who.role === 'ADMIN' || (who.role === 'INSTRUCTOR' && who.sub === lecture.instructorId));
}

/** A reference to a lecture owned by the lecture subgraph (resolved there by its key). */
export interface LectureRef {
  id: string;
}
