/** Runs a TypeScript script (scripts/*.ts) after making sure dependencies are installed and workspaces built. */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { ensureBuilt, ensureDependencies, ROOT } from '#devkit/provision';

ensureDependencies();
ensureBuilt();
const [script, ...args] = process.argv.slice(2);
const r = spawnSync(process.execPath, ['--import', 'tsx', path.resolve(ROOT, script), ...args], { stdio: 'inherit', cwd: ROOT });
process.exit(r.status ?? 1);
