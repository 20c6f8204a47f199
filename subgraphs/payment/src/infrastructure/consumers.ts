/**
 * Every event subscription of the payment subgraph, in one place:
 * - `registration.canceled` → policy: refund the registration's payment;
 * - `registration.abandoned` → policy: void the attempt's payment (refund a late charge).
 */
import { consumeFrom, type OutboxRelay, type RunningConsumer, type SubgraphRuntime } from '@courses/platform';
import type { PaymentRepository } from './payment-repository.js';

/** Starts the durable consumer `payment-refunds` on the REGISTRATION stream. */
export async function startPaymentConsumers(rt: SubgraphRuntime, repo: PaymentRepository, relay: () => OutboxRelay | undefined): Promise<RunningConsumer[]> {
  return [
    await consumeFrom(rt, 'registration', 'payment-refunds', {
      'registration.canceled': async ({ payload: p }) => {
        const payment = await repo.findByRegistration(p.registrationId);
        if (payment && (await repo.refund(payment))) relay()?.kick(repo.model.collection.collectionName, payment.id);
      },
      'registration.abandoned': async ({ payload: p }) => {
        const refunded = await repo.void({ registrationId: p.registrationId, studentId: p.studentId, lectureId: p.lectureId });
        if (refunded) relay()?.kick(repo.model.collection.collectionName, refunded);
      },
    }),
  ];
}
