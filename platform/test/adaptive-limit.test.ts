/** The adaptive admission limit: AIMD on the limit, a bounded waiting line. Pure logic, no servers. */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { AdaptiveLimit, AdmissionRefusedError } from '@courses/platform';

const gate = () => {
  let open!: () => void;
  const p = new Promise<void>((r) => (open = r));
  return { p, open };
};

describe('AdaptiveLimit', () => {
  it('runs at most `limit` tasks at once and starts the waiting ones in order as slots free up', async () => {
    const limit = new AdaptiveLimit({ initial: 2, max: 10 });
    const gates = [gate(), gate(), gate()];
    const started: number[] = [];
    const runs = gates.map((g, i) =>
      limit.run(async () => {
        started.push(i);
        await g.p;
        return i;
      }, 5_000),
    );
    await new Promise((r) => setImmediate(r));
    expect(started).toEqual([0, 1]);
    expect(limit.queued).toBe(1);
    gates[0].open();
    await runs[0];
    expect(started).toEqual([0, 1, 2]);
    gates[1].open();
    gates[2].open();
    expect(await Promise.all(runs)).toEqual([0, 1, 2]);
    expect(limit.inFlight).toBe(0);
  });

  it("grows by one per healthy task until the first overload, then by about one per limit's worth", async () => {
    const limit = new AdaptiveLimit({ initial: 4, max: 100, cooldownMs: 0, backoffRatio: 0.5 });
    for (let i = 0; i < 4; i++) await limit.run(async () => undefined, 1_000);
    expect(limit.limit).toBe(8); // slow start
    limit.overloaded();
    expect(limit.limit).toBe(4);
    for (let i = 0; i < 4; i++) await limit.run(async () => undefined, 1_000);
    expect(limit.limit).toBe(4); // 4 + 4 × 1/4.x stays just under 5
    for (let i = 0; i < 400; i++) await limit.run(async () => undefined, 1_000);
    expect(limit.limit).toBeLessThan(100);
    const capped = new AdaptiveLimit({ initial: 4, max: 6 });
    for (let i = 0; i < 10; i++) await capped.run(async () => undefined, 1_000);
    expect(capped.limit).toBe(6);
  });

  it('shrinks on overload, once per cooldown, never under the min', () => {
    const limit = new AdaptiveLimit({ initial: 40, max: 64, min: 8, backoffRatio: 0.5, cooldownMs: 60_000 });
    limit.overloaded();
    limit.overloaded(); // same burst: counted once
    expect(limit.limit).toBe(20);
    const fast = new AdaptiveLimit({ initial: 10, max: 64, min: 8, backoffRatio: 0.5, cooldownMs: 0 });
    fast.overloaded();
    fast.overloaded();
    expect(fast.limit).toBe(8);
  });

  it('refuses a task that waited too long, or finds the line full, without ever starting it', async () => {
    const limit = new AdaptiveLimit({ initial: 1, max: 1, queueLimit: 1 });
    const g = gate();
    const first = limit.run(() => g.p, 1_000);
    let ran = false;
    const late = limit.run(async () => {
      ran = true;
    }, 20);
    await expect(limit.run(async () => undefined, 1_000)).rejects.toBeInstanceOf(AdmissionRefusedError); // line full
    await expect(late).rejects.toBeInstanceOf(AdmissionRefusedError); // waited past 20 ms
    g.open();
    await first;
    expect(ran).toBe(false);
    expect(limit.queued).toBe(0);
  });
});

describe('AdaptiveLimit failure sampling', () => {
  afterEach(() => vi.useRealTimers());

  it('takes a window with more than the allowed share of failed calls as overload, not the odd failure', () => {
    vi.useFakeTimers();
    const limit = new AdaptiveLimit({ initial: 40, max: 64, backoffRatio: 0.5, cooldownMs: 0, windowMs: 30, maxFailureRate: 0.1 });
    for (let i = 0; i < 50; i++) limit.sample(i === 7); // 2 % failed
    vi.advanceTimersByTime(40);
    limit.sample(false); // closes the window
    expect(limit.limit).toBe(40);
    for (let i = 0; i < 20; i++) limit.sample(i % 4 === 0); // 25 % failed
    vi.advanceTimersByTime(40);
    limit.sample(false);
    expect(limit.limit).toBe(20);
  });
});
