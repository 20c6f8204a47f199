/**
 * A NATS server (with JetStream and a store on disk) owned by one test, on a free port, that
 * the test may stop and start again — for fault tests that must not disturb the shared server.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort, portOpen, which } from '../../scripts/lib/provision.mjs';

/** The nats-server binary: NATS_SERVER_BIN, PATH, or /usr/sbin; undefined when none. */
export function natsServerBinary(): string | undefined {
  return process.env.NATS_SERVER_BIN ?? which('nats-server', ['/usr/sbin']);
}

/** Waits until the port accepts connections (`up`) or refuses them (`!up`). */
async function waitPort(port: number, up: boolean, timeoutMs = 10_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while ((await portOpen(port)) !== up) {
    if (Date.now() > until) throw new Error(`nats-server on ${port} did not ${up ? 'start' : 'stop'}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export interface OwnNatsServer {
  url: string;
  stop(): Promise<void>;
  start(): Promise<void>;
  /** Stops, waits `downMs`, starts again on the same port and store. */
  restart(downMs?: number): Promise<void>;
  dispose(): Promise<void>;
}

export async function startOwnNatsServer(): Promise<OwnNatsServer> {
  const bin = natsServerBinary();
  if (!bin) throw new Error('no nats-server binary');
  const port = await freePort();
  const store = mkdtempSync(path.join(os.tmpdir(), 'nats-store-'));
  let child: ChildProcess | undefined;
  const server: OwnNatsServer = {
    url: `nats://127.0.0.1:${port}`,
    async start() {
      child = spawn(bin, ['-js', '-a', '127.0.0.1', '-p', String(port), '-sd', store], { stdio: 'ignore' });
      await waitPort(port, true);
    },
    async stop() {
      if (!child || child.exitCode !== null) return;
      const exited = new Promise((r) => child!.once('exit', r));
      child.kill('SIGTERM');
      await exited;
      await waitPort(port, false);
    },
    async restart(downMs = 1_000) {
      await server.stop();
      await new Promise((r) => setTimeout(r, downMs));
      await server.start();
    },
    async dispose() {
      await server.stop();
      rmSync(store, { recursive: true, force: true });
    },
  };
  await server.start();
  return server;
}
