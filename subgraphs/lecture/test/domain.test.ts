import { describe, expect, it } from 'vitest';
import { DomainError } from '@courses/platform';
import {
  applyEnrolments,
  assertMayManage,
  cancel,
  enrolledCountChanged,
  enrolmentEffect,
  LIMITS,
  open,
  RELEASE_MEMORY,
  validateNewLecture,
} from '../src/domain/lecture.js';

/** The code and details of the DomainError `fn` throws; undefined when it throws none. */
const code = (fn: () => unknown) => {
  try {
    fn();
  } catch (e) {
    if (!(e instanceof DomainError)) throw e;
    return { code: e.code, ...e.details };
  }
  return undefined;
};
const kim = { sub: 'i-1', role: 'INSTRUCTOR' as const };
const at = new Date('2026-11-22T00:00:00Z');

describe('Lecture aggregate', () => {
  it('validates and trims a new lecture', () => {
    expect(validateNewLecture({ title: '  Graphs ', capacity: 3, price: 0 })).toEqual({ title: 'Graphs', capacity: 3, price: 0 });
    expect(code(() => validateNewLecture({ title: 'x'.repeat(LIMITS.titleMax + 1), capacity: 3, price: 0 }))).toMatchObject({
      code: 'BAD_USER_INPUT',
      field: 'title',
    });
    expect(code(() => validateNewLecture({ title: 'ok', capacity: LIMITS.capacityMax + 1, price: 0 }))).toMatchObject({
      field: 'capacity',
    });
    expect(code(() => validateNewLecture({ title: 'ok', capacity: 1, price: 0.5 }))).toMatchObject({ field: 'price' });
  });

  it('lets the owning instructor or an admin manage, nobody else', () => {
    const l = { instructorId: 'i-1' };
    expect(code(() => assertMayManage(l, { sub: 'i-1', role: 'INSTRUCTOR' }))).toBeUndefined();
    expect(code(() => assertMayManage(l, { sub: 'x', role: 'ADMIN' }))).toBeUndefined();
    expect(code(() => assertMayManage(l, { sub: 'i-2', role: 'INSTRUCTOR' }))?.code).toBe('FORBIDDEN');
    expect(code(() => assertMayManage(l, { sub: 'i-1', role: 'STUDENT' }))?.code).toBe('FORBIDDEN');
  });

  it('opens a validated lecture, nobody enrolled, with lecture.opened', () => {
    const { created, event } = open('l', 'i-1', { title: ' Graphs ', capacity: 3, price: 1_000 }, at);
    expect(created).toEqual({
      id: 'l',
      instructorId: 'i-1',
      title: 'Graphs',
      capacity: 3,
      price: 1_000,
      status: 'OPEN',
      enrolledCount: 0,
      createdAt: at,
      updatedAt: at,
    });
    expect(event.type).toBe('lecture.opened');
    expect(event.payload).toEqual({ lectureId: 'l', instructorId: 'i-1', title: 'Graphs', capacity: 3, price: 1_000 });
    expect(code(() => open('l', 'i-1', { title: '', capacity: 3, price: 0 }))).toMatchObject({ code: 'BAD_USER_INPUT', field: 'title' });
  });

  it('cancels an open lecture once, at the request of its instructor or an admin, with lecture.canceled', () => {
    const lecture = open('l', 'i-1', { title: 'Graphs', capacity: 3, price: 0 }, at).created;
    const later = new Date('2026-11-22T01:00:00Z');
    const t = cancel(lecture, kim, later)!;
    expect(t).toMatchObject({
      from: 'OPEN',
      set: { status: 'CANCELED', updatedAt: later },
      next: { ...lecture, status: 'CANCELED', updatedAt: later },
    });
    expect(t.event.type).toBe('lecture.canceled');
    expect(t.event.payload).toEqual({ lectureId: 'l', instructorId: 'i-1' });
    expect(cancel(t.next, kim)).toBeNull();
    expect(cancel(lecture, { sub: 'x', role: 'ADMIN' })?.next.status).toBe('CANCELED');
    expect(code(() => cancel(lecture, { sub: 'i-2', role: 'INSTRUCTOR' }))?.code).toBe('FORBIDDEN');
    expect(code(() => cancel(t.next, { sub: 's-1', role: 'STUDENT' }))?.code).toBe('FORBIDDEN');
  });

  it('announces a new enrolled count with its instructor', () => {
    const e = enrolledCountChanged({ id: 'l', instructorId: 'i-1' }, 2);
    expect(e.type).toBe('lecture.enrolledCountChanged');
    expect(e.payload).toEqual({ lectureId: 'l', instructorId: 'i-1', enrolledCount: 2 });
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
