/**
 * Every event subscription of the lecture subgraph, in one place.
 * Policy: "when a registration is confirmed or canceled, adjust the lecture's enrolled count" (a
 * waitlist place that ends was never counted: it changes nothing).
 * The consumer takes the events of a pull together and writes each lecture once for them.
 */
import { consumeFrom, type RunningConsumer, type SubgraphRuntime } from '@courses/platform';
import type { LectureService } from '../application/lecture-service.js';
import type { Enrolment } from '../domain/lecture.js';

/** Starts the durable consumer `lecture-enrolment` on the REGISTRATION stream. */
export async function startLectureConsumers(rt: SubgraphRuntime, lectures: LectureService): Promise<RunningConsumer[]> {
  return [
    await consumeFrom(rt, 'registration', 'lecture-enrolment', {
      types: ['registration.confirmed', 'registration.canceled'],
      // Events trickling in wait up to 200 ms for company: one write per lecture and batch (the
      // count is that much later; live updates reach clients through lectureUpdated).
      lingerMs: 200,
      async handle(events) {
        const byLecture = new Map<string, Enrolment[]>();
        for (const e of events) {
          const p = e.payload as { lectureId: string; registrationId: string; fromWaitlist?: boolean };
          if (e.type === 'registration.canceled' && p.fromWaitlist) continue;
          const list = byLecture.get(p.lectureId) ?? [];
          list.push({ kind: e.type === 'registration.confirmed' ? 'confirmed' : 'canceled', registrationId: p.registrationId });
          byLecture.set(p.lectureId, list);
        }
        await Promise.all([...byLecture].map(([lectureId, changes]) => lectures.onEnrolments(lectureId, changes)));
      },
    }),
  ];
}
