import { describe, expect, it } from 'vitest';
import { assertMayManage, cancel, enrolmentEffect, validateNewLecture, LIMITS, type Lecture } from '../src/domain/lecture.js';

const code = (fn: () => unknown) => {
  try {
    fn();
  } catch (e) {
    return (e as { extensions?: { code?: string; field?: string } }).extensions;
  }
  return undefined;
};

describe('Lecture aggregate', () => {
  it('validates and trims a new lecture', () => {
    expect(validateNewLecture({ title: '  Graphs ', capacity: 3, price: 0 })).toEqual({ title: 'Graphs', capacity: 3, price: 0 });
    expect(code(() => validateNewLecture({ title: 'x'.repeat(LIMITS.titleMax + 1), capacity: 3, price: 0 }))).toMatchObject({ code: 'BAD_USER_INPUT', field: 'title' });
    expect(code(() => validateNewLecture({ title: 'ok', capacity: LIMITS.capacityMax + 1, price: 0 }))).toMatchObject({ field: 'capacity' });
    expect(code(() => validateNewLecture({ title: 'ok', capacity: 1, price: 0.5 }))).toMatchObject({ field: 'price' });
  });

  it('lets the owning instructor or an admin manage, nobody else', () => {
    const l = { instructorId: 'i-1' };
    expect(code(() => assertMayManage(l, { sub: 'i-1', role: 'INSTRUCTOR' }))).toBeUndefined();
    expect(code(() => assertMayManage(l, { sub: 'x', role: 'ADMIN' }))).toBeUndefined();
    expect(code(() => assertMayManage(l, { sub: 'i-2', role: 'INSTRUCTOR' }))?.code).toBe('FORBIDDEN');
    expect(code(() => assertMayManage(l, { sub: 'i-1', role: 'STUDENT' }))?.code).toBe('FORBIDDEN');
  });

  it('cancels an open lecture once', () => {
    expect(cancel({ status: 'OPEN' } as Lecture).changed).toBe(true);
    expect(cancel({ status: 'CANCELED' } as Lecture).changed).toBe(false);
  });

  it('applies each registration to the enrolled count at most once, in any order', () => {
    expect(enrolmentEffect('confirmed', 'r', [], [])).toBe('increment');
    expect(enrolmentEffect('confirmed', 'r', ['r'], [])).toBe('none');
    expect(enrolmentEffect('confirmed', 'r', [], ['r'])).toBe('none');
    expect(enrolmentEffect('canceled', 'r', ['r'], [])).toBe('decrement');
    expect(enrolmentEffect('canceled', 'r', [], [])).toBe('remember-release');
    expect(enrolmentEffect('canceled', 'r', [], ['r'])).toBe('none');
  });
});
