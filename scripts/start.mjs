/**
 * `npm start`: installs dependencies if missing, builds, finds or starts NATS and a
 * MongoDB-wire server, starts the four subgraphs and the gateway, loads the demo catalog,
 * prints the URLs, and stops everything it started on Ctrl-C (SIGINT) or SIGTERM.
 *
 * Ports: gateway 4000, registration 4001, payment 4002, lecture 4003, dashboard 4004, the
 * embedded identity provider 4010 (override with GATEWAY_PORT, REGISTRATION_PORT, ...,
 * IDP_PORT). Service logs: .data/logs/<name>.log.
 *
 * Sign-in: the gateway trusts the embedded OpenID provider (DEV-ONLY, @courses/identity-provider,
 * in this process) through discovery, like any issuer; it also takes shared-secret tokens signed
 * with this checkout's dev secret, by name (AUTH_MODE=oidc+shared-secret), for the seed, the
 * scenario, the benchmarks and the pages' demo picker.
 */
import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { DATA, ensureBuilt, ensureDependencies, LOGS, prebuildTools, ROOT, run, say, stopStarted } from '#devkit/provision';
import { SERVICES, startStack } from './lib/stack.mjs';

/** The NATS URL of the running `npm start` (see scripts/dead-letters.ts). */
const NATS_URL_FILE = path.join(DATA, 'nats', 'url');

const t0 = Date.now();
let shuttingDown = false;
/** @type {import('@courses/identity-provider').RunningIdentityProvider | undefined} */
let idp;
async function shutdown(code = 0) {
  if (shuttingDown) return;
  shuttingDown = true;
  say('stopping services…');
  await stopStarted(
    15_000,
    SERVICES.map((s) => s.name),
  );
  await idp?.stop();
  rmSync(NATS_URL_FILE, { force: true });
  say('stopping NATS / MongoDB started by this run…');
  await stopStarted();
  say('stopped');
  process.exit(code);
}
process.on('SIGINT', () => void shutdown(0));
process.on('SIGTERM', () => void shutdown(0));

/** Seconds since `from` (ms epoch), one decimal. */
const since = (from) => ((Date.now() - from) / 1000).toFixed(1);

async function main() {
  // The Go builds (FerretDB, nats-server) run in a process of their own while npm installs.
  const tools = prebuildTools();
  const steps = [];
  let t = Date.now();
  if (ensureDependencies()) steps.push(`install ${since(t)} s`);
  t = Date.now();
  say('building');
  ensureBuilt();
  steps.push(`TypeScript build ${since(t)} s`);
  t = Date.now();
  await tools.done;
  if (tools.building.length) steps.push(`${tools.building.join(', ')} built alongside (${since(t)} s more)`);
  t = Date.now();
  const ports = Object.fromEntries(SERVICES.map((s) => [s.name, Number(process.env[`${s.name.toUpperCase()}_PORT`] ?? s.port)]));
  say('starting the embedded identity provider (DEV-ONLY)');
  const { startIdentityProvider } = await import('@courses/identity-provider');
  // The pages and GraphiQL sign in with Authorization Code + PKCE and come back to themselves.
  const pages = ['127.0.0.1', 'localhost'].flatMap((h) =>
    ['/app', '/app/instructor', '/graphql'].map((p) => `http://${h}:${ports.gateway}${p}`),
  );
  idp = await startIdentityProvider({
    port: Number(process.env.IDP_PORT ?? 4010),
    keysFile: path.join(DATA, 'identity-provider-keys.json'),
    redirectUris: pages,
  });
  const { urls, nats } = await startStack({
    ports,
    say,
    env: {
      gateway: {
        OIDC_ISSUER: idp.issuer,
        OIDC_AUDIENCE: idp.audience,
        AUTH_MODE: 'oidc+shared-secret',
        // The demo sign-in of GraphiQL (DEV-ONLY; production refuses it).
        DEV_TOKENS: process.env.DEV_TOKENS ?? 'on',
      },
    },
    onUnexpectedExit: (name, code, signal) => {
      if (shuttingDown) return;
      process.stderr.write(`✖ ${name} exited (${signal ?? code}); see ${path.join(LOGS, `${name}.log`)}\n`);
      void shutdown(1);
    },
  });

  steps.push(`services up ${since(t)} s`);
  // Where tools find this run's NATS (npm run dead-letters).
  writeFileSync(NATS_URL_FILE, nats.url);
  t = Date.now();
  say('loading the demo catalog');
  const seed = run(process.execPath, [path.join(ROOT, 'scripts', 'run-ts.mjs'), 'scripts/seed.ts'], { env: { GATEWAY_URL: urls.gateway } });
  if (seed.status !== 0) throw new Error('loading the demo catalog failed');

  steps.push(`demo catalog ${since(t)} s`);
  process.stdout.write(`
  Course registration supergraph is up (${since(t0)} s: ${steps.join(', ')}).

  GraphQL + GraphiQL   ${urls.gateway}/graphql   (subscriptions: ${urls.gateway.replace(/^http/, 'ws')}/graphql)
  Identity provider    ${idp.issuer}   (DEV-ONLY; people: s-1, s-2, s-3, i-1, i-2, a-1)
  Token for curl       npm run token -- --sub s-1
  Play the scenario    npm run scenario
  Subgraphs            ${SERVICES.slice(0, 4)
    .map((s) => `${s.name} ${urls[s.name]}`)
    .join(', ')}
  Health / metrics     ${urls.gateway}/health/ready, ${urls.gateway}/metrics
  Dead letters         npm run dead-letters
  Logs                 ${LOGS}
  Data                 ${DATA}

  Press Ctrl-C to stop.
`);
}

main().catch(async (err) => {
  process.stderr.write(`✖ ${err.message}\n`);
  await shutdown(1);
});
