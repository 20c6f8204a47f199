/**
 * Every event subscription of the registration subgraph, in one place:
 * - `lecture.opened` → add the lecture to the catalog replica;
 * - `lecture.canceled` → policy: cancel the lecture's registrations. Attempts that read the
 *   catalog before it learned of the cancellation may still confirm: the event comes back after
 *   {@link RECHECK_MS}, and again while such attempts are in flight, to cancel those too.
 */
import { consumeFrom, Redeliver, type RunningConsumer, type SubgraphRuntime } from '@courses/platform';
import type { RegistrationService } from '../application/registration-service.js';
import { CATALOG_CACHE_MS, type CatalogRepository } from '../infrastructure/catalog-repository.js';

/** When the lecture-canceled policy looks again (ms): after every cached catalog entry of the lecture expired. */
export const RECHECK_MS = CATALOG_CACHE_MS + 1_000;

/** Starts the durable consumer `registration-catalog` on the LECTURE stream. */
export async function startRegistrationConsumers(
  rt: SubgraphRuntime,
  catalog: CatalogRepository,
  service: RegistrationService,
): Promise<RunningConsumer[]> {
  return [
    await consumeFrom(rt, 'lecture', 'registration-catalog', {
      'lecture.opened': ({ payload: p }) =>
        catalog.addOpened({ id: p.lectureId, title: p.title, instructorId: p.instructorId, capacity: p.capacity, price: p.price }),
      'lecture.canceled': async ({ payload: p }, delivery) => {
        await service.onLectureCanceled(p.lectureId);
        if (delivery.deliveryCount === 1 || (await service.attemptsInFlight(p.lectureId))) throw new Redeliver(RECHECK_MS);
      },
    }),
  ];
}
