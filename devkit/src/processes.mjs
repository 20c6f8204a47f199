/**
 * Ports and the helper processes a run starts (nats-server, FerretDB, Redis, PostgreSQL), each
 * logging to .data/logs/<name>.log and stopped, newest first, by {@link stopStarted}.
 * Plain Node (no dependencies), so it runs before `npm install`.
 */
import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { LOGS, ROOT } from './shell.mjs';

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
 * Stops `child` with the processes this run started (one whose stop is its own, such as an
 * embedded server's: `once('exit', cb)` calls cb once stopped).
 * @param {string} name
 * @param {{ exitCode: number | null, signalCode: string | null, once: (event: string, cb: () => void) => void, kill: () => unknown }} child
 */
export function stopWithRun(name, child) {
  started.push({ name, child });
}
