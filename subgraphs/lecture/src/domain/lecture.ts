/**
 * The Lecture aggregate: the rules for opening, canceling and counting enrolments.
 * Pure functions, no I/O: {@link open} and {@link cancel} return the new state and the event it
 * raises, {@link applyEnrolments} the new count; the repository stores them in one write each.
 * Refusals are {@link DomainError}s.
 */
import { createEvent, type EventEnvelope } from '@courses/contracts';
import { DomainError, ErrorCode, transition, type Created, type Identity, type Transition } from '@courses/platform';

export type LectureStatus = 'OPEN' | 'CANCELED';

/** A lecture as the domain sees it. Money in KRW, counts in seats. */
export interface Lecture {
  id: string;
  title: string;
  instructorId: string;
  capacity: number;
  price: number;
  status: LectureStatus;
  /** Confirmed registrations known to this side. */
  enrolledCount: number;
  createdAt: Date;
  updatedAt: Date;
}

/** Limits on a new lecture. */
export const LIMITS = { titleMax: 200, capacityMax: 10_000, priceMax: 100_000_000 } as const;

/** Validated input of {@link validateNewLecture}. */
export interface NewLecture {
  title: string;
  capacity: number;
  price: number;
}

/** BAD_USER_INPUT naming the offending `field`. */
const badInput = (field: keyof NewLecture, message: string) => new DomainError(ErrorCode.BAD_USER_INPUT, message, { field });

/**
 * Validates and normalises (trims the title) an openLecture input.
 * @throws DomainError BAD_USER_INPUT naming the first offending field in `details.field`.
 */
export function validateNewLecture(input: { title: string; capacity: number; price: number }): NewLecture {
  const title = input.title.trim();
  if (title.length === 0) throw badInput('title', 'title must not be empty');
  if (title.length > LIMITS.titleMax) throw badInput('title', `title must be at most ${LIMITS.titleMax} characters`);
  if (!Number.isInteger(input.capacity) || input.capacity < 1 || input.capacity > LIMITS.capacityMax) {
    throw badInput('capacity', `capacity must be a whole number from 1 to ${LIMITS.capacityMax}`);
  }
  if (!Number.isInteger(input.price) || input.price < 0 || input.price > LIMITS.priceMax) {
    throw badInput('price', `price must be a whole number of KRW from 0 to ${LIMITS.priceMax}`);
  }
  return { title, capacity: input.capacity, price: input.price };
}

/** @throws DomainError FORBIDDEN unless `who` is the lecture's instructor or an admin. */
export function assertMayManage(lecture: Pick<Lecture, 'instructorId'>, who: Identity): void {
  if (who.role !== 'ADMIN' && !(who.role === 'INSTRUCTOR' && who.sub === lecture.instructorId)) {
    throw new DomainError(ErrorCode.FORBIDDEN, "only the lecture's instructor or an admin may do this");
  }
}

/**
 * A new OPEN lecture `id` of instructor `instructorId`, with no one enrolled; raises `lecture.opened`.
 * @throws DomainError BAD_USER_INPUT (see {@link validateNewLecture}).
 */
export function open(
  id: string,
  instructorId: string,
  input: NewLecture,
  now = new Date(),
): Created<Lecture, EventEnvelope<'lecture.opened'>> {
  const valid = validateNewLecture(input);
  const created: Lecture = { id, instructorId, ...valid, status: 'OPEN', enrolledCount: 0, createdAt: now, updatedAt: now };
  return { created, event: createEvent('lecture.opened', { lectureId: id, instructorId, ...valid }) };
}

/**
 * OPEN → CANCELED at the request of `who`; raises `lecture.canceled`, on which registration
 * cancels the lecture's registrations.
 * @returns null when it is CANCELED already (canceling twice changes nothing).
 * @throws DomainError FORBIDDEN unless `who` is the lecture's instructor or an admin.
 */
export function cancel(lecture: Lecture, who: Identity, now = new Date()): Transition<Lecture, EventEnvelope<'lecture.canceled'>> | null {
  assertMayManage(lecture, who);
  if (lecture.status === 'CANCELED') return null;
  return transition(lecture, 'OPEN', { status: 'CANCELED' }, now, () =>
    createEvent('lecture.canceled', { lectureId: lecture.id, instructorId: lecture.instructorId }),
  );
}

/** `lecture.enrolledCountChanged`: the lecture's enrolled count is now `enrolledCount` (seats). */
export function enrolledCountChanged(
  lecture: Pick<Lecture, 'id' | 'instructorId'>,
  enrolledCount: number,
): EventEnvelope<'lecture.enrolledCountChanged'> {
  return createEvent('lecture.enrolledCountChanged', { lectureId: lecture.id, instructorId: lecture.instructorId, enrolledCount });
}

/**
 * The enrolled-count effect of a registration event, given whether the registration is already
 * counted and whether it was already released (canceled):
 * - confirmed: +1 unless counted or released before (a late, reordered confirmation);
 * - canceled: -1 when counted; otherwise only remembered as released.
 */
export function enrolmentEffect(
  kind: 'confirmed' | 'canceled',
  counted: boolean,
  released: boolean,
): 'increment' | 'decrement' | 'remember-release' | 'none' {
  if (kind === 'confirmed') return counted || released ? 'none' : 'increment';
  if (counted) return 'decrement';
  return released ? 'none' : 'remember-release';
}

/** A registration event as the enrolled count sees it. */
export interface Enrolment {
  kind: 'confirmed' | 'canceled';
  registrationId: string;
}

/** The stored memory behind a lecture's enrolled count. */
export interface EnrolmentState {
  enrolledCount: number;
  /** Registration ids counted in enrolledCount (at most the capacity). */
  enrolled: string[];
  /** Registration ids canceled, newest last, at most {@link RELEASE_MEMORY} of them. */
  released: string[];
}

/**
 * How many canceled registration ids a lecture remembers. A confirmation can reach the count
 * after its cancellation only through a redelivery (a failed or timed-out first delivery), which
 * JetStream retries within about maxDeliver × (ack wait + backoff) ≈ 7 minutes; the memory has
 * to cover the cancellations of one lecture in that time, not all of them forever.
 */
export const RELEASE_MEMORY = 1_000;

/**
 * Applies registration events, in stream order, to a lecture's enrolled count: each
 * registration counts at most once, whatever the duplicates or reordering (see {@link enrolmentEffect}).
 * @returns the new state; `changed` when the count changed, `touched` when anything did.
 */
export function applyEnrolments(
  state: EnrolmentState,
  changes: readonly Enrolment[],
): EnrolmentState & { changed: boolean; touched: boolean } {
  const enrolled = new Set(state.enrolled);
  const released = [...state.released];
  const releasedSet = new Set(released);
  let count = state.enrolledCount;
  let touched = false;
  for (const c of changes) {
    const effect = enrolmentEffect(c.kind, enrolled.has(c.registrationId), releasedSet.has(c.registrationId));
    if (effect !== 'none') touched = true;
    if (effect === 'increment') {
      enrolled.add(c.registrationId);
      count++;
    } else if (effect === 'decrement' || effect === 'remember-release') {
      if (effect === 'decrement') {
        enrolled.delete(c.registrationId);
        count--;
      }
      released.push(c.registrationId);
      releasedSet.add(c.registrationId);
    }
  }
  return {
    enrolledCount: count,
    enrolled: [...enrolled],
    released: released.slice(-RELEASE_MEMORY),
    changed: count !== state.enrolledCount,
    touched,
  };
}
