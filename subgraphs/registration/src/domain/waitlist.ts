/**
 * The Waitlist aggregate: one lecture's line of students waiting for a seat. No I/O.
 *
 * The line is first come, first served: a place is appended when the lecture is full and the
 * student asked to queue, and its order is the order in which the one writer of the lecture's
 * waitlist (the lecture's lease, see ../application/waitlist-desk.ts) appended them, the same
 * for every registration process. When seats free, they are offered to the first places that
 * have none, in order ({@link offer}); an offered place is charged and then settled, enrolled or
 * dropped, and leaves the line ({@link leave}), and a seat it drops goes to the next in line. A waitlist is bounded
 * (`limit`); a canceled lecture closes it ({@link close}) and takes no one more.
 *
 * Positions count from 1 (next in line) over every place, offered ones first; the line raises
 * `registration.waitlistChanged` whenever who waits, or in what order, changes
 * ({@link changedEvent}).
 */
import { createEvent, type EventEnvelope } from '@courses/contracts';
import type { CatalogLecture } from './registration.js';

/** One student's place in line. */
export interface WaitlistEntry {
  registrationId: string;
  studentId: string;
  /** When the waitlist took it. */
  joinedAt: Date;
  /** The seat offered to it (`<lectureId>#<n>`, already held for it in the seat ledger) and when; null while it waits for one. */
  offer: { seat: string; at: Date } | null;
}

/** A lecture's waitlist. */
export interface Waitlist {
  lectureId: string;
  instructorId: string;
  /** Most places (offered ones included); beyond it the lecture is full. */
  limit: number;
  /** True once the lecture is canceled: no one joins any more. */
  closed: boolean;
  /** The places, first in line first. */
  entries: WaitlistEntry[];
}

/** A seat offered to a place: its registration is to be charged and enrolled. */
export interface SeatOffer {
  lectureId: string;
  registrationId: string;
  studentId: string;
  seat: string;
  /** When it was offered: the registration's `seatedAt` once enrolled. */
  at: Date;
}

/** The empty, open waitlist of `lecture`, holding at most `limit` places. */
export function emptyWaitlist(lecture: Pick<CatalogLecture, 'id' | 'instructorId'>, limit: number): Waitlist {
  return { lectureId: lecture.id, instructorId: lecture.instructorId, limit, closed: false, entries: [] };
}

/** Why a place was not taken. */
export type JoinRefusal = 'full' | 'closed' | 'already-waiting';

/**
 * Appends the place of registration `registrationId` of `studentId`, at `now`.
 * @returns the new waitlist and the place's position (1 = next), or why it was refused: the
 *   line is at its limit (`full`), the lecture is canceled (`closed`), or the student has a place
 *   already (`already-waiting`).
 */
export function join(
  w: Waitlist,
  registrationId: string,
  studentId: string,
  now: Date,
): { next: Waitlist; position: number } | { refused: JoinRefusal } {
  if (w.closed) return { refused: 'closed' };
  if (w.entries.some((e) => e.studentId === studentId)) return { refused: 'already-waiting' };
  if (w.entries.length >= w.limit) return { refused: 'full' };
  const entries = [...w.entries, { registrationId, studentId, joinedAt: now, offer: null }];
  return { next: { ...w, entries }, position: entries.length };
}

/**
 * Takes place `registrationId` out of line: the student left, its offered seat was settled
 * (enrolled, or dropped with the seat given back), or its registration ended otherwise. @returns the new waitlist and the place removed (undefined when it was not there:
 * nothing changes).
 */
export function leave(w: Waitlist, registrationId: string): { next: Waitlist; removed?: WaitlistEntry } {
  const removed = w.entries.find((e) => e.registrationId === registrationId);
  if (!removed) return { next: w };
  return { next: { ...w, entries: w.entries.filter((e) => e !== removed) }, removed };
}

/** Places waiting for a seat, not yet offered one (only those that joined before `since`, when given). */
export function waitingForSeat(w: Waitlist | null | undefined, since?: Date): number {
  return w ? w.entries.filter((e) => !e.offer && (!since || e.joinedAt < since)).length : 0;
}

/**
 * Offers the seats `free` (already held in the seat ledger for the places, in this order) to the
 * first places that have none, at `now`.
 * @returns the new waitlist and the offers made (fewer than `free` when fewer wait).
 */
export function offer(
  w: Waitlist,
  free: readonly { seat: string; registrationId: string }[],
  now: Date,
): { next: Waitlist; offers: SeatOffer[] } {
  const byRegistration = new Map(free.map((f) => [f.registrationId, f.seat]));
  const offers: SeatOffer[] = [];
  const entries = w.entries.map((e) => {
    const seat = byRegistration.get(e.registrationId);
    if (e.offer || !seat) return e;
    offers.push({ lectureId: w.lectureId, registrationId: e.registrationId, studentId: e.studentId, seat, at: now });
    return { ...e, offer: { seat, at: now } };
  });
  return { next: { ...w, entries }, offers };
}

/** The first `n` places waiting for a seat, first in line first: who {@link offer} would give `n` seats to. */
export function nextInLine(w: Waitlist, n: number): WaitlistEntry[] {
  return w.entries.filter((e) => !e.offer).slice(0, Math.max(0, n));
}

/**
 * Closes the waitlist of a canceled lecture: no one joins any more, and every place leaves.
 * @returns the closed, empty waitlist and the places it held.
 */
export function close(w: Waitlist): { next: Waitlist; removed: WaitlistEntry[] } {
  return { next: { ...w, closed: true, entries: [] }, removed: w.entries };
}

/** The position of place `registrationId` (1 = next in line), or null when it is not in line. */
export function positionOf(w: Waitlist | null | undefined, registrationId: string): number | null {
  const i = w ? w.entries.findIndex((e) => e.registrationId === registrationId) : -1;
  return i < 0 ? null : i + 1;
}

/**
 * `registration.waitlistChanged` for the line as it is in `after`, when who waits, or in what
 * order, differs from `before` (offers change no position); null otherwise.
 */
export function changedEvent(before: Waitlist | null, after: Waitlist): EventEnvelope<'registration.waitlistChanged'> | null {
  const ids = (w: Waitlist | null) => (w?.entries ?? []).map((e) => e.registrationId).join(',');
  if (ids(before) === ids(after)) return null;
  return createEvent('registration.waitlistChanged', {
    lectureId: after.lectureId,
    instructorId: after.instructorId,
    waiting: after.entries.map((e) => ({ registrationId: e.registrationId, studentId: e.studentId })),
  });
}
