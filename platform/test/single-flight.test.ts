import { describe, expect, it } from 'vitest';
import { SingleFlight } from '@courses/platform';

/** A promise and the functions that settle it. */
function deferred<T>() {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => ((resolve = res), (reject = rej)));
  return { promise, resolve, reject };
}

describe('SingleFlight', () => {
  it('runs once for the callers of a key while it is in flight, and again once it settled', async () => {
    const flight = new SingleFlight<number>();
    const gate = deferred<number>();
    let runs = 0;
    const fn = () => (runs++, gate.promise);
    const a = flight.run('k', fn);
    const b = flight.run('k', fn);
    const other = flight.run('other', () => Promise.resolve(7));
    expect(a).toBe(b);
    expect(runs).toBe(1);
    gate.resolve(42);
    expect(await Promise.all([a, b, other])).toEqual([42, 42, 7]);
    expect(flight.size).toBe(0);
    expect(await flight.run('k', () => (runs++, Promise.resolve(43)))).toBe(43);
    expect(runs).toBe(2);
  });

  it('shares a failure with the callers in flight, and forgets it', async () => {
    const flight = new SingleFlight<number>();
    const gate = deferred<number>();
    const a = flight.run('k', () => gate.promise);
    const b = flight.run('k', () => Promise.resolve(1));
    gate.reject(new Error('down'));
    await expect(a).rejects.toThrow('down');
    await expect(b).rejects.toThrow('down');
    expect(await flight.run('k', () => Promise.resolve(2))).toBe(2);
  });
});
