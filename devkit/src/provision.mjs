/**
 * Finds or starts what the system needs on this machine, for `npm start` and `npm test`.
 * Plain Node (no dependencies), so it runs before `npm install`.
 *
 * NATS:    NATS_URL if set; else nats-server (PATH, or built with Go, ./tools.mjs) started here
 *          with one user per service (store and config under .data/nats); else a message saying
 *          how to get one.
 * MongoDB: ./mongo-wire.mjs (MONGODB_URI, mongod, FerretDB, mongodb-memory-server).
 * Ports and processes: ./processes.mjs. This module is the devkit's `provision` face: it
 * re-exports what the scripts and the test kit use of both.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { freePort, startProcess, waitForPort } from './processes.mjs';
import { DATA, ROOT, run, say, which } from './shell.mjs';
import { installedNatsServer, k8sCheckTool, natsServerTool } from './tools.mjs';

export { ensureMongo, ferretDbArgs, ferretDbBinary, withDatabase } from './mongo-wire.mjs';
export { freePort, portOpen, startProcess, stopStarted, waitForPort } from './processes.mjs';
export { DATA, LOGS, ROOT, run, say, which } from './shell.mjs';
export { prebuildTools } from './tools.mjs';

/**
 * Installs dependencies when node_modules is missing or older than package-lock.json.
 * @returns true when it installed them.
 */
export function ensureDependencies() {
  const marker = path.join(ROOT, 'node_modules', '.package-lock.json');
  const lock = path.join(ROOT, 'package-lock.json');
  if (existsSync(marker) && (!existsSync(lock) || statSync(marker).mtimeMs >= statSync(lock).mtimeMs)) return false;
  say('installing dependencies (npm ci)');
  const r = run('npm', existsSync(lock) ? ['ci', '--no-audit', '--no-fund'] : ['install', '--no-audit', '--no-fund']);
  if (r.status !== 0) throw new Error('npm could not install the dependencies');
  return true;
}

/** Compiles every workspace (TypeScript project references; incremental, fast when up to date). */
export function ensureBuilt() {
  const tsc = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  const r = run(process.execPath, [tsc, '-b'], { quiet: true });
  if (r.status !== 0) {
    process.stderr.write(r.stdout + r.stderr);
    throw new Error('the TypeScript build failed');
  }
}

/**
 * The nats-server binary: NATS_SERVER_BIN, PATH, /usr/sbin or /usr/local/bin; else the one built
 * with Go and cached across clones (./tools.mjs). @returns the path, or undefined.
 */
export function natsServerBinary() {
  if (process.env.NATS_SERVER_BIN) return process.env.NATS_SERVER_BIN;
  const found = installedNatsServer();
  if (found) return found;
  const building = !natsServerTool({ build: false });
  if (building) say('building nats-server with Go (once per machine)');
  return natsServerTool();
}

/** platform/src/messaging/nats-auth.ts from the build: the services' NATS users (BUS) and the server configuration. */
export async function natsAuth() {
  return import(pathToFileURL(path.join(ROOT, 'platform', 'dist', 'messaging', 'nats-auth.js')).href);
}

/**
 * Finds or starts NATS with JetStream, every client authenticated (see platform/src/messaging/nats-auth.ts);
 * returns { url, startedHere, how, credentials } where `credentials(service)` is the
 * `{ NATS_USER, NATS_PASSWORD }` a service (or `ops`, for tools) connects with.
 * - NATS_URL set: that server, which must know this checkout's users (`npm run nats:config`
 *   prints its configuration);
 * - else nats-server ({@link natsServerBinary}) started here on `preferPort` (else a free port),
 *   with its configuration and store in .data/nats and the passwords of {@link devSecrets}.
 * A server that already answers on 4222 without these users is not used: it would let anyone
 * publish anything. One server per process: later calls return the first one.
 * @param {{ preferPort?: number, store?: string, fresh?: boolean, namespace?: string }} [opts]
 *   `store`: folder under .data/nats for its JetStream store (default `store`, kept across runs);
 *   `fresh`: empty it first; `namespace`: the services' NATS_NAMESPACE, which their permissions
 *   name (default: NATS_NAMESPACE from the environment, else none).
 * @throws with instructions when no nats-server can be found or built.
 */
export function ensureNats(opts = {}) {
  natsOnce ??= startNats(opts);
  return natsOnce;
}
let natsOnce;

async function startNats({ preferPort = 4222, store = 'store', fresh = false, namespace = process.env.NATS_NAMESPACE ?? '' }) {
  const { NATS_PASSWORDS } = devSecrets();
  const credentials = (service) => ({ NATS_USER: service, NATS_PASSWORD: NATS_PASSWORDS[service] });
  if (process.env.NATS_URL) return { url: process.env.NATS_URL, startedHere: false, how: 'NATS_URL', credentials };
  const bin = natsServerBinary();
  if (!bin) {
    throw new Error(
      'no nats-server: install it (Debian/Ubuntu: `apt-get install nats-server`; macOS: `brew install nats-server`), ' +
        'or install Go (https://go.dev/dl) so it can be built, or set NATS_URL; then run again',
    );
  }
  const port = await freePort(preferPort);
  const dir = path.join(DATA, 'nats');
  mkdirSync(dir, { recursive: true });
  const { natsServerConfig, natsUsers } = await natsAuth();
  const config = path.join(dir, `${store}.conf`);
  const users = natsUsers((s) => NATS_PASSWORDS[s], namespace, NATS_PASSWORDS.ops, NATS_PASSWORDS.operator);
  const storeDir = path.join(dir, store);
  if (fresh) rmSync(storeDir, { recursive: true, force: true });
  writeFileSync(config, natsServerConfig({ listen: `127.0.0.1:${port}`, storeDir, users }), { mode: 0o600 });
  startProcess('nats', bin, ['-c', config]);
  await waitForPort(port, 'nats-server');
  return { url: `nats://127.0.0.1:${port}`, startedHere: true, how: `started ${bin} with per-service users (${config})`, credentials };
}

/**
 * The manifests' checker (deploy/k8s/check), built with Go when missing or when its source
 * changed and cached across clones (./tools.mjs); undefined when Go is missing or the build fails.
 */
export function k8sCheckBinary() {
  if (!k8sCheckTool({ build: false })) say('building the Kubernetes manifests checker with Go (deploy/k8s/check; once per machine)');
  return k8sCheckTool();
}

/**
 * Finds Chromium for the browser tests (CHROMIUM_PATH, or Debian's /usr/bin/chromium); as
 * root with apt-get, installs Debian's `chromium` package when missing. Never downloads a
 * browser build of its own. @returns the executable path, or undefined (browser tests skip).
 */
export function ensureChromium() {
  const known = [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser'].filter(Boolean);
  const found = () => known.find((p) => existsSync(p));
  if (found()) return found();
  const apt = which('apt-get');
  if (apt && process.getuid?.() === 0) {
    say("installing Debian's chromium for the browser tests (once)");
    run(apt, ['update', '-qq'], { quiet: true, allowFail: true, env: { DEBIAN_FRONTEND: 'noninteractive' } });
    run(apt, ['install', '-y', '-qq', 'chromium'], { quiet: true, allowFail: true, env: { DEBIAN_FRONTEND: 'noninteractive' } });
  }
  if (!found()) say("no Chromium found (set CHROMIUM_PATH, or install Debian's chromium): browser tests will be skipped");
  return found();
}

/**
 * redis-server, for the gateways' shared rate limits: REDIS_SERVER_BIN (`none`: run without
 * Redis), else on PATH or Debian's /usr/bin/redis-server; as root with apt-get, installs Debian's `redis-server` package when
 * missing (as ensureChromium does). @returns the executable path, or undefined.
 */
export function redisServerBinary({ install = true } = {}) {
  if (process.env.REDIS_SERVER_BIN === 'none') return undefined;
  const found = () =>
    [process.env.REDIS_SERVER_BIN, which('redis-server'), '/usr/bin/redis-server'].filter(Boolean).find((p) => existsSync(p));
  if (found() || !install) return found();
  const apt = which('apt-get');
  if (apt && process.getuid?.() === 0) {
    say("installing Debian's redis-server for the gateways' shared rate limits (once)");
    run(apt, ['update', '-qq'], { quiet: true, allowFail: true, env: { DEBIAN_FRONTEND: 'noninteractive' } });
    run(apt, ['install', '-y', '-qq', 'redis-server'], { quiet: true, allowFail: true, env: { DEBIAN_FRONTEND: 'noninteractive' } });
  }
  return found();
}

/**
 * Starts a redis-server of this run on a free port, in memory only (rate-limit counts need no
 * persistence); stopped with the other started processes. @returns `{ url, port, how, child }`, or undefined
 * when there is no redis-server (the gateway then counts in its own memory).
 */
export async function startRedis() {
  const bin = redisServerBinary();
  if (!bin) return undefined;
  const port = await freePort(6380);
  const child = startProcess('redis', bin, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no']);
  await waitForPort(port, 'redis-server', 15_000);
  return { url: `redis://127.0.0.1:${port}`, port, how: `started ${bin}`, child };
}

/** The NATS users `npm start` runs with: one per service (BUS in @courses/contracts), the `operator` and `ops`. */
const NATS_USERS = ['registration', 'payment', 'lecture', 'dashboard', 'gateway', 'operator', 'ops'];

/**
 * The secrets of this checkout's local runs: `JWT_SECRET` / `GATEWAY_SECRET` from the environment
 * when set, else the ones in `.data/dev-secrets.json`, and a NATS password per user
 * (`NATS_PASSWORDS`); each made once from 32 random bytes (hex), in a file readable by the owner
 * only. So no public default protects a system `npm start` runs, and `npm run token`, the seed,
 * the scenario and the benchmarks use what that system checks.
 * @returns {{ JWT_SECRET: string, GATEWAY_SECRET: string, NATS_PASSWORDS: Record<string, string> }}
 */
export function devSecrets() {
  const file = path.join(DATA, 'dev-secrets.json');
  const random = () => randomBytes(32).toString('hex');
  let stored;
  try {
    stored = JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    stored = { JWT_SECRET: random(), GATEWAY_SECRET: random() };
  }
  const missing = NATS_USERS.filter((u) => !stored.NATS_PASSWORDS?.[u]);
  if (missing.length || !existsSync(file)) {
    stored.NATS_PASSWORDS = { ...stored.NATS_PASSWORDS, ...Object.fromEntries(missing.map((u) => [u, random()])) };
    mkdirSync(DATA, { recursive: true });
    writeFileSync(file, `${JSON.stringify(stored, null, 2)}\n`, { mode: 0o600 });
  }
  return {
    JWT_SECRET: process.env.JWT_SECRET || stored.JWT_SECRET,
    GATEWAY_SECRET: process.env.GATEWAY_SECRET || stored.GATEWAY_SECRET,
    NATS_PASSWORDS: stored.NATS_PASSWORDS,
  };
}
