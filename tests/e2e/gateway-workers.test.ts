/**
 * GATEWAY_WORKERS (gateway/src/workers.ts): two gateway processes behind one port answer as one
 * gateway: every query is served, `/metrics` counts what both served, a worker that dies is
 * replaced, and SIGTERM drains both and ends the primary cleanly. Runs the built gateway
 * (gateway/dist/main.js) as a deployment would.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '@courses/devkit/graphql-client';
import { freePort } from '@courses/devkit/provision';
import { startSystem, type TestSystem } from '@courses/test-kit/system';

const MAIN = path.resolve(import.meta.dirname, '../../gateway/dist/main.js');

describe('gateway workers', () => {
  let sys: TestSystem;
  let primary: ChildProcess;
  let url: string;

  beforeAll(async () => {
    sys = await startSystem();
    const port = await freePort(4600);
    url = `http://127.0.0.1:${port}`;
    primary = spawn(process.execPath, [MAIN], {
      env: { ...process.env, ...sys.envOf('gateway'), PORT: String(port), GATEWAY_WORKERS: '2', LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    await eventually(async () => (await fetch(`${url}/health/ready`).catch(() => undefined))?.status === 200, 30_000, 'a worker ready');
    // Both serving: /metrics sums the workers that listen, and says how many.
    await eventually(async () => (await summed((l) => /^gateway_workers[{ ]/.test(l))) === 2, 30_000, 'both workers serving');
  }, 90_000);

  afterAll(async () => {
    if (primary?.exitCode === null) primary.kill('SIGKILL');
    await sys?.stop();
  });

  /** Each worker's pid, as the kernel lists the primary's children. */
  const workerPids = async () => {
    const { readFile } = await import('node:fs/promises');
    const children = await readFile(`/proc/${primary.pid}/task/${primary.pid}/children`, 'utf8');
    return children.trim().split(/\s+/).filter(Boolean).map(Number);
  };
  /** One query on a connection of its own (so the primary hands them round the workers): answered without errors? */
  const probe = async () => {
    const r = await fetch(`${url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', connection: 'close' },
      body: JSON.stringify({ query: 'query WorkersProbe { lectures(first: 1) { totalCount } }' }),
      signal: AbortSignal.timeout(5_000),
    });
    return !((await r.json()) as { errors?: unknown }).errors;
  };
  /** The sum of the samples `/metrics` reports on the lines `pick` chooses. */
  const summed = async (pick: (line: string) => boolean) => {
    const text = await (await fetch(`${url}/metrics`, { headers: { connection: 'close' } })).text();
    return text
      .split('\n')
      .filter(pick)
      .reduce((sum, l) => sum + Number(l.split(' ').at(-1)), 0);
  };
  /** graphql_operations_total of `operation` as `/metrics` reports it. */
  const counted = (operation: string) => summed((l) => l.startsWith('graphql_operations_total{') && l.includes(`operation="${operation}"`));

  it('serves every query, and /metrics sums what both workers served', async () => {
    expect(await workerPids()).toHaveLength(2);
    for (let i = 0; i < 20; i++) expect(await probe()).toBe(true);
    // Whichever worker answers /metrics, it reports both workers' counts.
    for (let i = 0; i < 4; i++) expect(await counted('WorkersProbe')).toBe(20);
  });

  it('replaces a worker that dies, and keeps serving meanwhile', async () => {
    const [victim] = await workerPids();
    process.kill(victim!, 'SIGKILL');
    // Once the primary has seen it go (it reaps it), the other worker answers every query while
    // the replacement starts (a connection handed over in the instant before is lost with it).
    await eventually(async () => !(await workerPids()).includes(victim!), 10_000, 'the dead worker reaped');
    for (let i = 0; i < 4; i++) expect(await probe()).toBe(true);
    await eventually(
      async () => {
        const pids = await workerPids();
        return pids.length === 2 && !pids.includes(victim!);
      },
      15_000,
      'a new worker',
    );
  });

  it('drains both workers on SIGTERM and exits 0', async () => {
    primary.kill('SIGTERM');
    const [code] = (await once(primary, 'exit')) as [number | null];
    expect(code).toBe(0);
    expect(await fetch(`${url}/health/live`).catch(() => 'refused')).toBe('refused');
  }, 60_000);
});
