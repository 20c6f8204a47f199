/**
 * The timing budget: the deadlines that bind the services to one another, in one module, with
 * the relations between them checked when any service starts (loadConfig refuses a budget that
 * breaks one, naming the variables and what they must satisfy).
 *
 * A registration's slowest path (registration-service.ts): the attempt's claim is taken, the
 * attempt waits for an admission slot (at most `REGISTRATION_QUEUE_MS`), then charges payment
 * through the breaker (at most `PAYMENT_TIMEOUT_MS`, against a provider that promises
 * `PAYMENT_PROVIDER_BOUND_MS`), then stores how it ended. So:
 *
 * | relation | why |
 * |---|---|
 * | `PAYMENT_TIMEOUT_MS` ≥ `PAYMENT_PROVIDER_BOUND_MS` + 10 | a charge within the provider's bound is never cut by the caller's timeout (10 ms: the hop to payment and back; the original design's 600/610) |
 * | `PENDING_TIMEOUT_MS` > `REGISTRATION_QUEUE_MS` + `PAYMENT_TIMEOUT_MS` + 1000 | a live attempt's claim is never taken for abandoned while it waits for its turn or its charge (1000 ms: its writes) |
 * | `SUBGRAPH_TIMEOUT_MS` > `REGISTRATION_QUEUE_MS` + `PAYMENT_TIMEOUT_MS` + 1000 | the gateway never answers SERVICE_UNAVAILABLE for a registration that then confirms |
 * | `SHUTDOWN_DELAY_MS` + `SHUTDOWN_GRACE_MS` + 1000 ≤ 20000 ({@link FORCED_EXIT_MS}) | a drain ends before the process forces its exit |
 *
 * Every service reads the whole budget (each variable has the same default everywhere), so a
 * deployment that gives every service the same budget variables (compose's `x-timing-budget`,
 * Kubernetes' `courses-config` ConfigMap) has it checked as a whole. The simulated provider's
 * `PAYMENT_LATENCY_MS` is a fault switch, not part of the budget: it may break the bound on purpose.
 */
import { z } from 'zod';

/** A stop that takes longer than this (ms) exits at once (stopOnSignals in lifecycle.ts). */
export const FORCED_EXIT_MS = 20_000;

/** Margins (ms) of the budget's relations: see the module doc. */
export const BUDGET_MARGINS_MS = { hop: 10, writes: 1_000, exit: 1_000 } as const;

const ms = () => z.coerce.number().int().nonnegative();

/** The budget's variables (ms), with their defaults: spread into every service's environment schema. */
export const timingBudgetFields = {
  /** The card provider's promised latency bound per charge (its SLA). */
  PAYMENT_PROVIDER_BOUND_MS: ms().default(600),
  /** Registration's circuit-breaker timeout of one payment call. */
  PAYMENT_TIMEOUT_MS: ms().positive().default(610),
  /** Age after which a registration attempt whose process died is abandoned (its claim's stale-after). */
  PENDING_TIMEOUT_MS: ms().positive().default(30_000),
  /** Longest a registration waits for an admission slot before SERVICE_UNAVAILABLE. */
  REGISTRATION_QUEUE_MS: ms().default(4_000),
  /** The longest a subgraph fetch of the gateway may take, answer included; past it the client gets SERVICE_UNAVAILABLE. */
  SUBGRAPH_TIMEOUT_MS: ms().positive().default(8_000),
  /** How long a graceful shutdown waits for in-flight requests before closing sockets. */
  SHUTDOWN_GRACE_MS: ms().default(10_000),
  /**
   * How long a stopping service goes on serving after its readiness turned 503, so that load
   * balancers that probe readiness stop routing to it before it stops accepting. 0 on Kubernetes,
   * where the pod's preStop pause does this; elsewhere, more than the balancer's probe period.
   */
  SHUTDOWN_DELAY_MS: ms().default(0),
};

/** The budget as parsed (all ms). */
export type TimingBudget = { [K in keyof typeof timingBudgetFields]: number };

/** The budget's defaults (ms), e.g. for a client built without a configuration. */
export const TIMING_BUDGET_DEFAULTS: TimingBudget = z.object(timingBudgetFields).parse({});

/**
 * The relations `b` breaks, one line each naming the variables, their values and what must hold;
 * empty when the budget is consistent.
 */
export function timingBudgetProblems(b: TimingBudget): string[] {
  const problems: string[] = [];
  const m = BUDGET_MARGINS_MS;
  const slowest = b.REGISTRATION_QUEUE_MS + b.PAYMENT_TIMEOUT_MS + m.writes;
  if (b.PAYMENT_TIMEOUT_MS < b.PAYMENT_PROVIDER_BOUND_MS + m.hop)
    problems.push(
      `PAYMENT_TIMEOUT_MS (${b.PAYMENT_TIMEOUT_MS}) must be at least PAYMENT_PROVIDER_BOUND_MS (${b.PAYMENT_PROVIDER_BOUND_MS}) + ${m.hop}: charges the provider answers within its bound would time out`,
    );
  if (b.PENDING_TIMEOUT_MS <= slowest)
    problems.push(
      `PENDING_TIMEOUT_MS (${b.PENDING_TIMEOUT_MS}) must exceed REGISTRATION_QUEUE_MS (${b.REGISTRATION_QUEUE_MS}) + PAYMENT_TIMEOUT_MS (${b.PAYMENT_TIMEOUT_MS}) + ${m.writes}: live attempts would be abandoned while they wait or pay`,
    );
  if (b.SUBGRAPH_TIMEOUT_MS <= slowest)
    problems.push(
      `SUBGRAPH_TIMEOUT_MS (${b.SUBGRAPH_TIMEOUT_MS}) must exceed REGISTRATION_QUEUE_MS (${b.REGISTRATION_QUEUE_MS}) + PAYMENT_TIMEOUT_MS (${b.PAYMENT_TIMEOUT_MS}) + ${m.writes}: the gateway would answer SERVICE_UNAVAILABLE for registrations that then confirm`,
    );
  if (b.SHUTDOWN_DELAY_MS + b.SHUTDOWN_GRACE_MS + m.exit > FORCED_EXIT_MS)
    problems.push(
      `SHUTDOWN_DELAY_MS (${b.SHUTDOWN_DELAY_MS}) + SHUTDOWN_GRACE_MS (${b.SHUTDOWN_GRACE_MS}) + ${m.exit} must be at most ${FORCED_EXIT_MS}: the drain would be cut by the forced exit`,
    );
  return problems;
}
