/**
 * Starts the whole system as separate processes, the way `npm start` runs it: NATS and a
 * MongoDB-wire server found or started by devkit/src/provision.mjs, then the four subgraphs and the
 * gateway from their builds (`<dir>/dist/main.js`), each waited on until `/health/ready`, with
 * this checkout's secrets (devkit/src/provision.mjs devSecrets).
 * `npm start` and `npm run bench:load` both use it. Plain Node, no dependencies.
 */
import path from 'node:path';
import {
  devSecrets,
  ensureMongo,
  ensureNats,
  LOGS,
  portOpen,
  ROOT,
  startProcess,
  startRedis,
  stopStarted,
  waitForPort,
  withDatabase,
} from '#devkit/provision';

/** The services in start order (payment first: registration calls it), with their default ports. */
export const SERVICES = [
  { name: 'payment', dir: 'subgraphs/payment', port: 4002 },
  { name: 'lecture', dir: 'subgraphs/lecture', port: 4003 },
  { name: 'dashboard', dir: 'subgraphs/dashboard', port: 4004 },
  { name: 'registration', dir: 'subgraphs/registration', port: 4001 },
  // A 32 MB young generation (V8 default 16) for the gateway: the garbage of fanning an event out
  // to thousands of sockets dies young instead of being promoted, and the old-generation
  // collections it caused no longer stall deliveries (bench:subscriptions at 5,000 clients: p99
  // 156–190 → 85–89 ms; docs/performance.md). docker-compose.yml sets the same in NODE_OPTIONS.
  { name: 'gateway', dir: 'gateway', port: 4000, nodeArgs: ['--max-semi-space-size=32'] },
];

/**
 * Waits until the service on `port` answers `/health/ready` (MongoDB and NATS connected), not
 * just until its port opens.
 * @throws after 30 s.
 */
async function waitForReady(port, name) {
  await waitForPort(port, name);
  for (let i = 0; i < 300; i++) {
    const ready = await fetch(`http://127.0.0.1:${port}/health/ready`).then(
      (r) => r.ok,
      () => false,
    );
    if (ready) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${name} did not become ready within 30 s (see ${path.join(LOGS, `${name}.log`)})`);
}

/**
 * Starts one more process of service `name` (an entry of SERVICES) from the stack's environment
 * for it, on `port`, with `env` on top; resolves with the child once it is ready.
 * @param {{ envs: Record<string, Record<string, string>> }} stack what startStack returned
 * @param {string} name
 * @param {string} processName the name its log and the process table use, e.g. `registration#2`
 * @param {number} port
 * @param {Record<string, string>} [env]
 */
export async function startReplica(stack, name, processName, port, env = {}) {
  const s = SERVICES.find((x) => x.name === name);
  const child = startProcess(processName, process.execPath, [...(s.nodeArgs ?? []), path.join(ROOT, s.dir, 'dist', 'main.js')], {
    env: { ...stack.envs[name], ...env, PORT: String(port) },
  });
  await waitForReady(port, processName);
  return child;
}

/**
 * @typedef {object} StackOptions
 * @property {Record<string, number>} [ports] port per service name (default: SERVICES' ports)
 * @property {Record<string, Record<string, string>>} [env] extra environment per service name
 * @property {string} [databasePrefix] each subgraph's database is `<prefix>_<name>` (default `courses`)
 * @property {Record<string, string[]>} [nodeArgs] Node options per service name (e.g. `['--expose-gc']`)
 * @property {(line: string) => void} [say] progress output
 * @property {(name: string, code: number|null, signal: string|null) => void} [onUnexpectedExit]
 * @property {boolean} [redis] false: start no redis-server (the gateway counts rate limits in its own memory)
 */

/**
 * Starts NATS, MongoDB (when not already there) and every service.
 * @param {StackOptions} opts
 * @returns {Promise<{ urls: Record<string, string>, ports: Record<string, number>, nats: { url: string, how: string },
 *   mongo: { uri: string, how: string }, databases: Record<string, string>, children: Record<string, import('node:child_process').ChildProcess>,
 *   envs: Record<string, Record<string, string>>, stop: () => Promise<void> }>}
 * @throws when a port is taken, or a service does not become ready within 30 s.
 */
export async function startStack(opts = {}) {
  const say = opts.say ?? (() => undefined);
  const ports = Object.fromEntries(SERVICES.map((s) => [s.name, opts.ports?.[s.name] ?? s.port]));
  for (const s of SERVICES) {
    if (await portOpen(ports[s.name]))
      throw new Error(`port ${ports[s.name]} (${s.name}) is already in use: stop what runs there or set ${s.name.toUpperCase()}_PORT`);
  }
  const nats = await ensureNats();
  say(`NATS: ${nats.url} (${nats.how})`);
  const mongo = await ensureMongo();
  say(`MongoDB: ${mongo.uri.replace(/\/\/[^@]*@/, '//***@')} (${mongo.how})`);
  // The gateways' shared rate limits (gateway/src/limits.ts); without a redis-server each counts alone.
  const redis = opts.redis === false ? undefined : await startRedis();
  say(
    redis ? `Redis: ${redis.url} (${redis.how})` : 'Redis: none (install redis-server): the gateway counts rate limits in its own memory',
  );
  const urls = Object.fromEntries(SERVICES.map((s) => [s.name, `http://127.0.0.1:${ports[s.name]}`]));
  /** @type {Record<string, string>} */
  const databases = {};
  /** @type {Record<string, import('node:child_process').ChildProcess>} */
  const children = {};
  /** @type {Record<string, Record<string, string>>} */
  const envs = {};
  const secrets = devSecrets();
  for (const s of SERVICES) {
    if (s.name !== 'gateway') databases[s.name] = withDatabase(mongo.uri, `${opts.databasePrefix ?? 'courses'}_${s.name}`);
    const env = {
      PORT: String(ports[s.name]),
      HOST: process.env.HOST ?? '127.0.0.1',
      NATS_URL: nats.url,
      ...nats.credentials(s.name),
      LOG_LEVEL: process.env.LOG_LEVEL ?? 'info',
      GATEWAY_SECRET: secrets.GATEWAY_SECRET,
      ...(s.name === 'gateway' ? { JWT_SECRET: secrets.JWT_SECRET } : {}),
      PAYMENT_URL: urls.payment,
      ...(s.name === 'gateway'
        ? {
            REGISTRATION_URL: urls.registration,
            LECTURE_URL: urls.lecture,
            DASHBOARD_URL: urls.dashboard,
            ...(redis ? { REDIS_URL: redis.url } : {}),
          }
        : { MONGODB_URI: databases[s.name] }),
      ...opts.env?.[s.name],
    };
    envs[s.name] = env;
    children[s.name] = startProcess(
      s.name,
      process.execPath,
      [...(s.nodeArgs ?? []), ...(opts.nodeArgs?.[s.name] ?? []), path.join(ROOT, s.dir, 'dist', 'main.js')],
      {
        env,
        onUnexpectedExit: (code, signal) => opts.onUnexpectedExit?.(s.name, code, signal),
      },
    );
    await waitForReady(ports[s.name], s.name);
    say(`${s.name} ready on ${urls[s.name]}`);
  }
  return {
    urls,
    ports,
    nats,
    mongo,
    databases,
    children,
    envs,
    async stop() {
      await stopStarted(
        15_000,
        SERVICES.map((s) => s.name),
      );
      await stopStarted();
    },
  };
}
