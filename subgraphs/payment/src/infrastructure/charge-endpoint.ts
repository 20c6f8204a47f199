/**
 * `POST /internal/charges`: the synchronous charge call registration makes (not part of
 * the public GraphQL API; requires the gateway secret like every subgraph call).
 *
 * Request `{ registrationId, studentId, lectureId, amount }` (amount in KRW).
 * Answers 200 `{ paymentId, status: "COMPLETED" }` (also for a repeat: idempotent on
 * registrationId), 402 `{ code: "PAYMENT_DECLINED", message }`, 400 on a bad body, 401
 * without the secret. It waits the simulated provider latency first.
 */
import type { ServerResponse } from 'node:http';
import { z } from 'zod';
import { HEADERS, sendJson, verifyGatewaySecret, type Logger, type OutboxRelay, type RouteHandler } from '@courses/platform';
import { drawLatency, providerDecision, type LatencyRange } from '../domain/payment.js';
import type { PaymentRepository } from './payment-repository.js';

const chargeBody = z.object({
  registrationId: z.string().min(1),
  studentId: z.string().min(1),
  lectureId: z.string().min(1),
  amount: z.number().int().nonnegative(),
});

export interface ChargeEndpointOptions {
  repo: PaymentRepository;
  secret: string;
  latency: LatencyRange;
  /** Student ids whose charges the simulated provider declines. */
  declinedStudents: ReadonlySet<string>;
  relay: () => OutboxRelay | undefined;
  logger: Logger;
}

export function chargeEndpoint(opts: ChargeEndpointOptions): RouteHandler {
  return async (req, res, body) => {
    if (req.method !== 'POST') return false;
    const secret = req.headers[HEADERS.secret];
    if (!verifyGatewaySecret(Array.isArray(secret) ? secret[0] : secret, opts.secret)) {
      return sendJson(res, 401, { code: 'UNAUTHENTICATED', message: 'missing or wrong x-gateway-secret' });
    }
    let input: z.infer<typeof chargeBody>;
    try {
      input = chargeBody.parse(JSON.parse(body.toString('utf8')));
    } catch (err) {
      return sendJson(res, 400, { code: 'BAD_REQUEST', message: (err as Error).message });
    }
    const before = await opts.repo.findByRegistration(input.registrationId);
    if (before) return answerExisting(res, before.status, before.id);

    const wait = drawLatency(opts.latency);
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));

    if (providerDecision(input.studentId, opts.declinedStudents) === 'declined') {
      return sendJson(res, 402, { code: 'PAYMENT_DECLINED', message: 'the card issuer declined the charge' });
    }
    const payment = await opts.repo.recordCharge(input);
    opts.relay()?.kick(opts.repo.model.collection.collectionName, payment.id);
    return answerExisting(res, payment.status, payment.id);
  };
}

function answerExisting(res: ServerResponse, status: string, paymentId: string): void {
  if (status === 'COMPLETED') return sendJson(res, 200, { paymentId, status });
  // VOIDED or REFUNDED: the registration was abandoned; never charge it again.
  return sendJson(res, 402, { code: 'PAYMENT_DECLINED', message: 'this registration attempt was abandoned' });
}
