/**
 * A FerretDB on SQLite of a test's own, beside the suite's MongoDB-wire server, for what must
 * hold on both of FerretDB's backends (their concurrency differs: SQLite serializes writers,
 * PostgreSQL does not). `npm test` passes the binary in FERRETDB_BIN (devkit/src/provision.mjs
 * ferretDbBinary); without it, {@link ferretDbAvailable} is false.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ferretDbArgs, freePort, portOpen } from '@courses/devkit/provision';

/** True when a FerretDB binary was provided (FERRETDB_BIN). */
export const ferretDbAvailable = (): boolean => !!process.env.FERRETDB_BIN;

/** A running FerretDB: its URI (no database) and how to stop it. */
export interface OwnFerretDb {
  uri: string;
  stop(): Promise<void>;
}

/**
 * Starts FerretDB on SQLite, in a temporary folder removed by stop().
 * @throws when FERRETDB_BIN is not set, or it does not listen within 20 s.
 */
export async function startFerretDbOnSqlite(): Promise<OwnFerretDb> {
  const bin = process.env.FERRETDB_BIN;
  if (!bin) throw new Error('FERRETDB_BIN is not set: run the tests with `npm test`');
  const dir = mkdtempSync(path.join(tmpdir(), 'ferretdb-sqlite-'));
  const port: number = await freePort();
  const child: ChildProcess = spawn(bin, ['--handler=sqlite', `--sqlite-url=file:${dir}/`, ...ferretDbArgs(port, dir)], {
    stdio: 'ignore',
  });
  for (let i = 0; !(await portOpen(port)); i++) {
    if (i > 200 || child.exitCode !== null) throw new Error(`FerretDB on SQLite did not listen on ${port}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    uri: `mongodb://127.0.0.1:${port}/?maxPoolSize=8`,
    async stop() {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
