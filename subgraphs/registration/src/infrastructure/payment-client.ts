/**
 * Outbound adapter to the payment service: the synchronous charge call of registration,
 * guarded by a circuit breaker (opossum).
 *
 * - Each call has its own timeout (`timeoutMs`, default 610 ms as in the original design,
 *   whose payment took 400–620 ms) and is aborted when it passes; an answer that reached this
 *   process in time counts, however busy the process was when it read it (see postCharge).
 * - Declines are business answers: they do not count as breaker failures.
 * - Timeouts, errors and 5xx count; past 50 % failures in a 10 s window (at least 5 calls)
 *   the breaker opens and calls fail at once for `resetTimeoutMs`, then one probe
 *   (half-open) decides whether it closes again.
 * - At most `maxConcurrent` calls are in flight; more are rejected at once (no pile-up).
 * The fallback turns every rejection into {@link ChargeUnavailable} with a retry hint.
 *
 * Each charge is a client span `payment charge` (breaker state before the call, outcome after),
 * and the call carries its W3C `traceparent` to payment.
 */
import CircuitBreaker from 'opossum';
import { Gauge, Histogram, type Registry } from 'prom-client';
import { Pool } from 'undici';
import { HEADERS, injectTrace, inSpan, SpanKind, TIMING_BUDGET_DEFAULTS, tracerOf, type Logger } from '@courses/platform';

/** What registration asks payment to charge. Amount in KRW. */
export interface ChargeRequest {
  registrationId: string;
  studentId: string;
  lectureId: string;
  amount: number;
}

export interface ChargeCompleted {
  kind: 'completed';
  paymentId: string;
  /**
   * Time this side added to the call, ms: the call's duration less the provider's share that
   * payment reports (`Server-Timing: provider;dur=`). Undefined when payment did not say.
   */
  overheadMs?: number;
}
export interface ChargeDeclined {
  kind: 'declined';
  reason: string;
}
export interface ChargeUnavailable {
  kind: 'unavailable';
  /** ETIMEDOUT, EOPENBREAKER, ESEMLOCKED, or the transport error's message. */
  reason: string;
  /** Seconds after which trying again makes sense. */
  retryAfterSeconds: number;
  /**
   * False when the call never left this process (breaker open, too many calls in flight), so
   * payment cannot have charged; true when it may have (a timeout or a transport error).
   */
  maybeCharged: boolean;
}
export type ChargeOutcome = ChargeCompleted | ChargeDeclined | ChargeUnavailable;

class DeclinedError extends Error {
  override name = 'DeclinedError';
}

export interface PaymentClientOptions {
  /** Payment service base URL; the endpoint is `<baseUrl>/internal/charges`. */
  baseUrl: string;
  secret: string;
  /** Per-call timeout, ms (default the timing budget's PAYMENT_TIMEOUT_MS, 610). */
  timeoutMs?: number;
  /** How long an open breaker fails fast before a half-open probe, ms (default 5000). */
  resetTimeoutMs?: number;
  /** Most calls in flight at once (default 64). */
  maxConcurrent?: number;
  logger: Logger;
  /** Where to register `payment_charge_duration_seconds` and `payment_breaker_state`. */
  metrics?: Registry;
}

/** The provider's share of a call from a `Server-Timing: provider;dur=<ms>` header, if any. */
function providerMs(header: string | string[] | undefined): number | undefined {
  const m = /(?:^|,)\s*provider;dur=([\d.]+)/.exec(Array.isArray(header) ? header.join(',') : (header ?? ''));
  return m ? Number(m[1]) : undefined;
}

/** A charge not answered within the timeout (opossum's code for its own timeouts). */
class ChargeTimeoutError extends Error {
  override name = 'ChargeTimeoutError';
  readonly code = 'ETIMEDOUT';
}

/**
 * Posts one charge over `pool`; resolves with the payment id, throws DeclinedError on 402 and
 * ChargeTimeoutError when payment has not answered within `timeoutMs`.
 *
 * The deadline is judged once the answers that reached this process in time have been read: when
 * the timer fires, the decision waits for the rest of that turn of the event loop (one
 * `setImmediate`, which runs after the turn's I/O). Node runs due timers before it reads sockets,
 * so while a rush keeps this process busy for tens of milliseconds at a time, an answer that
 * arrived at 590 ms would otherwise lose to a 610 ms timer that fired later than it: the charge
 * went through, this side only read it late, and the student would be told to try again while
 * payment voided a charge it had made. The call itself is aborted at the deadline all the same.
 */
function postCharge(pool: Pool, secret: string, timeoutMs: number, req: ChargeRequest): Promise<ChargeCompleted> {
  const started = performance.now();
  const abort = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  let settled = false;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        setImmediate(() => {
          if (settled) return;
          abort.abort();
          reject(new ChargeTimeoutError(`payment did not answer within ${timeoutMs} ms`));
        }),
      timeoutMs,
    );
  });
  const call = (async (): Promise<ChargeCompleted> => {
    const res = await pool.request({
      path: '/internal/charges',
      method: 'POST',
      headers: injectTrace({ 'content-type': 'application/json', [HEADERS.secret]: secret }),
      body: JSON.stringify(req),
      signal: abort.signal,
    });
    const body = (await res.body.json().catch(() => ({}))) as { paymentId?: string; message?: string };
    if (res.statusCode === 402) throw new DeclinedError(body.message ?? 'declined');
    if (res.statusCode < 200 || res.statusCode >= 300 || !body.paymentId) throw new Error(`payment answered HTTP ${res.statusCode}`);
    const provider = providerMs(res.headers['server-timing']);
    return {
      kind: 'completed',
      paymentId: body.paymentId,
      overheadMs: provider === undefined ? undefined : performance.now() - started - provider,
    };
  })();
  return Promise.race([call, deadline]).finally(() => {
    settled = true;
    clearTimeout(timer);
  });
}

const tracer = tracerOf('registration');

/** Breaker rejections that happen before the call leaves this process. */
const NOT_SENT = new Set(['EOPENBREAKER', 'ESEMLOCKED', 'ESHUTDOWN']);

export class PaymentClient {
  readonly breaker: CircuitBreaker<[ChargeRequest], ChargeOutcome>;
  private readonly resetTimeoutMs: number;
  private readonly pool: Pool;

  constructor(opts: PaymentClientOptions) {
    const timeoutMs = opts.timeoutMs ?? TIMING_BUDGET_DEFAULTS.PAYMENT_TIMEOUT_MS;
    this.resetTimeoutMs = opts.resetTimeoutMs ?? 5_000;
    // Keep-alive connections to payment, at least one per call that may be in flight.
    this.pool = new Pool(new URL(opts.baseUrl).origin, { connections: opts.maxConcurrent ?? 64, keepAliveTimeout: 4_000 });
    this.breaker = new CircuitBreaker<[ChargeRequest], ChargeOutcome>(
      (req: ChargeRequest) => postCharge(this.pool, opts.secret, timeoutMs, req),
      {
        // The call times itself out (see postCharge); opossum counts that as a failure.
        timeout: false,
        errorThresholdPercentage: 50,
        resetTimeout: this.resetTimeoutMs,
        rollingCountTimeout: 10_000,
        volumeThreshold: 5,
        capacity: opts.maxConcurrent ?? 64,
        errorFilter: (err: Error) => err instanceof DeclinedError,
      },
    );
    this.breaker.fallback((_req: ChargeRequest, err: Error & { code?: string }): ChargeUnavailable => ({
      kind: 'unavailable',
      reason: err?.code ?? err?.message ?? 'unavailable',
      retryAfterSeconds: this.breaker.opened ? Math.ceil(this.resetTimeoutMs / 1000) : 1,
      maybeCharged: !NOT_SENT.has(err?.code ?? ''),
    }));
    this.breaker.on('open', () => opts.logger.warn('payment circuit breaker OPEN: failing fast'));
    this.breaker.on('halfOpen', () => opts.logger.info('payment circuit breaker HALF-OPEN: probing'));
    this.breaker.on('close', () => opts.logger.info('payment circuit breaker CLOSED'));
    if (opts.metrics) {
      const overhead = new Histogram({
        name: 'payment_charge_overhead_seconds',
        help: 'Time our side added to completed charges: the call less the provider time payment reports (s)',
        buckets: [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2],
        registers: [opts.metrics],
      });
      const duration = new Histogram({
        name: 'payment_charge_duration_seconds',
        help: 'Charge calls to payment as the breaker timed them (s), by outcome',
        labelNames: ['outcome'],
        buckets: [0.05, 0.1, 0.2, 0.4, 0.5, 0.55, 0.58, 0.59, 0.6, 0.605, 0.61, 0.62, 0.65, 0.8, 1],
        registers: [opts.metrics],
      });
      this.breaker.on('success', (r: ChargeOutcome, ms) => {
        duration.observe({ outcome: 'completed' }, ms / 1000);
        if (r.kind === 'completed' && r.overheadMs !== undefined) overhead.observe(r.overheadMs / 1000);
      });
      this.breaker.on('failure', (err: Error & { code?: string }, ms) =>
        duration.observe(
          { outcome: err instanceof DeclinedError ? 'declined' : err?.code === 'ETIMEDOUT' ? 'timeout' : 'failed' },
          ms / 1000,
        ),
      );
      const client = this;
      new Gauge({
        name: 'payment_breaker_state',
        help: 'Payment circuit breaker: 0 closed, 1 half-open (probing), 2 open (failing fast)',
        registers: [opts.metrics],
        collect() {
          this.set({ closed: 0, 'half-open': 1, open: 2 }[client.state]);
        },
      });
    }
  }

  /** Charges `req.amount` KRW for a registration. Never throws for payment trouble: see {@link ChargeOutcome}. */
  async charge(req: ChargeRequest): Promise<ChargeOutcome> {
    const options = () => ({
      kind: SpanKind.CLIENT,
      attributes: { 'payment.breaker.state': this.state, 'payment.amount_krw': req.amount },
    });
    return inSpan(tracer, 'payment charge', options, async (span) => {
      let outcome: ChargeOutcome;
      try {
        outcome = await this.breaker.fire(req);
      } catch (err) {
        if (!(err instanceof DeclinedError)) throw err;
        outcome = { kind: 'declined', reason: err.message };
      }
      span.setAttribute('payment.outcome', outcome.kind);
      if (outcome.kind === 'unavailable') span.setAttribute('payment.unavailable_reason', outcome.reason);
      return outcome;
    });
  }

  /** 'closed' | 'open' | 'half-open' */
  get state(): 'closed' | 'open' | 'half-open' {
    return this.breaker.halfOpen ? 'half-open' : this.breaker.opened ? 'open' : 'closed';
  }

  /**
   * The answer a charge would get right now without being sent, when the breaker is open (it
   * fails fast): lets a caller skip work it would undo. Undefined when a charge would be sent.
   */
  refusedNow(): ChargeUnavailable | undefined {
    if (!this.breaker.opened || this.breaker.halfOpen) return undefined;
    return { kind: 'unavailable', reason: 'EOPENBREAKER', retryAfterSeconds: Math.ceil(this.resetTimeoutMs / 1000), maybeCharged: false };
  }

  async shutdown(): Promise<void> {
    this.breaker.shutdown();
    await this.pool.close();
  }
}
