/**
 * Use cases of the lecture context: open and cancel a lecture, and the policy "when a
 * registration is confirmed or canceled, adjust the lecture's enrolled count". Orchestrates the
 * repository and the outbox; the rules live in ../domain, the I/O in ../infrastructure.
 */
import { DomainError, ErrorCode, newId, type Identity, type Outbox } from '@courses/platform';
import {
  applyEnrolments,
  cancel,
  enrolledCountChanged,
  open,
  type Enrolment,
  type EnrolmentState,
  type Lecture,
  type NewLecture,
} from '../domain/lecture.js';
import { LECTURES, type LectureRepository } from '../infrastructure/lecture-repository.js';

/**
 * How long the enrolment policy keeps a lecture's claim after a change (ms): a lecture taking
 * registrations changes again soon, and a kept claim saves its insert, its delete and a read.
 */
const ENROLMENT_HOLD_MS = 1_000;

export class LectureService {
  /** The enrolment memory of lectures this process wrote last, valid while it holds their claim without a break. */
  private readonly enrolment = new Map<string, EnrolmentState & { instructorId: string }>();

  constructor(
    private readonly lectures: LectureRepository,
    private readonly outbox: Outbox,
  ) {}

  /**
   * Opens a lecture taught by `who` and announces it (`lecture.opened`).
   * @throws DomainError BAD_USER_INPUT naming the offending field.
   */
  open(who: Identity, input: NewLecture): Promise<Lecture> {
    const opened = open(newId(), who.sub, input);
    return this.outbox.change(LECTURES, opened.created.id, async () => {
      await this.lectures.insert(opened);
      return { value: opened.created, events: [opened.event] };
    });
  }

  /**
   * Cancels lecture `id` at the request of `who` (its instructor or an admin), announcing it
   * (`lecture.canceled`); canceling a canceled lecture changes nothing.
   * @returns the lecture as stored after.
   * @throws DomainError NOT_FOUND, FORBIDDEN.
   */
  async cancel(who: Identity, id: string): Promise<Lecture> {
    const lecture = await this.lectures.findById(id);
    if (!lecture) throw new DomainError(ErrorCode.NOT_FOUND, `no lecture ${id}`);
    const canceling = cancel(lecture, who);
    if (!canceling) return lecture;
    return this.outbox.change(LECTURES, id, async (ctx) => {
      if (await this.lectures.apply(canceling, ctx)) return { value: canceling.next, events: [canceling.event] };
      return { value: (await this.lectures.findById(id)) ?? lecture };
    });
  }

  /**
   * Policy "registration confirmed or canceled → adjust the enrolled count": applies a batch of
   * one lecture's registration events, in stream order, each registration at most once whatever
   * the redeliveries or order (the domain's `applyEnrolments`): one read and, when anything
   * changed, one write with one `lecture.enrolledCountChanged` carrying the final count. While
   * this process holds the lecture's claim without a break, it remembers what it wrote and skips
   * the read.
   * @throws Error when the lecture does not exist (yet): its `lecture.opened` write may still be
   *   on its way, so the events are delivered again later.
   */
  async onEnrolments(lectureId: string, changes: readonly Enrolment[]): Promise<void> {
    const found = await this.outbox.change(
      LECTURES,
      lectureId,
      async (ctx) => {
        const state = (ctx.continued ? this.enrolment.get(lectureId) : undefined) ?? (await this.lectures.enrolmentOf(lectureId));
        if (!state) return { value: false };
        const next = applyEnrolments(state, changes);
        this.remember(lectureId, {
          enrolledCount: next.enrolledCount,
          enrolled: next.enrolled,
          released: next.released,
          instructorId: state.instructorId,
        });
        if (!next.touched) return { value: true };
        const event = next.changed
          ? enrolledCountChanged({ id: lectureId, instructorId: state.instructorId }, next.enrolledCount)
          : undefined;
        await this.lectures.storeEnrolment(lectureId, next, event, ctx);
        return { value: true, events: event ? [event] : [] };
      },
      { holdMs: ENROLMENT_HOLD_MS },
    );
    if (!found) throw new Error(`lecture ${lectureId} not found (yet)`);
  }

  /** Keeps the enrolment memory last written, for the next change under the same unbroken claim (at most 1,000 lectures). */
  private remember(lectureId: string, state: EnrolmentState & { instructorId: string }): void {
    this.enrolment.delete(lectureId);
    this.enrolment.set(lectureId, state);
    if (this.enrolment.size > 1_000) this.enrolment.delete(this.enrolment.keys().next().value!);
  }
}
