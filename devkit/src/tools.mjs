/**
 * The native tools this project builds with Go when the machine lacks them: FerretDB (v1.24.2
 * with the patches in scripts/ferretdb), nats-server, and the Kubernetes manifests checker
 * (deploy/k8s/check). Each build is cached across clones, in the user's cache
 * (`COURSES_TOOL_CACHE`, else `$XDG_CACHE_HOME/course-registration`, else
 * `~/.cache/course-registration`), one folder per tool and build id (its version and the digest of
 * its patches or sources), so a second clone, or CI's fresh one, starts with them at once. A build
 * goes to a folder of its own and is renamed into place when complete, so two runs building at
 * once cannot see half a tool.
 *
 * `node devkit/src/tools.mjs [--k8s]` builds what is missing, in a process of its own:
 * `npm start` and `npm test` start it before `npm ci` and wait for it after
 * ({@link prebuildTools}), so the two run side by side. Plain Node, no dependencies.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, cpSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DATA, goBin, LOGS, ROOT, run, say, which } from './shell.mjs';

const FERRETDB_VERSION = 'v1.24.2';
const FERRETDB_MODULE = 'github.com/FerretDB/FerretDB';
/** Patches applied to FerretDB's source before it is built (`git apply`, in name order). */
const FERRETDB_PATCHES = path.join(ROOT, 'scripts', 'ferretdb');
const NATS_SERVER_VERSION = 'v2.10.29';
const NATS_SERVER_MODULE = 'github.com/nats-io/nats-server/v2';
/** Source of the manifests' checker (render with kustomize, decode strictly into the Kubernetes API types). */
const K8S_CHECK_SRC = path.join(ROOT, 'deploy', 'k8s', 'check');

/** The folder of cached tool builds (see the module doc). */
export function toolCache() {
  return (
    process.env.COURSES_TOOL_CACHE ?? path.join(process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'course-registration')
  );
}

/** A tool build: its name, its id, and how to build its files into a folder (true when it did). */
function tool(name, id, build) {
  return { name, id, dir: path.join(toolCache(), `${name}-${id}`), build };
}

/** The folder of a complete cached build, or undefined. */
function cached(t) {
  return existsSync(path.join(t.dir, '.complete')) ? t.dir : undefined;
}

/** The folder of `t`'s cached build; built with Go when missing unless `build` is false. Undefined when there is none. */
function located(t, build) {
  return cached(t) ?? (build && goBin() ? ensure(t) : undefined);
}

/** Builds `t` into the cache unless it is there; the folder, or undefined when the build failed. */
function ensure(t) {
  if (cached(t)) return t.dir;
  mkdirSync(toolCache(), { recursive: true });
  const tmp = `${t.dir}.${process.pid}.tmp`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  if (!t.build(tmp)) {
    rmSync(tmp, { recursive: true, force: true });
    return undefined;
  }
  writeFileSync(path.join(tmp, '.complete'), `${t.name} ${t.id}\n`);
  try {
    renameSync(tmp, t.dir);
  } catch {
    rmSync(tmp, { recursive: true, force: true }); // another run put it in place first
  }
  return cached(t);
}

/** The digest (8 hex digits) of `files`. */
function digest(files) {
  const h = createHash('sha256');
  for (const f of files) h.update(readFileSync(f));
  return h.digest('hex').slice(0, 8);
}

function ferretTool() {
  const patches = readdirSync(FERRETDB_PATCHES)
    .filter((n) => n.endsWith('.patch'))
    .sort()
    .map((n) => path.join(FERRETDB_PATCHES, n));
  return tool('ferretdb', `${FERRETDB_VERSION}+${digest(patches)}`, (dir) => buildFerretDb(dir, patches));
}

function natsTool() {
  return tool('nats-server', NATS_SERVER_VERSION, buildNatsServer);
}

function k8sTool() {
  return tool('k8s-check', digest(['main.go', 'go.mod', 'go.sum'].map((f) => path.join(K8S_CHECK_SRC, f))), buildK8sCheck);
}

/**
 * FerretDB: the cached build, built with Go when missing (`build`: false only looks). Builds of
 * earlier versions of this project in .data/bin are moved into the cache.
 * @returns {{ bin: string, backends: string[] } | undefined}
 */
export function ferretDbTool({ build = true } = {}) {
  const t = ferretTool();
  adoptLegacyFerretDb(t);
  const dir = located(t, build);
  if (!dir) return undefined;
  return { bin: path.join(dir, 'ferretdb'), backends: readFileSync(path.join(dir, 'ferretdb.backends'), 'utf8').trim().split(',') };
}

/** A nats-server installed on the machine (PATH, /usr/sbin or /usr/local/bin), or undefined. */
export function installedNatsServer() {
  return which('nats-server', ['/usr/sbin', '/usr/local/bin']);
}

/** nats-server: the cached build, built with Go when missing (`build`: false only looks). @returns the path, or undefined. */
export function natsServerTool({ build = true } = {}) {
  const dir = located(natsTool(), build);
  return dir ? path.join(dir, 'nats-server') : undefined;
}

/**
 * The manifests' checker: the cached build for its current source, built with Go when missing (a
 * minute or two the first time: it fetches kustomize and k8s.io/api through the Go module proxy).
 * @returns the path, or undefined when Go is missing or the build fails (the reason is printed).
 */
export function k8sCheckTool({ build = true } = {}) {
  const dir = located(k8sTool(), build);
  return dir ? path.join(dir, 'k8s-check') : undefined;
}

/** A FerretDB this checkout built in .data/bin before the cache existed: into the cache, once. */
function adoptLegacyFerretDb(t) {
  const bin = path.join(DATA, 'bin', 'ferretdb');
  const id = path.join(DATA, 'bin', 'ferretdb.build');
  if (cached(t) || !existsSync(bin) || !existsSync(id) || readFileSync(id, 'utf8').trim() !== t.id) return;
  ensure({
    ...t,
    build: (dir) => {
      cpSync(bin, path.join(dir, 'ferretdb'));
      cpSync(path.join(DATA, 'bin', 'ferretdb.backends'), path.join(dir, 'ferretdb.backends'));
      return true;
    },
  });
}

/**
 * `go build <args>` in `cwd` (modules resolved through the proxy, GOFLAGS=-mod=mod).
 * @returns true when it built `target`; else false, with the last lines of its errors printed
 */
function goBuild(cwd, args, target) {
  const r = run(goBin(), ['build', ...args], { cwd, quiet: true, allowFail: true, env: { GOFLAGS: '-mod=mod' } });
  if (r.status === 0 && existsSync(target)) return true;
  process.stderr.write(
    `  go build ${args.join(' ')} in ${cwd} failed:\n${(r.stderr ?? r.error?.message ?? '').split('\n').slice(-8).join('\n')}\n`,
  );
  return false;
}

/** `go mod download -json module@version`: the folder of its source, or undefined. */
function download(module, version, env = {}) {
  const dl = run(goBin(), ['mod', 'download', '-json', `${module}@${version}`], { quiet: true, env, allowFail: true });
  if (dl.status !== 0) {
    process.stderr.write(`  could not download ${module}@${version}:\n${dl.stdout}${dl.stderr}\n`);
    return undefined;
  }
  return JSON.parse(dl.stdout).Dir;
}

/**
 * Builds FerretDB into `dir` with Go from the exact module version with `patches` applied (`go
 * install pkg@version` asks the proxy for the module's version list, which some proxies refuse, so
 * it downloads the version and builds a copy of its source).
 */
function buildFerretDb(dir, patches) {
  const src = download(FERRETDB_MODULE, FERRETDB_VERSION, { GOFLAGS: '-mod=mod' });
  if (!src) return false;
  const work = path.join(dir, 'src');
  cpSync(src, work, { recursive: true, force: true });
  run('chmod', ['-R', 'u+w', work], { quiet: true, allowFail: true });
  writeFileSync(path.join(work, 'build', 'version', 'version.txt'), `${FERRETDB_VERSION}\n`);
  // Stop git's repository discovery above the copy, or `git apply` could treat the patch's paths
  // as outside "its" tree and silently skip them.
  const gitEnv = { GIT_CEILING_DIRECTORIES: dir };
  for (const patch of patches) {
    const r = run('git', ['apply', patch], { cwd: work, quiet: true, allowFail: true, env: gitEnv });
    // Applied for real: the reverse now applies cleanly.
    const check =
      r.status === 0 ? run('git', ['apply', '--reverse', '--check', patch], { cwd: work, quiet: true, allowFail: true, env: gitEnv }) : r;
    if (check.status !== 0) {
      process.stderr.write(`  could not apply ${path.basename(patch)} to FerretDB's source:\n${r.stderr ?? ''}${check.stderr ?? ''}\n`);
      return false;
    }
  }
  const target = path.join(dir, 'ferretdb');
  const attempts = [
    { args: ['-o', target, './cmd/ferretdb'], backends: 'sqlite,postgresql' },
    { args: ['-ldflags=-checklinkname=0', '-o', target, './cmd/ferretdb'], backends: 'sqlite,postgresql' },
    { args: ['-tags', 'ferretdb_no_sqlite', '-o', target, './cmd/ferretdb'], backends: 'postgresql' },
  ];
  for (const a of attempts) {
    if (goBuild(work, a.args, target)) {
      chmodSync(target, 0o755);
      writeFileSync(path.join(dir, 'ferretdb.backends'), a.backends);
      rmSync(work, { recursive: true, force: true });
      return true;
    }
  }
  return false;
}

/** Builds nats-server into `dir` with Go. */
function buildNatsServer(dir) {
  const src = download(NATS_SERVER_MODULE, NATS_SERVER_VERSION);
  if (!src) return false;
  const target = path.join(dir, 'nats-server');
  return goBuild(src, ['-o', target, '.'], target);
}

/** Builds the manifests' checker into `dir` with Go. */
function buildK8sCheck(dir) {
  const target = path.join(dir, 'k8s-check');
  return goBuild(K8S_CHECK_SRC, ['-o', target, '.'], target);
}

/**
 * Starts building the tools that are missing (FerretDB; nats-server when none is on PATH; the
 * manifests' checker with `k8s`) in a process of its own, its output in .data/logs/tools.log, so
 * the builds run while the caller installs dependencies. Nothing starts when all are there or Go
 * is missing.
 * @returns {{ done: Promise<void>, building: string[] }} `done` resolves once the process exits
 */
export function prebuildTools({ k8s = false } = {}) {
  const missing = [
    !ferretDbTool({ build: false }) && process.env.MONGODB_URI === undefined && !which('mongod') ? 'FerretDB' : undefined,
    !process.env.NATS_SERVER_BIN && !installedNatsServer() && !natsServerTool({ build: false }) ? 'nats-server' : undefined,
    k8s && !k8sCheckTool({ build: false }) ? 'the manifests checker' : undefined,
  ].filter(Boolean);
  if (!missing.length || !goBin()) return { done: Promise.resolve(), building: [] };
  say(`building ${missing.join(', ')} with Go meanwhile (once per machine; see ${path.join(LOGS, 'tools.log')})`);
  mkdirSync(LOGS, { recursive: true });
  const log = openSync(path.join(LOGS, 'tools.log'), 'a');
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), ...(k8s ? ['--k8s'] : [])], { stdio: ['ignore', log, log] });
  return { done: new Promise((resolve) => child.once('exit', () => resolve())), building: missing };
}

// Run as a script: build what is missing.
if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const started = Date.now();
  ferretDbTool();
  if (!installedNatsServer()) natsServerTool();
  if (process.argv.includes('--k8s')) k8sCheckTool();
  process.stdout.write(`tools built in ${((Date.now() - started) / 1000).toFixed(1)} s (cache: ${toolCache()})\n`);
}
