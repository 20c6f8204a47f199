/**
 * Every event subscription of the lecture subgraph, in one place.
 * Policy: "when a registration is confirmed or canceled, adjust the lecture's enrolled count".
 */
import { consumeFrom, type OutboxRelay, type RunningConsumer, type SubgraphRuntime } from '@courses/platform';
import type { LectureRepository } from './lecture-repository.js';

/** Starts the durable consumer `lecture-enrolment` on the REGISTRATION stream. */
export async function startLectureConsumers(rt: SubgraphRuntime, repo: LectureRepository, relay?: OutboxRelay): Promise<RunningConsumer[]> {
  const apply = async (lectureId: string, registrationId: string, kind: 'confirmed' | 'canceled') => {
    if (!(await repo.applyEnrolment(lectureId, registrationId, kind))) {
      throw new Error(`lecture ${lectureId} not found (yet)`);
    }
    relay?.kick(repo.model.collection.collectionName, lectureId);
  };
  return [
    await consumeFrom(rt, 'registration', 'lecture-enrolment', {
      'registration.confirmed': (e) => apply(e.payload.lectureId, e.payload.registrationId, 'confirmed'),
      'registration.canceled': (e) => apply(e.payload.lectureId, e.payload.registrationId, 'canceled'),
    }),
  ];
}
