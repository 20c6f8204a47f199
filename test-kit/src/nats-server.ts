/**
 * A NATS server (JetStream, store on disk) owned by one test system, on a free port, configured
 * as production is: one user per service with the permissions of its role on the bus
 * (platform/src/messaging/nats-auth.ts) and random passwords, plus an unrestricted `ops` user for the
 * test's own setup and checks. Anonymous connections are refused. A test may stop and start it
 * again (fault tests).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { freePort, natsServerBinary, portOpen } from '@courses/devkit/provision';
import { inboxPrefixOf, natsServerConfig, natsUsers, type BusService } from '@courses/platform';
import { uniqueTag } from './env.js';

/** The nats-server binary (`npm test` passes the one it found or built in NATS_SERVER_BIN). */
export { natsServerBinary };

/** Waits until the port accepts connections (`up`) or refuses them (`!up`). */
async function waitPort(port: number, up: boolean, timeoutMs = 10_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while ((await portOpen(port)) !== up) {
    if (Date.now() > until) throw new Error(`nats-server on ${port} did not ${up ? 'start' : 'stop'}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A user of the test server: a service, the `operator` (platform/src/messaging/nats-auth.ts), or `ops` (unrestricted). */
export type NatsUserName = BusService | 'operator' | 'ops';

export interface OwnNatsServer {
  url: string;
  /** The subject/stream namespace the services' permissions are written for. */
  namespace: string;
  /** The `NATS_USER` / `NATS_PASSWORD` settings of `user`. */
  credentials(user: NatsUserName): { NATS_USER: string; NATS_PASSWORD: string };
  /** A new connection as `user` (with the service's inbox prefix, as the service connects). */
  connect(user: NatsUserName): Promise<NatsConnection>;
  stop(): Promise<void>;
  start(): Promise<void>;
  /** Stops, waits `downMs`, starts again on the same port and store. */
  restart(downMs?: number): Promise<void>;
  /** Stops it and deletes its store. */
  dispose(): Promise<void>;
}

/**
 * Starts a nats-server of the test's own whose service users are allowed what they would be in
 * `namespace` (default: a new unique tag), with client TLS when `tls` is given. @throws when no nats-server binary can be found or built.
 */
export async function startOwnNatsServer(
  opts: { namespace?: string; tls?: { certFile: string; keyFile: string } } = {},
): Promise<OwnNatsServer> {
  const bin = natsServerBinary();
  if (!bin) throw new Error('no nats-server binary (npm test finds or builds one)');
  const namespace = opts.namespace ?? uniqueTag();
  const port = await freePort();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'nats-test-'));
  const passwords = new Map<string, string>();
  const passwordOf = (user: string) => {
    if (!passwords.has(user)) passwords.set(user, randomBytes(16).toString('hex'));
    return passwords.get(user)!;
  };
  const config = path.join(dir, 'nats.conf');
  writeFileSync(
    config,
    natsServerConfig({
      listen: `127.0.0.1:${port}`,
      storeDir: path.join(dir, 'store'),
      users: natsUsers(passwordOf, namespace, passwordOf('ops'), passwordOf('operator')),
      tls: opts.tls,
    }),
  );
  let child: ChildProcess | undefined;
  const url = `nats://127.0.0.1:${port}`;
  const server: OwnNatsServer = {
    url,
    namespace,
    credentials: (user) => ({ NATS_USER: user, NATS_PASSWORD: passwordOf(user) }),
    connect: (user) =>
      connect({ servers: url, user, pass: passwordOf(user), ...(user === 'ops' ? {} : { inboxPrefix: inboxPrefixOf(user) }) }),
    async start() {
      child = spawn(bin, ['-c', config], { stdio: 'ignore' });
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
      rmSync(dir, { recursive: true, force: true });
    },
  };
  await server.start();
  return server;
}
