/**
 * Outbound adapter to the payment service: the synchronous charge call of registration,
 * guarded by a circuit breaker (opossum).
 *
 * - Each call has its own timeout (`timeoutMs`, default 610 ms as in the original design,
 *   whose payment took 400–620 ms) and is aborted when it passes.
 * - Declines are business answers: they do not count as breaker failures.
 * - Timeouts, errors and 5xx count; past 50 % failures in a 10 s window (at least 5 calls)
 *   the breaker opens and calls fail at once for `resetTimeoutMs`, then one probe
 *   (half-open) decides whether it closes again.
 * - At most `maxConcurrent` calls are in flight; more are rejected at once (no pile-up).
 * The fallback turns every rejection into {@link ChargeUnavailable} with a retry hint.
 */
import CircuitBreaker from 'opossum';
import { HEADERS, type Logger } from '@courses/platform';

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
}
export type ChargeOutcome = ChargeCompleted | ChargeDeclined | ChargeUnavailable;

class DeclinedError extends Error {
  override name = 'DeclinedError';
}

export interface PaymentClientOptions {
  /** Payment service base URL; the endpoint is `<baseUrl>/internal/charges`. */
  baseUrl: string;
  secret: string;
  /** Per-call timeout, ms (default 610). */
  timeoutMs?: number;
  /** How long an open breaker fails fast before a half-open probe, ms (default 5000). */
  resetTimeoutMs?: number;
  /** Most calls in flight at once (default 64). */
  maxConcurrent?: number;
  logger: Logger;
}

/** Posts one charge; resolves with the payment id, throws DeclinedError on 402. */
async function postCharge(baseUrl: string, secret: string, timeoutMs: number, req: ChargeRequest): Promise<ChargeCompleted> {
  const res = await fetch(`${baseUrl}/internal/charges`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', [HEADERS.secret]: secret },
    body: JSON.stringify(req),
    signal: AbortSignal.timeout(timeoutMs),
  });
  const body = (await res.json().catch(() => ({}))) as { paymentId?: string; message?: string };
  if (res.status === 402) throw new DeclinedError(body.message ?? 'declined');
  if (!res.ok || !body.paymentId) throw new Error(`payment answered HTTP ${res.status}`);
  return { kind: 'completed', paymentId: body.paymentId };
}

export class PaymentClient {
  readonly breaker: CircuitBreaker<[ChargeRequest], ChargeOutcome>;
  private readonly resetTimeoutMs: number;

  constructor(opts: PaymentClientOptions) {
    const timeoutMs = opts.timeoutMs ?? 610;
    this.resetTimeoutMs = opts.resetTimeoutMs ?? 5_000;
    this.breaker = new CircuitBreaker<[ChargeRequest], ChargeOutcome>(
      (req: ChargeRequest) => postCharge(opts.baseUrl, opts.secret, timeoutMs + 50, req),
      {
        timeout: timeoutMs,
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
    }));
    this.breaker.on('open', () => opts.logger.warn('payment circuit breaker OPEN: failing fast'));
    this.breaker.on('halfOpen', () => opts.logger.info('payment circuit breaker HALF-OPEN: probing'));
    this.breaker.on('close', () => opts.logger.info('payment circuit breaker CLOSED'));
  }

  /** Charges `req.amount` KRW for a registration. Never throws for payment trouble: see {@link ChargeOutcome}. */
  async charge(req: ChargeRequest): Promise<ChargeOutcome> {
    try {
      return await this.breaker.fire(req);
    } catch (err) {
      if (err instanceof DeclinedError) return { kind: 'declined', reason: err.message };
      throw err;
    }
  }

  /** 'closed' | 'open' | 'half-open' */
  get state(): 'closed' | 'open' | 'half-open' {
    return this.breaker.halfOpen ? 'half-open' : this.breaker.opened ? 'open' : 'closed';
  }

  shutdown(): void {
    this.breaker.shutdown();
  }
}
