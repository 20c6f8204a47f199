/**
 * `npm run check:consistency`: checks the running system's databases (see lib/consistency.ts)
 * and exits 1 when any invariant is violated.
 *
 * Databases: REGISTRATION_MONGODB_URI, PAYMENT_MONGODB_URI, LECTURE_MONGODB_URI and
 * DASHBOARD_MONGODB_URI, or else database `courses_<name>` on MONGODB_URI (default
 * mongodb://127.0.0.1:27017, where `npm start` puts them). OUTBOX_MAX_AGE_MS (30000) and
 * PENDING_MAX_AGE_MS (60000) set the age bounds.
 */
import { checkConsistency, formatViolations, type DatabaseUris } from '@courses/devkit/consistency';

const base = process.env.MONGODB_URI ?? 'mongodb://127.0.0.1:27017';
const uri = (name: keyof DatabaseUris) => {
  const own = process.env[`${name.toUpperCase()}_MONGODB_URI`];
  if (own) return own;
  const u = new URL(base);
  u.pathname = `/courses_${name}`;
  return u.toString();
};
const uris: DatabaseUris = {
  registration: uri('registration'),
  payment: uri('payment'),
  lecture: uri('lecture'),
  dashboard: uri('dashboard'),
};
const violations = await checkConsistency(uris, {
  outboxMaxAgeMs: Number(process.env.OUTBOX_MAX_AGE_MS ?? 30_000),
  pendingMaxAgeMs: Number(process.env.PENDING_MAX_AGE_MS ?? 60_000),
});
if (violations.length) {
  process.stdout.write(`✖ ${violations.length} violation(s):\n${formatViolations(violations)}\n`);
  process.exit(1);
}
process.stdout.write('✔ consistent: every invariant holds\n');
