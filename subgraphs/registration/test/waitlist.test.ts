/** The Waitlist aggregate (../src/domain/waitlist.ts): every transition, no I/O. */
import { describe, expect, it } from 'vitest';
import {
  changedEvent,
  close,
  emptyWaitlist,
  join,
  leave,
  nextInLine,
  offer,
  positionOf,
  waitingForSeat,
  type Waitlist,
} from '../src/domain/waitlist.js';

const lecture = { id: 'l', instructorId: 'i-1' };
const at = new Date('2026-12-07T00:00:00Z');

/** A line of `students` (registration `r-<s>` of student `<s>`), in this order. */
function lineOf(limit: number, ...students: string[]): Waitlist {
  let w = emptyWaitlist(lecture, limit);
  for (const s of students) {
    const r = join(w, `r-${s}`, s, at);
    if ('refused' in r) throw new Error(r.refused);
    w = r.next;
  }
  return w;
}

describe('Waitlist', () => {
  it('takes places first come, first served, each at the next position', () => {
    const w = emptyWaitlist(lecture, 3);
    const a = join(w, 'r-a', 'a', at);
    expect(a).toMatchObject({ position: 1 });
    const b = join((a as { next: Waitlist }).next, 'r-b', 'b', at);
    expect(b).toMatchObject({ position: 2 });
    const line = (b as { next: Waitlist }).next;
    expect(line.entries.map((e) => e.registrationId)).toEqual(['r-a', 'r-b']);
    expect(positionOf(line, 'r-b')).toBe(2);
    expect(positionOf(line, 'r-x')).toBeNull();
    expect(w.entries).toEqual([]); // the old state is untouched
  });

  it('refuses a place beyond its limit, a second place of one student, and any place once closed', () => {
    expect(join(lineOf(2, 'a', 'b'), 'r-c', 'c', at)).toEqual({ refused: 'full' });
    expect(join(lineOf(2, 'a'), 'r-a2', 'a', at)).toEqual({ refused: 'already-waiting' });
    expect(join(close(lineOf(2, 'a')).next, 'r-c', 'c', at)).toEqual({ refused: 'closed' });
    expect(join(emptyWaitlist(lecture, 0), 'r-a', 'a', at)).toEqual({ refused: 'full' });
  });

  it('moves everyone behind up when a place leaves; leaving twice changes nothing', () => {
    const { next, removed } = leave(lineOf(5, 'a', 'b', 'c'), 'r-a');
    expect(removed?.studentId).toBe('a');
    expect(positionOf(next, 'r-b')).toBe(1);
    expect(positionOf(next, 'r-c')).toBe(2);
    expect(leave(next, 'r-a')).toEqual({ next });
  });

  it('offers freed seats to the first places without one, in order, and counts who still waits for a seat', () => {
    const w = lineOf(5, 'a', 'b', 'c');
    expect(waitingForSeat(w)).toBe(3);
    expect(nextInLine(w, 2).map((e) => e.registrationId)).toEqual(['r-a', 'r-b']);
    const { next, offers } = offer(w, [{ seat: 'l#7', registrationId: 'r-a' }], at);
    expect(offers).toEqual([{ lectureId: 'l', registrationId: 'r-a', studentId: 'a', seat: 'l#7', at }]);
    expect(waitingForSeat(next)).toBe(2);
    expect(nextInLine(next, 5).map((e) => e.registrationId)).toEqual(['r-b', 'r-c']);
    // An offered place keeps its position until it is settled.
    expect(positionOf(next, 'r-a')).toBe(1);
    // Offering again does not give it a second seat.
    expect(offer(next, [{ seat: 'l#8', registrationId: 'r-a' }], at).offers).toEqual([]);
    expect(waitingForSeat(null)).toBe(0);
    // Only those in line before a moment count against an attempt that came at that moment.
    expect(waitingForSeat(next, at)).toBe(0);
    expect(waitingForSeat(next, new Date(at.getTime() + 1))).toBe(2);
  });

  it('settles an offered place by taking it out of line', () => {
    const offered = offer(lineOf(5, 'a', 'b'), [{ seat: 'l#7', registrationId: 'r-a' }], at).next;
    const { next, removed } = leave(offered, 'r-a');
    expect(removed?.offer).toEqual({ seat: 'l#7', at });
    expect(positionOf(next, 'r-b')).toBe(1);
  });

  it('closes with the lecture: empty, refusing places, handing back the places it held', () => {
    const { next, removed } = close(lineOf(5, 'a', 'b'));
    expect(next).toMatchObject({ closed: true, entries: [] });
    expect(removed.map((e) => e.studentId)).toEqual(['a', 'b']);
  });

  it('raises registration.waitlistChanged with the whole line when who waits, or in what order, changes; not for an offer', () => {
    const before = lineOf(5, 'a');
    const after = lineOf(5, 'a', 'b');
    const e = changedEvent(before, after)!;
    expect(e.type).toBe('registration.waitlistChanged');
    expect(e.payload).toEqual({
      lectureId: 'l',
      instructorId: 'i-1',
      waiting: [
        { registrationId: 'r-a', studentId: 'a' },
        { registrationId: 'r-b', studentId: 'b' },
      ],
    });
    expect(e.correlation).toMatchObject({ lectureId: 'l', instructorId: 'i-1' });
    expect(changedEvent(null, emptyWaitlist(lecture, 5))).toBeNull();
    expect(changedEvent(after, offer(after, [{ seat: 'l#1', registrationId: 'r-a' }], at).next)).toBeNull();
    expect(changedEvent(after, leave(after, 'r-a').next)?.payload.waiting).toEqual([{ registrationId: 'r-b', studentId: 'b' }]);
  });
});
