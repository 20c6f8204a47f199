import { describe, expect, it } from 'vitest';
import { assertMayCancel, assertOpen, attemptOf, confirmedEvent, liveKey, mayListLectureRegistrations, mayView, mayViewPayment, seatId, type CatalogLecture } from '../src/domain/registration.js';

const reg = { studentId: 's-1', instructorId: 'i-1', status: 'CONFIRMED' as const };
const err = (fn: () => unknown) => {
  try {
    fn();
  } catch (e) {
    return (e as { extensions: { code: string } }).extensions.code;
  }
};

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

  it('keys one live registration per student and lecture, and numbered seats per lecture', () => {
    expect(liveKey('s', 'l')).toBe(liveKey('s', 'l'));
    expect(liveKey('s', 'l')).not.toBe(liveKey('s', 'l2'));
    expect(seatId('l', 3)).toBe('l#3');
  });

  it('describes a paid attempt in registration.confirmed, with the price charged', () => {
    const lecture: CatalogLecture = { id: 'l', title: 'Graphs', instructorId: 'i-1', capacity: 1, price: 50_000, status: 'OPEN' };
    const attempt = attemptOf('r', 's-1', lecture);
    const e = confirmedEvent(attempt, 'p');
    expect(e.type).toBe('registration.confirmed');
    expect(e.payload).toEqual({ registrationId: 'r', studentId: 's-1', lectureId: 'l', instructorId: 'i-1', lectureTitle: 'Graphs', paymentId: 'p', amount: 50_000 });
    expect(e.correlation).toMatchObject({ registrationId: 'r', lectureId: 'l', paymentId: 'p' });
  });

  it('accepts registrations only for open lectures', () => {
    const l: CatalogLecture = { id: 'l', title: 'T', instructorId: 'i-1', capacity: 1, price: 0, status: 'OPEN' };
    expect(err(() => assertOpen(l))).toBeUndefined();
    expect(err(() => assertOpen({ ...l, status: 'CANCELED' }))).toBe('LECTURE_NOT_OPEN');
    expect(mayListLectureRegistrations(l, { sub: 'i-1', role: 'INSTRUCTOR' })).toBe(true);
    expect(mayListLectureRegistrations(l, { sub: 's-1', role: 'STUDENT' })).toBe(false);
  });
});
