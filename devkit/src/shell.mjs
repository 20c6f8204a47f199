/**
 * What every provisioning script shares: where the checkout and its local state are, a step line,
 * running a command, finding one on PATH. Plain Node, no dependencies (runs before npm install).
 */
import { spawnSync } from 'node:child_process';
import { statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const DATA = path.join(ROOT, '.data');
export const LOGS = path.join(DATA, 'logs');

/** Prints a step line. */
export function say(msg) {
  process.stdout.write(`» ${msg}\n`);
}

/** Runs a command to completion, inheriting stdio unless `quiet`; returns the exit status. */
export function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, {
    cwd: opts.cwd ?? ROOT,
    stdio: opts.quiet ? 'pipe' : 'inherit',
    env: { ...process.env, ...opts.env },
    encoding: 'utf8',
  });
  if (r.error && !opts.allowFail) throw r.error;
  return r;
}

/** Full path of `cmd` on PATH (or in `extra` folders), or undefined. */
export function which(cmd, extra = []) {
  const dirs = [...(process.env.PATH ?? '').split(path.delimiter), ...extra];
  for (const d of dirs) {
    const p = path.join(d, cmd);
    try {
      if (statSync(p).isFile()) return p;
    } catch {
      /* not here */
    }
  }
  return undefined;
}

/** The Go toolchain (PATH or /usr/local/go/bin), or undefined. */
export function goBin() {
  return which('go', ['/usr/local/go/bin']);
}
