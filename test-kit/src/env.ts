/**
 * Where the test servers are. `npm test` (scripts/test.mjs) finds or starts a MongoDB-wire
 * server and passes it in TEST_MONGODB_URI; each test system starts its own NATS server
 * (./nats-server.ts).
 */
import { randomBytes } from 'node:crypto';

function required(name: string): string {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run the tests with \`npm test\`, which provisions MongoDB and NATS`);
  return v;
}

/** MongoDB server URI without a database name, e.g. mongodb://127.0.0.1:27017 */
export const mongoBase = () => required('TEST_MONGODB_URI').replace(/\/+$/, '');

/** URI of database `name` on the test server. */
export function mongoUri(name: string): string {
  const base = new URL(mongoBase());
  base.pathname = `/${name}`;
  return base.toString();
}

/** A short unique tag for isolating one test file's databases and NATS subjects. */
export function uniqueTag(prefix = 't'): string {
  return `${prefix}${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
}

/**
 * Whether a suite's tool is here, for `describe.skipIf(!toolAvailable(…))`. On a developer's
 * machine a missing tool skips its suite (said in the test's name); where every suite must run
 * (`REQUIRE_TEST_TOOLS=1`, as .ci/run sets, or `CI=true`) it fails the file instead, so that no
 * suite passes by not running.
 * @param name what is missing, e.g. `chromium`
 * @param available whether it was found
 * @param how where it comes from, for the failure's message
 * @throws Error when it is missing and every suite must run
 */
export function toolAvailable(name: string, available: boolean, how: string): boolean {
  if (!available && (process.env.REQUIRE_TEST_TOOLS === '1' || process.env.CI === 'true'))
    throw new Error(`${name} is missing and every suite must run here (REQUIRE_TEST_TOOLS=1 or CI=true): ${how}`);
  return available;
}
