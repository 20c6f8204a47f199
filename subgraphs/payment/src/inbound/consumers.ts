/**
 * Every event subscription of the payment subgraph, in one place:
 * - `registration.confirmed` → policy: its payment is recorded (a charge answered by a process
 *   that died before storing it is stored now);
 * - `registration.canceled` → policy: refund the registration's payment;
 * - `registration.abandoned` → policy: void the attempt's payment (refund a late charge).
 */
import { consumeFrom, type RunningConsumer, type SubgraphRuntime } from '@courses/platform';
import type { PaymentService } from '../application/payment-service.js';
import { paymentIdOf } from '../domain/payment.js';

/** Starts the durable consumer `payment-refunds` on the REGISTRATION stream. */
export async function startPaymentConsumers(rt: SubgraphRuntime, payments: PaymentService): Promise<RunningConsumer[]> {
  return [
    await consumeFrom(rt, 'registration', 'payment-refunds', {
      'registration.confirmed': async ({ payload: p }, d) => {
        await payments.onRegistrationConfirmed(
          { registrationId: p.registrationId, studentId: p.studentId, lectureId: p.lectureId, amount: p.amount },
          d.deliveryCount > 1,
        );
      },
      'registration.canceled': async ({ payload: p }, d) => {
        const ids = { registrationId: p.registrationId, studentId: p.studentId, lectureId: p.lectureId };
        await payments.onRegistrationCanceled(p.paymentId ?? paymentIdOf(p.registrationId), ids, d.deliveryCount > 1);
      },
      'registration.abandoned': async ({ payload: p }, d) => {
        await payments.onRegistrationAbandoned(
          { registrationId: p.registrationId, studentId: p.studentId, lectureId: p.lectureId },
          d.deliveryCount > 1,
        );
      },
    }),
  ];
}
