/**
 * One supergraph execution per event and shape (canonical selection, variables, identity),
 * shared by every subscriber of that shape, and one projection of it per subscriber query text.
 */
import type { DocumentNode, ExecutionResult } from 'graphql';

/** How long (ms) a resolved event payload is kept for subscribers of the same shape that ask a little later. */
export const SHARE_MS = 2_000;

/** A projected result and its JSON text (the "changed since last sent?" fingerprint). */
export interface Projection {
  result: ExecutionResult;
  fingerprint: string;
}

export class SharedExecutions {
  private readonly inFlight = new Map<string, Promise<ExecutionResult>>();
  private readonly projections = new WeakMap<ExecutionResult, WeakMap<DocumentNode, Projection>>();
  private count = 0;

  /** @param onExecution called once per execution actually run (for metrics) */
  constructor(
    private readonly onExecution: () => void = () => undefined,
    private readonly keepMs = SHARE_MS,
  ) {}

  /** Executions run so far (shared ones count once). */
  get executions(): number {
    return this.count;
  }

  /**
   * The result under `key` (event id + shape): `execute()` runs for the first caller; the
   * others, until {@link SHARE_MS} after it settled, get the same promise.
   * @param counted false when `execute` is not a supergraph execution itself (it may share one)
   */
  run(key: string, execute: () => Promise<ExecutionResult>, counted = true): Promise<ExecutionResult> {
    let p = this.inFlight.get(key);
    if (!p) {
      p = counted ? this.runOwn(execute) : execute();
      this.inFlight.set(key, p);
      const forget = () => setTimeout(() => this.inFlight.delete(key), this.keepMs).unref();
      p.then(forget, forget);
    }
    return p;
  }

  /** Runs `execute()` for one subscriber alone (counted like a shared one). */
  runOwn(execute: () => Promise<ExecutionResult>): Promise<ExecutionResult> {
    this.count++;
    this.onExecution();
    return execute();
  }

  /**
   * `shared` as subscriber query `query` sees it: `project()` runs once per shared result and
   * (shared, see DocumentCache) query document; later callers get the same object and text.
   */
  projected(shared: ExecutionResult, query: DocumentNode, project: () => ExecutionResult): Projection {
    let byQuery = this.projections.get(shared);
    if (!byQuery) this.projections.set(shared, (byQuery = new WeakMap()));
    let entry = byQuery.get(query);
    if (!entry) {
      const result = project();
      byQuery.set(query, (entry = { result, fingerprint: JSON.stringify(result) }));
    }
    return entry;
  }
}
