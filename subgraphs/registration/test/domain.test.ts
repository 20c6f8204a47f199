import { describe, expect, it } from 'vitest';
import { assertMayCancel, assertOpen, closedKey, liveKey, mayListLectureRegistrations, mayView, mayViewPayment, type CatalogLecture } from '../src/domain/registration.js';

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

  it('allows one live registration per student and lecture, any number of closed ones', () => {
    expect(liveKey('s', 'l')).toBe(liveKey('s', 'l'));
    expect(closedKey('s', 'l', 'r1')).not.toBe(closedKey('s', 'l', 'r2'));
    expect(closedKey('s', 'l', 'r1')).not.toBe(liveKey('s', 'l'));
  });

  it('accepts registrations only for open lectures', () => {
    const l: CatalogLecture = { id: 'l', title: 'T', instructorId: 'i-1', capacity: 1, price: 0, status: 'OPEN' };
    expect(err(() => assertOpen(l))).toBeUndefined();
    expect(err(() => assertOpen({ ...l, status: 'CANCELED' }))).toBe('LECTURE_NOT_OPEN');
    expect(mayListLectureRegistrations(l, { sub: 'i-1', role: 'INSTRUCTOR' })).toBe(true);
    expect(mayListLectureRegistrations(l, { sub: 's-1', role: 'STUDENT' })).toBe(false);
  });
});
