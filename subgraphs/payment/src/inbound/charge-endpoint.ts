/**
 * `POST /internal/charges`: the synchronous charge call registration makes (not part of
 * the public GraphQL API; requires the gateway secret like every subgraph call).
 *
 * Request `{ registrationId, studentId, lectureId, amount }` (amount in KRW).
 * Answers 200 `{ paymentId, status: "COMPLETED" }` once the provider approved (idempotent on
 * registrationId: the payment id derives from it), 402 `{ code: "PAYMENT_DECLINED", message }`,
 * 400 on a bad body, 401 without the secret. An HTTP adapter only: the use case is
 * PaymentService.charge, which stores the payment under its outbox claim while and after the
 * provider works, so the caller waits for the provider only. Answers carry `Server-Timing: provider;dur=<ms>` (W3C Server Timing), the
 * provider's share of the call: the caller tells from it how much time its own side added.
 */
import { z } from 'zod';
import { HEADERS, sameSecret, sendJson, type RouteHandler } from '@courses/platform';
import type { PaymentService } from '../application/payment-service.js';

const chargeBody = z.object({
  registrationId: z.string().min(1),
  studentId: z.string().min(1),
  lectureId: z.string().min(1),
  amount: z.number().int().nonnegative(),
});

export interface ChargeEndpointOptions {
  payments: PaymentService;
  /** The charge secret every call must carry in `x-gateway-secret` (CHARGE_SECRET, platform's service-secrets.ts). */
  secret: string;
}

/** The route handler of `POST /internal/charges` (see above). */
export function chargeEndpoint(opts: ChargeEndpointOptions): RouteHandler {
  return async (req, res, body) => {
    if (req.method !== 'POST') return false;
    const secret = req.headers[HEADERS.secret];
    if (!sameSecret(Array.isArray(secret) ? secret[0] : secret, opts.secret)) {
      return sendJson(res, 401, { code: 'UNAUTHENTICATED', message: 'missing or wrong x-gateway-secret (the charge secret)' });
    }
    let input: z.infer<typeof chargeBody>;
    try {
      input = chargeBody.parse(JSON.parse(body.toString('utf8')));
    } catch (err) {
      return sendJson(res, 400, { code: 'BAD_REQUEST', message: (err as Error).message });
    }
    const result = await opts.payments.charge(input);
    const timing = { 'server-timing': `provider;dur=${result.providerMs.toFixed(1)}` };
    if (result.decision === 'declined')
      return sendJson(res, 402, { code: 'PAYMENT_DECLINED', message: 'the card issuer declined the charge' }, timing);
    return sendJson(res, 200, { paymentId: result.paymentId, status: 'COMPLETED' }, timing);
  };
}
