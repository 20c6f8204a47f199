/**
 * Admission control of the registrations that pay: how many run at once (an adaptive limit
 * that follows payment's timeouts, the breaker and this process's event loop) and how long one
 * may wait for its turn. Only attempts that hold a seat, and waitlist places charged when a seat
 * frees, pass through here: a refusal needs no payment, so it never waits for a turn.
 */
import { AdaptiveLimit, AdmissionRefusedError, DomainError, ErrorCode } from '@courses/platform';
import type { ChargeResult } from '../domain/attempt.js';

export interface AdmissionOptions {
  /** Most paying registrations in progress at once; the limit adapts below it (default 64). */
  concurrency?: number;
  /** Longest (ms) one waits for its turn before SERVICE_UNAVAILABLE (default 4000). */
  queueMs?: number;
  /** Most waiting; more are refused at once (default 2000). */
  queueLimit?: number;
}

export class Admission {
  /** How many paying registrations run at once: adapts to payment's timeouts and this process's event loop. */
  readonly limit: AdaptiveLimit;
  private readonly queueMs: number;

  constructor(opts: AdmissionOptions = {}) {
    this.limit = new AdaptiveLimit({
      // Only attempts that hold a seat come here, as many as a rush fills at most: the first ones
      // start at once. From 8, slow start cut short by the first lagging second of a rush (lag
      // that cheap refusals cause) kept 50 paying students in line for 3-4 s.
      initial: Math.min(32, opts.concurrency ?? 64),
      max: opts.concurrency ?? 64,
      queueLimit: opts.queueLimit ?? 2_000,
      maxFailureRate: 0.15,
      windowMs: 5_000,
    });
    this.queueMs = opts.queueMs ?? 4_000;
  }

  /**
   * Runs `fn` once the limit lets it; a caller still waiting after `queueMs` (or finding
   * `queueLimit` callers ahead) gets SERVICE_UNAVAILABLE at once, before `fn` starts. A started
   * `fn` always runs to its end.
   * @throws DomainError SERVICE_UNAVAILABLE (with `retryAfterSeconds`); `fn`'s error.
   */
  async run<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await this.limit.run(fn, this.queueMs);
    } catch (err) {
      if (err instanceof AdmissionRefusedError) {
        throw new DomainError(ErrorCode.SERVICE_UNAVAILABLE, 'registration is busy right now; please try again shortly', {
          retryAfterSeconds: 1,
        });
      }
      throw err;
    }
  }

  /**
   * Feeds the limit with one charge that reached payment (or may have): a timeout is the sign
   * that payment, or this side's own queues, fall behind. Some are the provider's own: the seeds'
   * takes 400-620 ms against a 610 ms timeout, 5-9 % of charges with the machine's jitter, and a
   * shift of 50 ms makes it ~27 %. So more than 15 % of the charges of a 5 s window is overload
   * (see AdaptiveLimit.sample); a shorter window or a lower share mistook the provider's tail for
   * overload and halved admission (docs/performance.md, "Admission").
   */
  sample(outcome: ChargeResult): void {
    if (outcome.kind !== 'unavailable' || outcome.maybeCharged)
      this.limit.sample(outcome.kind === 'unavailable' && outcome.reason === 'ETIMEDOUT');
  }

  /** The breaker changing state is news too: opening means payment failed a lot; closing after a probe means calls resume, a few at first. */
  breakerChanged(): void {
    this.limit.overloaded();
  }
}
