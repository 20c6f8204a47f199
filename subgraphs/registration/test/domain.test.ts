import { describe, expect, it } from 'vitest';
import { DomainError } from '@courses/platform';
import {
  abandon,
  assertMayCancel,
  attemptOf,
  cancel,
  cancelAtRequest,
  confirm,
  confirmedEvent,
  enrollFromWaitlist,
  mayListLectureRegistrations,
  mayView,
  mayViewPayment,
  seatId,
  waitlist,
  type CatalogLecture,
} from '../src/domain/registration.js';

const reg = { studentId: 's-1', instructorId: 'i-1', status: 'CONFIRMED' as const };
/** The code of the DomainError `fn` throws; undefined when it throws none. */
const err = (fn: () => unknown) => {
  try {
    fn();
  } catch (e) {
    if (!(e instanceof DomainError)) throw e;
    return e.code;
  }
};
const lecture: CatalogLecture = { id: 'l', title: 'Graphs', instructorId: 'i-1', capacity: 1, price: 50_000, status: 'OPEN' };
const at = new Date('2026-11-22T00:00:00Z');
const later = new Date('2026-11-22T01:00:00Z');

describe('Registration aggregate', () => {
  it('is visible to its student, the lecture instructor and admins only', () => {
    expect(mayView(reg, { sub: 's-1', role: 'STUDENT' })).toBe(true);
    expect(mayView(reg, { sub: 'i-1', role: 'INSTRUCTOR' })).toBe(true);
    expect(mayView(reg, { sub: 'z', role: 'ADMIN' })).toBe(true);
    expect(mayView(reg, { sub: 's-2', role: 'STUDENT' })).toBe(false);
    expect(mayView(reg, { sub: 'i-2', role: 'INSTRUCTOR' })).toBe(false);
    expect(mayView(reg, undefined)).toBe(false);
  });

  it('never shows attempts that were not paid (PENDING, FAILED)', () => {
    expect(mayView({ ...reg, status: 'PENDING' }, { sub: 's-1', role: 'STUDENT' })).toBe(false);
    expect(mayView({ ...reg, status: 'FAILED' }, { sub: 'z', role: 'ADMIN' })).toBe(false);
  });

  it('shows the payment to the student and admins, not to the instructor', () => {
    expect(mayViewPayment(reg, { sub: 's-1', role: 'STUDENT' })).toBe(true);
    expect(mayViewPayment(reg, { sub: 'i-1', role: 'INSTRUCTOR' })).toBe(false);
  });

  it('may be canceled by its student or an admin', () => {
    expect(err(() => assertMayCancel(reg, { sub: 's-1', role: 'STUDENT' }))).toBeUndefined();
    expect(err(() => assertMayCancel(reg, { sub: 'a', role: 'ADMIN' }))).toBeUndefined();
    expect(err(() => assertMayCancel(reg, { sub: 'i-1', role: 'INSTRUCTOR' }))).toBe('FORBIDDEN');
  });

  it('numbers the seats of a lecture', () => {
    expect(seatId('l', 3)).toBe('l#3');
  });

  it('describes a paid attempt in registration.confirmed, with the price charged', () => {
    const attempt = attemptOf('r', 's-1', lecture);
    const e = confirmedEvent(attempt, 'p');
    expect(e.type).toBe('registration.confirmed');
    expect(e.payload).toEqual({
      registrationId: 'r',
      studentId: 's-1',
      lectureId: 'l',
      instructorId: 'i-1',
      lectureTitle: 'Graphs',
      paymentId: 'p',
      amount: 50_000,
    });
    expect(e.correlation).toMatchObject({ registrationId: 'r', lectureId: 'l', paymentId: 'p' });
  });

  it("lists a lecture's registrations to its instructor only", () => {
    const l: CatalogLecture = { id: 'l', title: 'T', instructorId: 'i-1', capacity: 1, price: 0, status: 'OPEN' };
    expect(mayListLectureRegistrations(l, { sub: 'i-1', role: 'INSTRUCTOR' })).toBe(true);
    expect(mayListLectureRegistrations(l, { sub: 's-1', role: 'STUDENT' })).toBe(false);
  });

  it('confirms a paid attempt: CONFIRMED, holding its seat, with registration.confirmed', () => {
    const { created, event } = confirm(attemptOf('r', 's-1', lecture), 'p', 'l#1', at, later);
    expect(created).toMatchObject({
      id: 'r',
      status: 'CONFIRMED',
      paymentId: 'p',
      seat: 'l#1',
      seatedAt: at,
      waitlistedAt: null,
      amount: 50_000,
      cancellationReason: null,
      createdAt: later,
      updatedAt: later,
    });
    expect(event.type).toBe('registration.confirmed');
    expect(event.payload).toMatchObject({ registrationId: 'r', paymentId: 'p', amount: 50_000 });
  });

  it('abandons an attempt that was not paid: FAILED, no payment, with registration.abandoned and the reason', () => {
    const { created, event } = abandon(attemptOf('r', 's-1', lecture), 'PAYMENT_DECLINED', 'l#1', at);
    expect(created).toMatchObject({ status: 'FAILED', paymentId: null, seat: 'l#1' });
    expect(mayView(created, { sub: 's-1', role: 'STUDENT' })).toBe(false);
    expect(event.type).toBe('registration.abandoned');
    expect(event.payload).toEqual({ registrationId: 'r', studentId: 's-1', lectureId: 'l', reason: 'PAYMENT_DECLINED' });
  });

  it('cancels a confirmed registration once: CONFIRMED → CANCELED with registration.canceled carrying the reason and payment', () => {
    const confirmed = confirm(attemptOf('r', 's-1', lecture), 'p', 'l#1', at, at).created;
    const t = cancel(confirmed, 'LECTURE_CANCELED', later)!;
    expect(t.from).toBe('CONFIRMED');
    expect(t.set).toEqual({ status: 'CANCELED', cancellationReason: 'LECTURE_CANCELED', updatedAt: later });
    expect(t.next).toEqual({ ...confirmed, status: 'CANCELED', cancellationReason: 'LECTURE_CANCELED', updatedAt: later });
    expect(t.event.type).toBe('registration.canceled');
    expect(t.event.payload).toMatchObject({ registrationId: 'r', reason: 'LECTURE_CANCELED', paymentId: 'p', instructorId: 'i-1' });
    expect(cancel(t.next, 'STUDENT_REQUEST')).toBeNull();
  });

  it('refuses to cancel what was never confirmed', () => {
    const failed = abandon(attemptOf('r', 's-1', lecture), 'PAYMENT_UNAVAILABLE', null).created;
    expect(err(() => cancel(failed, 'STUDENT_REQUEST'))).toBe('REGISTRATION_NOT_ACTIVE');
  });

  it('cancels at the request of its student or an admin; hides it from other students; forbids the instructor', () => {
    const confirmed = confirm(attemptOf('r', 's-1', lecture), 'p', 'l#1', at, at).created;
    expect(cancelAtRequest(confirmed, { sub: 's-1', role: 'STUDENT' })?.set.cancellationReason).toBe('STUDENT_REQUEST');
    expect(cancelAtRequest(confirmed, { sub: 'a', role: 'ADMIN' })?.next.status).toBe('CANCELED');
    expect(err(() => cancelAtRequest(confirmed, { sub: 's-2', role: 'STUDENT' }))).toBe('NOT_FOUND');
    expect(err(() => cancelAtRequest(confirmed, { sub: 'i-1', role: 'INSTRUCTOR' }))).toBe('FORBIDDEN');
  });

  it('waitlists an attempt that found the lecture full: WAITLISTED, nothing charged, with registration.waitlisted and the position', () => {
    const { created, event } = waitlist(attemptOf('r', 's-1', lecture), 3, at);
    expect(created).toMatchObject({ status: 'WAITLISTED', paymentId: null, seat: null, waitlistedAt: at, seatedAt: null });
    expect(mayView(created, { sub: 's-1', role: 'STUDENT' })).toBe(true);
    expect(event.type).toBe('registration.waitlisted');
    expect(event.payload).toEqual({
      registrationId: 'r',
      studentId: 's-1',
      lectureId: 'l',
      instructorId: 'i-1',
      lectureTitle: 'Graphs',
      position: 3,
    });
  });

  it('enrolls a waitlist place offered a seat once its charge went through: WAITLISTED → CONFIRMED, fromWaitlist', () => {
    const waiting = waitlist(attemptOf('r', 's-1', lecture), 1, at).created;
    const t = enrollFromWaitlist(waiting, 'p', 'l#4', at, later)!;
    expect(t.from).toBe('WAITLISTED');
    expect(t.next).toMatchObject({ status: 'CONFIRMED', paymentId: 'p', seat: 'l#4', seatedAt: at, waitlistedAt: at, updatedAt: later });
    expect(t.event.type).toBe('registration.confirmed');
    expect(t.event.payload).toMatchObject({ registrationId: 'r', paymentId: 'p', amount: 50_000, fromWaitlist: true });
    expect(enrollFromWaitlist(t.next, 'p', 'l#4', at)).toBeNull();
  });

  it('ends a waitlist place (left, lecture canceled, payment declined): WAITLISTED → CANCELED, fromWaitlist, no payment', () => {
    const waiting = waitlist(attemptOf('r', 's-1', lecture), 1, at).created;
    for (const reason of ['STUDENT_REQUEST', 'LECTURE_CANCELED', 'PAYMENT_DECLINED'] as const) {
      const t = cancel(waiting, reason, later)!;
      expect(t.from).toBe('WAITLISTED');
      expect(t.next).toMatchObject({ status: 'CANCELED', cancellationReason: reason });
      expect(t.event.payload).toMatchObject({ registrationId: 'r', reason, paymentId: null, fromWaitlist: true });
    }
    expect(cancelAtRequest(waiting, { sub: 's-1', role: 'STUDENT' })?.from).toBe('WAITLISTED');
    expect(err(() => cancelAtRequest(waiting, { sub: 's-2', role: 'STUDENT' }))).toBe('NOT_FOUND');
  });
});
