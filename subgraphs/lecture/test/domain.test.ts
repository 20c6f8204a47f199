import { describe, expect, it } from 'vitest';
import { applyEnrolments, assertMayManage, cancel, enrolmentEffect, validateNewLecture, LIMITS, RELEASE_MEMORY, type Lecture } from '../src/domain/lecture.js';

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
    expect(enrolmentEffect('confirmed', false, false)).toBe('increment');
    expect(enrolmentEffect('confirmed', true, false)).toBe('none');
    expect(enrolmentEffect('confirmed', false, true)).toBe('none');
    expect(enrolmentEffect('canceled', true, false)).toBe('decrement');
    expect(enrolmentEffect('canceled', false, false)).toBe('remember-release');
    expect(enrolmentEffect('canceled', false, true)).toBe('none');
  });

  it('applies a batch of registration events in order, counting each registration once', () => {
    const state = { enrolledCount: 1, enrolled: ['r0'], released: [] };
    const after = applyEnrolments(state, [
      { kind: 'confirmed', registrationId: 'r1' },
      { kind: 'confirmed', registrationId: 'r1' },
      { kind: 'canceled', registrationId: 'r2' },
      { kind: 'confirmed', registrationId: 'r2' },
      { kind: 'canceled', registrationId: 'r0' },
    ]);
    expect(after).toMatchObject({ enrolledCount: 1, enrolled: ['r1'], released: ['r2', 'r0'], changed: false });
    expect(applyEnrolments(after, [{ kind: 'confirmed', registrationId: 'r0' }]).changed).toBe(false);
    expect(applyEnrolments(after, [{ kind: 'confirmed', registrationId: 'r3' }])).toMatchObject({ enrolledCount: 2, changed: true });
  });

  it('remembers only the most recent releases', () => {
    const many = Array.from({ length: RELEASE_MEMORY + 5 }, (_, i) => ({ kind: 'canceled' as const, registrationId: `r${i}` }));
    const after = applyEnrolments({ enrolledCount: 0, enrolled: [], released: [] }, many);
    expect(after.released).toHaveLength(RELEASE_MEMORY);
    expect(after.released.at(-1)).toBe(`r${RELEASE_MEMORY + 4}`);
  });
});
