/** Wiring (the composition root) of the registration subgraph. */
import { Counter, Gauge } from 'prom-client';
import { z } from 'zod';
import {
  chargeSecretOf,
  chargeSecretSetting,
  createSubgraphRuntime,
  loadConfig,
  readSchema,
  startSubgraph,
  subgraphEnv,
  watchEventLoop,
  type Bus,
  type RunningSubgraph,
} from '@courses/platform';
import { Admission } from './application/admission.js';
import { Promotions } from './application/promotions.js';
import { RegistrationService } from './application/registration-service.js';
import { SeatKnowledge } from './application/seat-knowledge.js';
import { WaitlistDesk } from './application/waitlist-desk.js';
import type { CatalogLecture } from './domain/registration.js';
import { startRegistrationConsumers } from './inbound/consumers.js';
import { CatalogRepository } from './infrastructure/catalog-repository.js';
import { PaymentClient } from './infrastructure/payment-client.js';
import { RegistrationRepository } from './infrastructure/registration-repository.js';
import { SeatRepository } from './infrastructure/seat-repository.js';
import { WaitlistRepository } from './infrastructure/waitlist-repository.js';
import { registrationResolvers } from './resolvers/index.js';

/**
 * Environment of the registration subgraph (default PORT 4001). Its deadlines (PAYMENT_TIMEOUT_MS,
 * PENDING_TIMEOUT_MS, REGISTRATION_QUEUE_MS) are the platform's timing budget, checked as a whole.
 */
export const registrationEnv = subgraphEnv.extend({
  /** The secret this service's charges carry to payment (platform's chargeSecretSetting). */
  CHARGE_SECRET: chargeSecretSetting,
  /** Base URL of the payment service (its charge endpoint is `<PAYMENT_URL>/internal/charges`). */
  PAYMENT_URL: z.string().url().default('http://127.0.0.1:4002'),
  /** How long an open breaker fails fast before probing, ms. */
  PAYMENT_BREAKER_RESET_MS: z.coerce.number().int().positive().default(5_000),
  /**
   * Most registrations in progress at once per process (seat taken, payment in flight), and the
   * most payment calls in flight; the admission limit adapts below it (see AdaptiveLimit).
   */
  REGISTRATION_CONCURRENCY: z.coerce.number().int().positive().default(64),
  /** Event-loop delay (99th percentile over 0.5 s, ms) above which registration admits fewer at once. */
  REGISTRATION_LAG_LIMIT_MS: z.coerce.number().int().positive().default(100),
  /**
   * Most places in a lecture's waitlist (0: no waitlist). Unset: as many as the lecture has
   * seats. At most 10,000.
   */
  WAITLIST_MAX: z.coerce.number().int().nonnegative().max(10_000).optional(),
});

/** A running registration subgraph, with its use cases exposed for tests and tools. */
export interface RunningRegistration extends RunningSubgraph {
  service: RegistrationService;
  payment: PaymentClient;
  promotions: Promotions;
}

/**
 * Starts the registration subgraph from `env` (process.env by default), on `opts.bus` when given (a test's
 * in-memory bus), else on NATS as its own user.
 */
export async function startRegistrationService(
  env: Record<string, string | undefined> = process.env,
  opts: { bus?: Bus } = {},
): Promise<RunningRegistration> {
  const config = loadConfig(registrationEnv, env, { PORT: '4001' });
  const rt = await createSubgraphRuntime('registration', config, opts);
  const registrations = new RegistrationRepository(rt.conn);
  const catalog = new CatalogRepository(rt.conn);
  const seats = new SeatRepository(rt.conn);
  const waitlists = new WaitlistRepository(rt.conn);
  await Promise.all([registrations.model.init(), catalog.model.init(), seats.model.init(), waitlists.model.init()]);
  // Databases of earlier versions kept one live registration per student and lecture with a
  // unique `liveKey` on registrations, then with a unique `holder` on seats; the ledger's holder
  // documents do it now.
  await registrations.model.collection.dropIndex('liveKey_1').catch(() => undefined);
  await seats.migrate();
  const payment = new PaymentClient({
    baseUrl: config.PAYMENT_URL,
    secret: chargeSecretOf(config),
    timeoutMs: config.PAYMENT_TIMEOUT_MS,
    resetTimeoutMs: config.PAYMENT_BREAKER_RESET_MS,
    maxConcurrent: config.REGISTRATION_CONCURRENCY,
    logger: rt.logger,
    metrics: rt.metrics.registry,
  });
  const answers = new Counter({
    name: 'registration_answers_total',
    help: 'Answers to registerForLecture, by status or error code and by what decided them (memory: refused with no write)',
    labelNames: ['answer', 'decided_by'],
    registers: [rt.metrics.registry],
  });
  const admission = new Admission({ concurrency: config.REGISTRATION_CONCURRENCY, queueMs: config.REGISTRATION_QUEUE_MS });
  const waitlistLimit = (lecture: Pick<CatalogLecture, 'capacity'>) => config.WAITLIST_MAX ?? lecture.capacity;
  const knowledge = new SeatKnowledge(async (lecture) => {
    const [free, waitlist] = await Promise.all([seats.freeNumbers(lecture), waitlists.findById(lecture.id)]);
    return { freeSeats: free.length, waitlist };
  }, waitlistLimit);
  const desk = new WaitlistDesk(rt.outbox, waitlists, seats, knowledge, waitlistLimit, rt.logger);
  const promotions = new Promotions(desk, waitlists, registrations, seats, catalog, payment, admission, rt.outbox, knowledge, rt.logger, {
    pendingTimeoutMs: config.PENDING_TIMEOUT_MS,
  });
  const service = new RegistrationService(
    registrations,
    catalog,
    seats,
    waitlists,
    payment,
    rt.outbox,
    knowledge,
    desk,
    promotions,
    admission,
    rt.logger,
    {
      pendingTimeoutMs: config.PENDING_TIMEOUT_MS,
      answered: (answer, decidedBy) => answers.inc({ answer, decided_by: decidedBy }),
    },
  );
  const unwatch = watchEventLoop(admission.limit, config.REGISTRATION_LAG_LIMIT_MS);
  for (const [name, help, read] of [
    ['registration_admission_limit', 'Registrations allowed in progress at once now (adaptive)', () => admission.limit.limit],
    ['registration_admission_in_flight', 'Registrations in progress', () => admission.limit.inFlight],
    ['registration_admission_queued', 'Registrations waiting for their turn', () => admission.limit.queued],
  ] as const) {
    new Gauge({
      name,
      help,
      registers: [rt.metrics.registry],
      collect() {
        this.set(read());
      },
    });
  }
  const running = await startSubgraph(rt, {
    typeDefs: readSchema(import.meta.url),
    resolvers: registrationResolvers(service, registrations, catalog, waitlists),
    publishes: 'registration',
    startConsumers: () => startRegistrationConsumers(rt, catalog, service),
    onStop: [unwatch, () => promotions.stop(), () => payment.shutdown()],
  });
  promotions.start();
  // Extended in place: the handle stays the one startSubgraph returned (fault tests find it by identity).
  return Object.assign(running, { service, payment, promotions });
}
