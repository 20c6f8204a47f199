/**
 * `npm run token -- --sub s-1`: prints an access token for the Authorization header or
 * connection_init.
 * - While `npm start` runs: a real one, from its embedded identity provider (ES256, `roles`
 *   claim), for one of its demo people (s-1, s-2, s-3, i-1, i-2, a-1); `--role` alone picks the
 *   first person with that role.
 * - `--shared-secret` (or no provider running): a shared-secret HS256 token for any `--sub` and
 *   `--role`, signed with JWT_SECRET or this checkout's dev secret (.data/dev-secrets.json), which
 *   `npm start` also accepts, by name (AUTH_MODE=oidc+shared-secret). `--ttl` seconds, default 8 h.
 */
import { parseArgs } from 'node:util';
import { devSecrets, ensureBuilt, ensureDependencies } from '#devkit/provision';

const { values } = parseArgs({
  options: {
    role: { type: 'string' },
    sub: { type: 'string' },
    ttl: { type: 'string', default: String(8 * 3600) },
    'shared-secret': { type: 'boolean', default: false },
    issuer: { type: 'string', default: process.env.OIDC_ISSUER ?? `http://127.0.0.1:${process.env.IDP_PORT ?? 4010}` },
  },
});
const role = /** @type {'STUDENT' | 'INSTRUCTOR' | 'ADMIN' | undefined} */ (values.role?.toUpperCase());
if (role && !['STUDENT', 'INSTRUCTOR', 'ADMIN'].includes(role)) {
  process.stderr.write('--role must be STUDENT, INSTRUCTOR or ADMIN\n');
  process.exit(2);
}
ensureDependencies();
ensureBuilt();
const { DEMO_GRANT, DEMO_USERS } = await import('@courses/identity-provider/demo');
const sub = values.sub ?? DEMO_USERS.find((u) => u.roles.includes(role ?? 'STUDENT'))?.sub;

if (!values['shared-secret']) {
  const res = await fetch(`${values.issuer}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: DEMO_GRANT, client_id: 'courses-cli', username: sub }),
  }).catch(() => undefined);
  if (res) {
    const body = await res.json();
    if (!res.ok) {
      process.stderr.write(`the identity provider at ${values.issuer} refused: ${body.error_description ?? body.error}\n`);
      process.exit(1);
    }
    process.stdout.write(`${body.access_token}\n`);
    process.exit(0);
  }
  process.stderr.write(`no identity provider at ${values.issuer} (npm start runs one): signing a shared-secret token instead\n`);
}
const { issueToken } = await import('@courses/gateway');
process.stdout.write(
  `${await issueToken(
    { sub, role: role ?? /** @type {typeof role} */ (DEMO_USERS.find((u) => u.sub === sub)?.roles[0]) ?? 'STUDENT' },
    process.env.JWT_SECRET ?? devSecrets().JWT_SECRET,
    Number(values.ttl),
  )}\n`,
);
