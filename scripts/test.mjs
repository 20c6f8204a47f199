/**
 * `npm test`: installs dependencies if missing, builds, checks that the checked-in
 * supergraph is current, finds (or builds) nats-server and finds or starts a MongoDB-wire
 * server (as `npm start` does), runs every test with vitest, then stops what it started. Exit code: vitest's
 * (non-zero on any failure). Extra arguments go to vitest (e.g. `npm test -- tests/e2e`).
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import {
  ensureBuilt,
  ensureChromium,
  ensureDependencies,
  ensureMongo,
  ferretDbBinary,
  k8sCheckBinary,
  natsServerBinary,
  prebuildTools,
  redisServerBinary,
  ROOT,
  say,
  stopStarted,
} from '#devkit/provision';

const t0 = Date.now();
let status = 1;
try {
  // The Go builds (FerretDB, nats-server, the manifests checker) run in a process of their own while npm installs.
  const tools = prebuildTools({ k8s: true });
  ensureDependencies();
  say('building');
  ensureBuilt();
  await tools.done;
  // Each test system starts a nats-server of its own, configured as production (test-kit/src/nats-server.ts).
  const natsServer = natsServerBinary();
  if (!natsServer)
    throw new Error(
      'no nats-server: install it (Debian/Ubuntu: `apt-get install nats-server`; macOS: `brew install nats-server`) or Go, so it can be built',
    );
  say(`NATS: ${natsServer} (one server per test system)`);
  const mongo = await ensureMongo({ preferPort: 27018 });
  say(`MongoDB: ${mongo.how}`);
  // What must hold on both of FerretDB's backends is also tested on one on SQLite of the tests' own.
  const ferret = ferretDbBinary();
  if (ferret) say(`FerretDB for the tests' own servers: ${ferret.bin} (${ferret.backends.join(', ')})`);
  const chromium = ensureChromium();
  const redisServer = redisServerBinary();
  say(redisServer ? `redis-server: ${redisServer}` : 'no redis-server: the shared rate-limit tests are skipped');
  const k8sCheck = k8sCheckBinary();
  say(k8sCheck ? `Kubernetes manifests checker: ${k8sCheck}` : 'no Go: the Kubernetes manifests tests are skipped');
  const vitest = path.join(ROOT, 'node_modules', 'vitest', 'vitest.mjs');
  const r = spawnSync(process.execPath, [vitest, 'run', ...process.argv.slice(2)], {
    cwd: ROOT,
    stdio: 'inherit',
    env: {
      ...process.env,
      TEST_MONGODB_URI: mongo.uri,
      NATS_SERVER_BIN: natsServer,
      ...(ferret?.backends.includes('sqlite') ? { FERRETDB_BIN: ferret.bin } : {}),
      // Where this run's reserved ports start in each worker's block (test-kit/src/system.ts).
      TEST_PORT_OFFSET: String(100 * Math.floor(Math.random() * 10)),
      ...(chromium ? { CHROMIUM_PATH: chromium } : {}),
      ...(redisServer ? { REDIS_SERVER_BIN: redisServer } : {}),
      ...(k8sCheck ? { K8S_CHECK_BIN: k8sCheck } : {}),
    },
  });
  status = r.status ?? 1;
} catch (err) {
  process.stderr.write(`✖ ${err.message}\n`);
} finally {
  await stopStarted();
  say(`npm test finished in ${((Date.now() - t0) / 1000).toFixed(1)} s (exit ${status})`);
}
process.exit(status);
