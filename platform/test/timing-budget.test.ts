/** The timing budget (platform/src/service/timing-budget.ts): one place for the deadlines, checked as a whole at start. */
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, subgraphEnv, TIMING_BUDGET_DEFAULTS, timingBudgetProblems } from '../src/index.js';

const base = { PORT: '0', MONGODB_URI: 'mongodb://127.0.0.1/x' };
const load = (env: Record<string, string>) => loadConfig(subgraphEnv, { ...base, ...env });

describe('timing budget', () => {
  it('has consistent defaults: a 600 ms provider against a 610 ms charge timeout', () => {
    expect(TIMING_BUDGET_DEFAULTS).toMatchObject({ PAYMENT_PROVIDER_BOUND_MS: 600, PAYMENT_TIMEOUT_MS: 610, SUBGRAPH_TIMEOUT_MS: 8_000 });
    expect(timingBudgetProblems(TIMING_BUDGET_DEFAULTS)).toEqual([]);
    expect(load({}).PAYMENT_TIMEOUT_MS).toBe(610);
  });

  it('refuses a charge timeout that would cut charges the provider answers within its bound', () => {
    expect(() => load({ PAYMENT_TIMEOUT_MS: '605' })).toThrow(
      /PAYMENT_TIMEOUT_MS \(605\) must be at least PAYMENT_PROVIDER_BOUND_MS \(600\) \+ 10/,
    );
    expect(load({ PAYMENT_PROVIDER_BOUND_MS: '250', PAYMENT_TIMEOUT_MS: '300' }).PAYMENT_TIMEOUT_MS).toBe(300);
  });

  it('refuses a stale-after that would abandon attempts waiting in the admission queue or for their charge', () => {
    // Enough for the charge alone (the check before the budget), not for the queue before it.
    expect(() => load({ PAYMENT_TIMEOUT_MS: '5000', PENDING_TIMEOUT_MS: '6500' })).toThrow(
      /PENDING_TIMEOUT_MS \(6500\) must exceed REGISTRATION_QUEUE_MS \(4000\) \+ PAYMENT_TIMEOUT_MS \(5000\) \+ 1000/,
    );
    expect(load({ PAYMENT_TIMEOUT_MS: '5000', PENDING_TIMEOUT_MS: '6500', REGISTRATION_QUEUE_MS: '0' }).PENDING_TIMEOUT_MS).toBe(6_500);
  });

  it('refuses a gateway timeout shorter than registration’s slowest answer, and a drain longer than the forced exit', () => {
    expect(() => load({ SUBGRAPH_TIMEOUT_MS: '5000' })).toThrow(/SUBGRAPH_TIMEOUT_MS \(5000\) must exceed/);
    expect(() => load({ SHUTDOWN_GRACE_MS: '15000', SHUTDOWN_DELAY_MS: '5000' })).toThrow(/the drain would be cut by the forced exit/);
  });

  it('names every broken relation at once, as a ConfigError', () => {
    let err: unknown;
    try {
      load({ PAYMENT_TIMEOUT_MS: '100', PENDING_TIMEOUT_MS: '2000', SHUTDOWN_GRACE_MS: '20000' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message.split('\n').filter((l) => l.startsWith('  '))).toHaveLength(3);
  });
});
