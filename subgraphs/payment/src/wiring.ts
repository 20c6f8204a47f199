/** Wiring (the composition root) of the payment subgraph. */
import { z } from 'zod';
import { createSubgraphRuntime, loadConfig, readSchema, startSubgraph, subgraphEnv, type RunningSubgraph } from '@courses/platform';
import { parseLatency } from './domain/payment.js';
import { chargeEndpoint } from './infrastructure/charge-endpoint.js';
import { startPaymentConsumers } from './infrastructure/consumers.js';
import { PaymentRepository, type ChargeInput } from './infrastructure/payment-repository.js';
import { SimulatedProvider } from './infrastructure/simulated-provider.js';
import { paymentResolvers } from './resolvers/index.js';

/** Environment of the payment subgraph (default PORT 4002). */
export const paymentEnv = subgraphEnv.extend({
  /** Simulated provider latency per charge, ms: "N" or "MIN-MAX" ("400-620" reproduces the original system). */
  PAYMENT_LATENCY_MS: z.string().default('0'),
  /** Comma-separated student ids whose charges the simulated provider declines (e.g. "s-broke"). */
  PAYMENT_DECLINE_STUDENTS: z.string().default(''),
});

/** Starts the payment subgraph from `env` (process.env by default). */
export async function startPaymentService(env: Record<string, string | undefined> = process.env): Promise<RunningSubgraph> {
  const config = loadConfig(paymentEnv, env, { PORT: '4002' });
  const latency = parseLatency(config.PAYMENT_LATENCY_MS);
  const declinedStudents = new Set(config.PAYMENT_DECLINE_STUDENTS.split(',').map((s) => s.trim()).filter(Boolean));
  const rt = await createSubgraphRuntime('payment', config);
  const repo = new PaymentRepository(rt.conn, rt.outbox, rt.logger);
  await repo.model.init();
  const provider = new SimulatedProvider(latency, declinedStudents);
  rt.outbox.recoverWith('payments', (id, data, ctx) => repo.recoverCharge(id, data as ChargeInput | undefined, provider, ctx));
  return startSubgraph(rt, {
    typeDefs: readSchema(import.meta.url),
    resolvers: paymentResolvers(repo),
    publishes: 'payment',
    routes: { '/internal/charges': chargeEndpoint({ repo, provider, secret: config.GATEWAY_SECRET }) },
    startConsumers: () => startPaymentConsumers(rt, repo, provider),
  });
}
