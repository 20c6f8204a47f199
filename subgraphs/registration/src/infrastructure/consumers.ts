/**
 * Every event subscription of the registration subgraph, in one place:
 * - `lecture.opened` → add the lecture to the catalog replica;
 * - `lecture.canceled` → policy: cancel the lecture's registrations.
 */
import { consumeFrom, type RunningConsumer, type SubgraphRuntime } from '@courses/platform';
import type { RegistrationService } from '../application/registration-service.js';
import type { CatalogRepository } from './catalog-repository.js';

/** Starts the durable consumer `registration-catalog` on the LECTURE stream. */
export async function startRegistrationConsumers(rt: SubgraphRuntime, catalog: CatalogRepository, service: RegistrationService): Promise<RunningConsumer[]> {
  return [
    await consumeFrom(rt, 'lecture', 'registration-catalog', {
      'lecture.opened': ({ payload: p }) =>
        catalog.addOpened({ id: p.lectureId, title: p.title, instructorId: p.instructorId, capacity: p.capacity, price: p.price }),
      'lecture.canceled': async ({ payload: p }) => {
        await service.onLectureCanceled(p.lectureId);
      },
    }),
  ];
}
