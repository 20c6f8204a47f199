/**
 * `npm run bench:gateway`: this gateway and Hive Gateway (a devDependency) side by side, on the
 * same composed supergraph and the same running subgraphs, in one run.
 *
 * It starts the system as `npm start` does (own databases `bench_<name>`, NATS namespace
 * `bench`, ports 4100–4104), loads 20 lectures and a student with 6 registrations, starts Hive
 * Gateway on the supergraph (routing URLs pointed at the same subgraphs; it verifies the same
 * HS256 JWTs and forwards the same identity headers and gateway secret), and drives each
 * gateway with autocannon for each query: the public catalog
 * (`lectures(first: 20) { totalCount edges { node { … } } }`) and the federated
 * `myRegistrationsPage(first: 20) { edges { node { … lecture { title price } payment { amount status } } } }`
 * of that student (the list field `myRegistrations` before it was deprecated: the same 6 registrations).
 * This gateway runs twice, side by side on the same subgraphs: without its response cache (the
 * figures every comparison uses: every private or changing query pays the full cost), and with it
 * (port 4105), as deployed. It prints RPS, p50/p99 latency, non-2xx and error answers, gateway CPU
 * ms per request (the process's CPU from /proc over the measured window, divided by the requests
 * answered), and the ratio of this gateway without its cache to Hive Gateway. Figures only:
 * nothing here asserts a timing.
 *
 * Options: --connections N (50), --seconds S (12 per gateway and query), --warmup S (3),
 * --json FILE, --tokens shared-secret|oidc: the student's token for this gateway, HS256 (default)
 * or an access token of the embedded identity provider (--alg ES256|RS256|EdDSA, default RS256),
 * verified against its published keys (Hive Gateway keeps HS256). --profile: a CPU profile of
 * this gateway (without its cache) over each measured window (scripts/lib/profile-preload.mjs, a
 * node:inspector preload: NODE_OPTIONS refuses --cpu-prof), written under
 * .data/profiles/gateway-<time>/ with its top frames (self time) printed. --workers N: this gateway
 * (both runs of it) as N processes sharing its port (GATEWAY_WORKERS; CPU counted over the
 * primary and its workers; not with --profile). --node-args "…": Node options for this gateway,
 * after its own (e.g. `--max-semi-space-size=64`: the last of a V8 flag wins).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import mongoose from 'mongoose';
import { gql } from '@courses/devkit/graphql-client';
import { DATA, devSecrets, ensureMongo, ensureNats, portOpen, ROOT, say, waitForPort, withDatabase } from '@courses/devkit/provision';
import { issueToken } from '@courses/gateway';
import { startIdentityProvider } from '@courses/identity-provider';
import { derivedSecrets } from './derive-secrets.mjs';
import { topFrames } from './lib/cpu-profile.js';
import { cpuSecondsOfTree } from './lib/procs.mjs';
import { SERVICES, startReplica, startStack } from './lib/stack.mjs';

const { values: opt } = parseArgs({
  options: {
    connections: { type: 'string', default: '50' },
    seconds: { type: 'string', default: '12' },
    warmup: { type: 'string', default: '3' },
    json: { type: 'string' },
    tokens: { type: 'string', default: 'shared-secret' },
    alg: { type: 'string', default: 'RS256' },
    profile: { type: 'boolean', default: false },
    workers: { type: 'string', default: '1' },
    'node-args': { type: 'string' },
  },
});
if (!['shared-secret', 'oidc'].includes(opt.tokens!)) throw new Error('--tokens must be shared-secret or oidc');
if (opt.profile && opt.workers !== '1') throw new Error('--profile profiles one gateway process: leave --workers at 1');
const CONNECTIONS = Number(opt.connections);
const SECONDS = Number(opt.seconds);
const WARMUP = Number(opt.warmup);
const NAMESPACE = 'bench';
const HIVE_PORT = 4110;
/** This gateway with its response cache on, beside the one without (ports 4100-4104). */
const CACHED_PORT = 4105;
const OURS = 'this gateway';
const OURS_CACHED = 'this gateway, response cache';
/** Where --profile writes this gateway's CPU profiles. */
const PROFILES = path.join(DATA, 'profiles', `gateway-${new Date().toISOString().replace(/[:.]/g, '-')}`);

const CATALOG = 'query Catalog { lectures(first: 20) { totalCount edges { node { id title capacity price enrolledCount status } } } }';
const MY_REGISTRATIONS =
  'query Mine { myRegistrationsPage(first: 20) { edges { node { id status lecture { title price } payment { amount status } } } } }';

/** Hive Gateway's configuration: HS256 JWTs verified like ours, the same headers to the subgraphs. */
function hiveConfig(jwtSecret: string, gatewaySecret: string): string {
  return `
import { jwtVerify } from 'jose';
const key = new TextEncoder().encode(${JSON.stringify(jwtSecret)});
const verified = new Map();
async function identity(authorization) {
  const m = /^Bearer\\s+(.+)$/i.exec(authorization ?? '');
  if (!m) return undefined;
  let who = verified.get(m[1]);
  if (!who) {
    const { payload } = await jwtVerify(m[1], key, { algorithms: ['HS256'] });
    who = { sub: payload.sub, role: payload.role };
    verified.set(m[1], who);
  }
  return who;
}
export const gatewayConfig = {
  logging: 'error',
  propagateHeaders: {
    async fromClientToSubgraphs({ request, subgraphName }) {
      const who = await identity(request.headers.get('authorization'));
      const secret = ${JSON.stringify(Object.fromEntries(derivedSecrets(gatewaySecret)))}[subgraphName.toUpperCase() + '_SUBGRAPH_SECRET'];
      return { 'x-gateway-secret': secret, ...(who ? { 'x-user-id': who.sub, 'x-user-role': who.role } : {}) };
    },
  },
};
`;
}

async function startHive(supergraph: string, jwtSecret: string, gatewaySecret: string): Promise<ChildProcess> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'hive-bench-'));
  const sdlPath = path.join(dir, 'supergraph.graphql');
  writeFileSync(sdlPath, supergraph);
  const configPath = path.join(ROOT, '.data', 'hive-gateway.config.mjs');
  writeFileSync(configPath, hiveConfig(jwtSecret, gatewaySecret));
  const child = spawn(
    process.execPath,
    [
      path.join(ROOT, 'node_modules/@graphql-hive/gateway/dist/bin.js'),
      'supergraph',
      sdlPath,
      '--port',
      String(HIVE_PORT),
      '--host',
      '127.0.0.1',
      '-c',
      configPath,
    ],
    {
      cwd: ROOT,
      stdio: ['ignore', 'ignore', 'inherit'],
      env: { ...process.env, NODE_ENV: 'production' },
    },
  );
  await waitForPort(HIVE_PORT, 'Hive Gateway', 60_000);
  return child;
}

interface Row {
  query: string;
  gateway: string;
  rps: number;
  p50ms: number;
  p99ms: number;
  non2xx: number;
  errors: number;
  cpuMsPerRequest: number;
}

async function load(url: string, body: string, token: string | undefined, seconds: number) {
  return autocannon({
    url: `${url}/graphql`,
    method: 'POST',
    connections: CONNECTIONS,
    duration: seconds,
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body,
  });
}

/** Loads `url` with `query` (warm-up, then the measured window); `profiled` is toggled (SIGUSR2) around the window. */
async function measure(name: string, url: string, pid: number, query: string, token: string | undefined, profiled = false): Promise<Row> {
  const body = JSON.stringify({ query });
  // A sample answer must be right before speed means anything.
  const sample = await gql(url, query, {}, token);
  if (sample.errors?.length || !sample.data) throw new Error(`${name} answered ${JSON.stringify(sample).slice(0, 300)}`);
  await load(url, body, token, WARMUP);
  if (profiled) process.kill(pid, 'SIGUSR2');
  const cpu0 = cpuSecondsOfTree(pid);
  const r = await load(url, body, token, SECONDS);
  const cpu = cpuSecondsOfTree(pid) - cpu0;
  if (profiled) process.kill(pid, 'SIGUSR2');
  return {
    query: query.startsWith('query Catalog') ? 'catalog' : 'myRegistrations',
    gateway: name,
    rps: Math.round(r.requests.average),
    p50ms: r.latency.p50,
    p99ms: r.latency.p99,
    non2xx: r.non2xx,
    errors: r.errors + r.timeouts,
    cpuMsPerRequest: Number(((1000 * cpu) / Math.max(1, r.requests.total)).toFixed(2)),
  };
}

async function main(): Promise<void> {
  say(`bench:gateway: ${CONNECTIONS} connections, ${WARMUP} s warm-up + ${SECONDS} s per gateway and query`);
  // A server of the bench's own (an empty store, so the bench's streams start empty).
  await ensureNats({ store: 'bench', fresh: true, namespace: NAMESPACE });
  const mongo = await ensureMongo();
  process.env.MONGODB_URI = mongo.uri;
  for (const s of SERVICES.filter((x) => x.name !== 'gateway')) {
    const conn = await mongoose.createConnection(withDatabase(mongo.uri, `bench_${s.name}`)).asPromise();
    await conn.dropDatabase();
    await conn.close();
  }
  if (await portOpen(HIVE_PORT)) throw new Error(`port ${HIVE_PORT} (Hive Gateway) is in use`);
  const ports = Object.fromEntries(SERVICES.map((s) => [s.name, s.port + 100]));
  const idp =
    opt.tokens === 'oidc'
      ? await startIdentityProvider({
          users: [{ sub: 's-bench-gw', name: 'Bench student', roles: ['STUDENT'] }],
          signingAlgorithm: opt.alg as 'ES256' | 'RS256' | 'EdDSA',
        })
      : undefined;
  const issuerEnv: Record<string, string> = idp
    ? { OIDC_ISSUER: idp.issuer, OIDC_AUDIENCE: idp.audience, AUTH_MODE: 'oidc+shared-secret' }
    : {};
  const preload = path.join(ROOT, 'scripts', 'lib', 'profile-preload.mjs');
  const stack = await startStack({
    ports,
    databasePrefix: 'bench',
    say,
    nodeArgs: { gateway: [...(opt.profile ? [`--import=${preload}`] : []), ...(opt['node-args']?.split(' ').filter(Boolean) ?? [])] },
    // One instructor sets up every lecture, faster than the per-caller mutation limit allows.
    env: Object.fromEntries(
      SERVICES.map((s) => [
        s.name,
        {
          NATS_NAMESPACE: NAMESPACE,
          LOG_LEVEL: 'warn',
          ...(s.name === 'gateway'
            ? {
                MUTATION_RATE_LIMIT: '1000000',
                QUERY_RATE_LIMIT: '1000000',
                RESPONSE_CACHE: 'false',
                GATEWAY_WORKERS: opt.workers!,
                PROFILE_DIR: PROFILES,
                PROFILE_NAME: 'gateway',
                ...issuerEnv,
              }
            : {}),
        },
      ]),
    ),
  });
  let hive: ChildProcess | undefined;
  try {
    const { JWT_SECRET: jwtSecret, GATEWAY_SECRET: gatewaySecret } = devSecrets();
    const gw = stack.urls.gateway;
    const instructor = await issueToken({ sub: 'i-bench', role: 'INSTRUCTOR' }, jwtSecret);
    const student = await issueToken({ sub: 's-bench-gw', role: 'STUDENT' }, jwtSecret);
    // The token this gateway is measured with (Hive Gateway verifies HS256 only).
    const ours = idp ? await idp.tokenFor('s-bench-gw') : student;
    const lectures: string[] = [];
    for (let i = 0; i < 20; i++) {
      const r = await gql(
        gw,
        'mutation($i: OpenLectureInput!) { openLecture(input: $i) { id } }',
        { i: { title: `Gateway bench ${i}`, capacity: 100, price: 10_000 * (i + 1) } },
        instructor,
      );
      lectures.push(r.data!.openLecture.id);
    }
    for (const id of lectures.slice(0, 6)) {
      for (let tries = 0; ; tries++) {
        const r = await gql(gw, 'mutation($id: ID!) { registerForLecture(lectureId: $id) { id } }', { id }, student);
        if (!r.errors) break;
        if (tries > 100) throw new Error(`could not register: ${JSON.stringify(r.errors)}`);
        await new Promise((res) => setTimeout(res, 100));
      }
    }
    const supergraph = readFileSync(path.join(ROOT, 'schema/supergraph.graphql'), 'utf8').replace(
      /http:\/\/[^"]+:(400[1-4])\/graphql/g,
      (_m, p) => `http://127.0.0.1:${Number(p) + 100}/graphql`,
    );
    hive = await startHive(supergraph, jwtSecret, gatewaySecret);
    const gatewayPid = stack.children.gateway.pid!;
    const cached = await startReplica(stack, 'gateway', 'gateway-cached', CACHED_PORT, { RESPONSE_CACHE: 'true' });
    const cachedUrl = `http://127.0.0.1:${CACHED_PORT}`;
    const rows: Row[] = [];
    say(
      `this gateway's student token: ${idp ? `${opt.alg} from the embedded identity provider (--tokens oidc)` : 'HS256 (shared secret)'}`,
    );
    for (const [query, token] of [
      [CATALOG, undefined],
      [MY_REGISTRATIONS, student],
    ] as const) {
      rows.push(await measure(OURS, gw, gatewayPid, query, token && ours, opt.profile));
      rows.push(await measure(OURS_CACHED, cachedUrl, cached.pid!, query, token && ours));
      rows.push(await measure('Hive Gateway 2.15.1', `http://127.0.0.1:${HIVE_PORT}`, hive.pid!, query, token));
    }
    console.table(rows);
    const ratios = ['catalog', 'myRegistrations'].map((q) => {
      const [ours, theirs] = [
        rows.find((r) => r.query === q && r.gateway === OURS)!,
        rows.find((r) => r.query === q && r.gateway.startsWith('Hive'))!,
      ];
      return {
        query: q,
        rpsRatio: Number((ours.rps / theirs.rps).toFixed(2)),
        p99Ratio: Number((ours.p99ms / theirs.p99ms).toFixed(2)),
        cpuRatio: Number((ours.cpuMsPerRequest / theirs.cpuMsPerRequest).toFixed(2)),
      };
    });
    say('this gateway (no response cache) ÷ Hive Gateway (RPS above 1 and p99 below 1 favour this gateway):');
    console.table(ratios);
    if (opt.profile) await printProfiles();
    if (opt.json) writeFileSync(opt.json, JSON.stringify({ rows, ratios, tokens: opt.tokens, alg: opt.alg }, null, 2));
  } finally {
    if (hive && hive.exitCode === null) {
      hive.kill('SIGTERM');
      await new Promise((r) => hive!.once('exit', r));
    }
    await stack.stop();
    await idp?.stop();
  }
}

/** Prints the top frames (self time) of each profile --profile wrote: one per measured window of this gateway. */
async function printProfiles(): Promise<void> {
  const written = () => (existsSync(PROFILES) ? readdirSync(PROFILES).filter((n) => n.endsWith('.cpuprofile')) : []);
  for (let i = 0; i < 50 && written().length < 2; i++) await new Promise((r) => setTimeout(r, 100));
  // One per query, in the order measured: the catalog's, then myRegistrations'.
  for (const f of written().sort((a, b) => a.length - b.length || a.localeCompare(b))) {
    say(`CPU profile of this gateway under load (${path.join(PROFILES, f)}), self time:`);
    console.table(topFrames(path.join(PROFILES, f), 30));
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    process.stderr.write(`✖ ${err.stack ?? err.message}\n`);
    process.exit(1);
  },
);
