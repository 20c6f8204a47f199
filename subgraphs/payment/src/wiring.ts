/** Wiring (the composition root) of the payment subgraph. */
import { z } from 'zod';
import {
  chargeSecretOf,
  chargeSecretSetting,
  createSubgraphRuntime,
  loadConfig,
  readSchema,
  startSubgraph,
  subgraphEnv,
  type Bus,
  type RunningSubgraph,
} from '@courses/platform';
import { PaymentService } from './application/payment-service.js';
import { parseLatency } from './domain/payment.js';
import { chargeEndpoint } from './inbound/charge-endpoint.js';
import { startPaymentConsumers } from './inbound/consumers.js';
import { PaymentRepository } from './infrastructure/payment-repository.js';
import { SimulatedProvider } from './infrastructure/simulated-provider.js';
import { paymentResolvers } from './resolvers/index.js';

/** Environment of the payment subgraph (default PORT 4002). */
export const paymentEnv = subgraphEnv.extend({
  /** The secret registration's charges carry (platform's chargeSecretSetting). */
  CHARGE_SECRET: chargeSecretSetting,
  /** Simulated provider latency per charge, ms: "N" or "MIN-MAX" ("400-620" reproduces the original system). */
  PAYMENT_LATENCY_MS: z.string().default('0'),
  /** Comma-separated student ids whose charges the simulated provider declines (e.g. "s-broke"). */
  PAYMENT_DECLINE_STUDENTS: z.string().default(''),
  /**
   * Port of the charge endpoint (`/internal/charges`, for registration) when it must not share the
   * GraphQL port, so that network policies can open it to registration alone; unset, it shares it.
   */
  INTERNAL_PORT: z.coerce.number().int().min(1).max(65535).optional(),
});

/**
 * Starts the payment subgraph from `env` (process.env by default), on `opts.bus` when given (a test's
 * in-memory bus), else on NATS as its own user.
 */
export async function startPaymentService(
  env: Record<string, string | undefined> = process.env,
  opts: { bus?: Bus } = {},
): Promise<RunningSubgraph> {
  const config = loadConfig(paymentEnv, env, { PORT: '4002' });
  const latency = parseLatency(config.PAYMENT_LATENCY_MS);
  const declinedStudents = new Set(
    config.PAYMENT_DECLINE_STUDENTS.split(',')
      .map((s) => s.trim())
      .filter(Boolean),
  );
  const rt = await createSubgraphRuntime('payment', config, opts);
  const repo = new PaymentRepository(rt.conn);
  await repo.model.init();
  const payments = new PaymentService(repo, new SimulatedProvider(latency, declinedStudents), rt.outbox, rt.logger);
  return startSubgraph(rt, {
    typeDefs: readSchema(import.meta.url),
    resolvers: paymentResolvers(payments),
    publishes: 'payment',
    internal: { port: config.INTERNAL_PORT, routes: { '/internal/charges': chargeEndpoint({ payments, secret: chargeSecretOf(config) }) } },
    startConsumers: () => startPaymentConsumers(rt, payments),
  });
}
