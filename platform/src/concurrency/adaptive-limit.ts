/**
 * Admission control with an adaptive concurrency limit: at most `limit` tasks run at once and
 * the rest wait in line, at most `maxWaitMs` each (then they are refused, before they start).
 * The limit follows AIMD (additive increase, multiplicative decrease), the rule of TCP Reno and
 * of Netflix's concurrency-limits `AIMDLimit`: each task that ends healthy adds 1/limit (about
 * +1 per limit's worth of tasks); a sign of overload multiplies it by `backoffRatio`, at most
 * once per `cooldownMs` so that one burst of bad news counts once. Until the first sign of
 * overload, and below `slowStartLimit`, it grows like TCP's slow start instead, +1 per healthy
 * task (doubling per round).
 *
 * The signs of overload are the caller's to report: outcomes of the downstream calls the tasks
 * make ({@link AdaptiveLimit.sample}; more than `maxFailureRate` of them failing within a
 * `windowMs` window counts as overload, so that the odd slow call does not), or directly
 * ({@link AdaptiveLimit.overloaded}), e.g. this process's event loop falling behind
 * ({@link watchEventLoop}). A fixed bound guesses the machine's capacity; this one finds it, and
 * finds it again when the machine gets busier or quieter.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';

export interface AdaptiveLimitOptions {
  /** Limit at start (default 8): a cold process takes a burst a little at a time. */
  initial?: number;
  /** Lowest limit (default 2). */
  min?: number;
  /** Highest limit (default 64). */
  max: number;
  /** Up to this limit it grows by doubling until the first overload (TCP's ssthresh; default 16). */
  slowStartLimit?: number;
  /** Factor applied on overload (default 0.75). */
  backoffRatio?: number;
  /** Least time between two decreases, ms (default 1000). */
  cooldownMs?: number;
  /** Most tasks waiting; more are refused at once (default 2000). */
  queueLimit?: number;
  /** Share of sampled calls that may fail within a window before it counts as overload (default 0.05). */
  maxFailureRate?: number;
  /** Window over which samples are counted, ms (default 1000). */
  windowMs?: number;
}

/** Raised for a task refused before it started: the line was full, or it waited too long. */
export class AdmissionRefusedError extends Error {
  override name = 'AdmissionRefusedError';
}

interface Waiter {
  start: () => void;
  refuse: () => void;
  timer: NodeJS.Timeout;
}

/** An adaptive concurrency limit with a waiting line (see the module doc). */
export class AdaptiveLimit {
  private current: number;
  private running = 0;
  private readonly waiting: Waiter[] = [];
  private lastDecrease = 0;
  private slowStart = true;
  private window = { start: 0, calls: 0, failures: 0 };

  constructor(private readonly opts: AdaptiveLimitOptions) {
    this.current = Math.min(opts.max, opts.initial ?? 8);
  }

  /** The limit now (tasks allowed at once). */
  get limit(): number {
    return Math.floor(this.current);
  }

  /** Tasks running now. */
  get inFlight(): number {
    return this.running;
  }

  /** Tasks waiting now. */
  get queued(): number {
    return this.waiting.length;
  }

  /**
   * Runs `task` once a slot is free. A task that ends without an overload report counts as
   * healthy (see {@link overloaded}).
   * @throws AdmissionRefusedError when the line is full or `maxWaitMs` passes first (the task never starts); `task`'s error.
   */
  async run<T>(task: () => Promise<T>, maxWaitMs: number): Promise<T> {
    await this.admit(maxWaitMs);
    try {
      return await task();
    } finally {
      this.running--;
      const doubling = this.slowStart && this.current < (this.opts.slowStartLimit ?? 16);
      this.current = Math.min(this.opts.max, this.current + (doubling ? 1 : 1 / Math.max(1, this.current)));
      this.next();
    }
  }

  /**
   * Records the outcome of one downstream call (failed: e.g. it timed out). When more than
   * `maxFailureRate` of at least 10 calls in a window failed, that is overload.
   */
  sample(failed: boolean): void {
    const now = Date.now();
    const w = this.window;
    if (now - w.start > (this.opts.windowMs ?? 1_000)) {
      if (w.calls >= 10 && w.failures / w.calls > (this.opts.maxFailureRate ?? 0.05)) this.overloaded();
      this.window = { start: now, calls: 0, failures: 0 };
    }
    this.window.calls++;
    if (failed) this.window.failures++;
  }

  /** Reports a sign of overload: the limit shrinks by `backoffRatio`, at most once per cooldown. */
  overloaded(): void {
    const now = Date.now();
    if (now - this.lastDecrease < (this.opts.cooldownMs ?? 1_000)) return;
    this.lastDecrease = now;
    this.slowStart = false;
    this.current = Math.max(this.opts.min ?? 2, this.current * (this.opts.backoffRatio ?? 0.75));
  }

  private admit(maxWaitMs: number): Promise<void> {
    if (this.running < this.limit && !this.waiting.length) {
      this.running++;
      return Promise.resolve();
    }
    if (this.waiting.length >= (this.opts.queueLimit ?? 2_000)) return Promise.reject(new AdmissionRefusedError('too many waiting'));
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        start: () => {
          clearTimeout(waiter.timer);
          this.running++;
          resolve();
        },
        refuse: () => reject(new AdmissionRefusedError(`no slot within ${maxWaitMs} ms`)),
        timer: setTimeout(() => {
          const i = this.waiting.indexOf(waiter);
          if (i >= 0) this.waiting.splice(i, 1);
          waiter.refuse();
        }, maxWaitMs),
      };
      this.waiting.push(waiter);
    });
  }

  private next(): void {
    while (this.running < this.limit && this.waiting.length) this.waiting.shift()!.start();
  }
}

/**
 * Reports overload to `limit` whenever this process's event loop fell behind by more than
 * `thresholdMs` at the 99th percentile over the last `windowMs` (Node's monitorEventLoopDelay).
 * @returns a function that stops watching.
 */
export function watchEventLoop(limit: Pick<AdaptiveLimit, 'overloaded'>, thresholdMs: number, windowMs = 500): () => void {
  const h = monitorEventLoopDelay({ resolution: 5 });
  h.enable();
  const timer = setInterval(() => {
    if (h.percentile(99) / 1e6 > thresholdMs) limit.overloaded();
    h.reset();
  }, windowMs);
  timer.unref();
  return () => {
    clearInterval(timer);
    h.disable();
  };
}
