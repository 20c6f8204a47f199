/**
 * `npm run token -- --role STUDENT --sub s-1 [--ttl 28800]`: prints a dev JWT signed with
 * JWT_SECRET, or this checkout's secret that `npm start` uses (.data/dev-secrets.json), for the
 * Authorization header or connection_init.
 */
import { parseArgs } from 'node:util';
import { devSecrets, ensureBuilt, ensureDependencies } from './lib/provision.mjs';

const { values } = parseArgs({
  options: { role: { type: 'string', default: 'STUDENT' }, sub: { type: 'string' }, ttl: { type: 'string', default: String(8 * 3600) } },
});
const role = values.role.toUpperCase();
if (!['STUDENT', 'INSTRUCTOR', 'ADMIN'].includes(role)) {
  process.stderr.write('--role must be STUDENT, INSTRUCTOR or ADMIN\n');
  process.exit(2);
}
ensureDependencies();
ensureBuilt();
const { issueToken } = await import('@courses/gateway');
const sub = values.sub ?? { STUDENT: 's-1', INSTRUCTOR: 'i-1', ADMIN: 'admin' }[role];
process.stdout.write(`${await issueToken({ sub, role }, devSecrets().JWT_SECRET, Number(values.ttl))}\n`);
