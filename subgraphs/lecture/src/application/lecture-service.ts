/**
 * Use cases of the lecture context: open and cancel a lecture, and the policy "when a
 * registration is confirmed or canceled, adjust the lecture's enrolled count". Orchestrates the
 * repository and the outbox; the rules live in ../domain, the I/O in ../infrastructure.
 */
import { DomainError, ErrorCode, newId, type Identity, type Outbox } from '@courses/platform';
import { cancel, open, type Enrolment, type Lecture, type NewLecture } from '../domain/lecture.js';
import { LECTURES, type LectureRepository } from '../infrastructure/lecture-repository.js';

export class LectureService {
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
   * one lecture's registration events, in stream order (see the domain's `applyEnrolments`).
   * @throws Error when the lecture does not exist (yet): its `lecture.opened` write may still be
   *   on its way, so the events are delivered again later.
   */
  async onEnrolments(lectureId: string, changes: readonly Enrolment[]): Promise<void> {
    if (!(await this.lectures.applyEnrolments(lectureId, changes))) throw new Error(`lecture ${lectureId} not found (yet)`);
  }
}
