/**
 * What docker-compose.yml hands its servers. Its Keycloak profile's realm is checked against the
 * gateway settings the file gives for it (it is not run here: this machine has no Docker engine).
 *
 * The compose recipe's NATS passwords: whatever a user generates, the NATS server of
 * docker-compose.yml starts with deploy/nats.conf and lets each service in with its password.
 * nats-server reads a `$VARIABLE` as a config value, so a password that starts like a number
 * (`41e7…`, one `openssl rand -hex 32` in about 15) was refused, and NATS never came up; compose
 * now hands the server each password in double quotes.
 *
 * The server's environment is taken from docker-compose.yml as compose interpolates it
 * (`${VAR:?message}` → the value); the server is a real nats-server with the generated
 * authorization block (only the listen address and store move to the test's own).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect } from '@nats-io/transport-node';
import { afterAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { eventually } from '@courses/devkit/graphql-client';
import { freePort, natsServerBinary } from '@courses/devkit/provision';
import { toolAvailable } from '@courses/test-kit/env';
import { parseImage, projectImages } from '../../scripts/pin-images.mjs';

const root = fileURLToPath(new URL('../../', import.meta.url));
const SERVICES = ['registration', 'payment', 'lecture', 'dashboard', 'gateway'];
/** Passwords users generate, or might: float-like, digit-only, hex, base64 and symbol-bearing. */
const PASSWORDS = [
  '41e7c0ffee' + 'ab'.repeat(27),
  '1234567890'.repeat(4),
  '0x1F' + 'f'.repeat(40),
  'q+/rT9z=K2m/8Hx+wA==',
  "p@ss w'rd#$x{}[];,:=!",
];

/** The value compose gives `template` (`${VAR:?msg}`, `${VAR:-default}`, `${VAR}`) with `env`. */
function interpolate(template: string, env: Record<string, string>): string {
  return template.replace(/\$\{([A-Z_]+)(?::[?-][^}]*)?\}/g, (_m, name: string) => env[name] ?? '');
}

const hasNats = toolAvailable('nats-server', !!natsServerBinary(), 'npm test installs one; or set NATS_SERVER_BIN');
const hasOpenssl = toolAvailable('openssl', spawnSync('openssl', ['version']).status === 0, 'apt-get install openssl');
const children: ChildProcess[] = [];
afterAll(() => children.forEach((c) => c.kill()));

describe.skipIf(!hasNats)('the compose recipe’s NATS passwords', () => {
  it('start the server and let each service in, whatever characters a generated password has (but " and \\)', async () => {
    const compose = parseYaml(readFileSync(path.join(root, 'docker-compose.yml'), 'utf8'), { merge: true }) as {
      services: { nats: { environment: Record<string, string> } };
    };
    const users = [...SERVICES, 'operator'];
    const env = Object.fromEntries(users.map((s, i) => [`NATS_${s.toUpperCase()}_PASSWORD`, PASSWORDS[i % PASSWORDS.length]]));
    const serverEnv = Object.fromEntries(Object.entries(compose.services.nats.environment).map(([k, v]) => [k, interpolate(v, env)]));
    expect(Object.keys(serverEnv).sort()).toEqual(Object.keys(env).sort());

    const dir = mkdtempSync(path.join(os.tmpdir(), 'compose-nats-'));
    const port = await freePort();
    const conf = readFileSync(path.join(root, 'deploy/nats.conf'), 'utf8')
      .replace(/^listen: .*$/m, `listen: "127.0.0.1:${port}"`)
      .replace(/^http_port: .*$/m, '')
      .replace(/store_dir: .*$/m, `store_dir: ${JSON.stringify(dir)}`);
    writeFileSync(path.join(dir, 'nats.conf'), conf);
    const server = spawn(natsServerBinary()!, ['-c', path.join(dir, 'nats.conf')], { env: serverEnv, stdio: ['ignore', 'ignore', 'pipe'] });
    children.push(server);
    let stderr = '';
    server.stderr!.on('data', (d) => (stderr += d));
    const login = (user: string, pass: string) =>
      connect({ servers: `127.0.0.1:${port}`, user, pass, reconnect: false, timeout: 2_000 }).then(
        (nc) => nc.close().then(() => true),
        () => false,
      );
    await eventually(
      async () => server.exitCode === null && (await login('gateway', env.NATS_GATEWAY_PASSWORD)),
      10_000,
      `nats-server up (${stderr})`,
    );
    for (const s of users) {
      const password = env[`NATS_${s.toUpperCase()}_PASSWORD`];
      expect(await login(s, password), `${s} with ${password}`).toBe(true);
      expect(await login(s, `${password}x`), `${s} with a wrong password`).toBe(false);
    }
  });
});

describe("docker compose's Keycloak profile", () => {
  it('imports a realm with the pages as a public PKCE client, the API audience, and each demo person with one mapped role', () => {
    const realm = JSON.parse(readFileSync(path.join(root, 'deploy/keycloak/courses-realm.json'), 'utf8')) as {
      realm: string;
      clients: Array<{
        clientId: string;
        publicClient: boolean;
        directAccessGrantsEnabled: boolean;
        redirectUris: string[];
        attributes: Record<string, string>;
        protocolMappers: Array<{ protocolMapper: string; config: Record<string, string> }>;
      }>;
      users: Array<{ username: string; realmRoles: string[] }>;
    };
    const compose = readFileSync(path.join(root, 'docker-compose.yml'), 'utf8');
    const setting = (name: string) => new RegExp(`#\\s+${name}=(\\S+)`).exec(compose)?.[1];
    expect(setting('OIDC_ISSUER')).toBe(`http://localhost:8080/realms/${realm.realm}`);
    const web = realm.clients.find((c) => c.clientId === 'courses-web')!;
    expect(web.publicClient).toBe(true);
    expect(web.directAccessGrantsEnabled).toBe(false); // no password grant
    expect(web.attributes['pkce.code.challenge.method']).toBe('S256');
    for (const page of ['/app', '/app/instructor', '/graphql']) expect(web.redirectUris).toContain(`http://localhost:4000${page}`);
    const audience = web.protocolMappers.find((m) => m.protocolMapper === 'oidc-audience-mapper')!;
    expect(audience.config['included.custom.audience']).toBe(setting('OIDC_AUDIENCE'));
    expect(audience.config['access.token.claim']).toBe('true');
    const map = Object.fromEntries(
      setting('ROLE_MAP')!
        .split(',')
        .map((p) => p.split('=')),
    );
    for (const u of realm.users) {
      const mapped = u.realmRoles.filter((r) => r in map);
      expect(mapped, u.username).toHaveLength(1);
      expect(map[mapped[0]], u.username).toBe({ s: 'STUDENT', i: 'INSTRUCTOR', a: 'ADMIN' }[u.username[0]]);
    }
  });
});

describe.skipIf(!hasNats || !hasOpenssl)("the README's compose recipe", () => {
  it("makes a .env holding every secret docker-compose.yml requires, with which its NATS server's configuration passes nats-server's check, run after run", async () => {
    const readme = readFileSync(path.join(root, 'README.md'), 'utf8');
    const recipe = /```sh\n(for v in GATEWAY_SECRET[\s\S]*?)\ndocker compose up --build\n```/.exec(readme)?.[1];
    expect(recipe, "the README's recipe").toBeDefined();
    const compose = parseYaml(readFileSync(path.join(root, 'docker-compose.yml'), 'utf8'), { merge: true }) as {
      services: { nats: { environment: Record<string, string> } };
    };
    // Twenty fresh installs (a hundred NATS passwords): before compose quoted them, one password
    // in about 15 was refused, so almost surely one of these would be.
    for (let run = 0; run < 20; run++) {
      const dir = mkdtempSync(path.join(os.tmpdir(), 'compose-recipe-'));
      // Run where .env may be written; the recipe's script is the checkout's (users run it at its root).
      const run = spawnSync('bash', ['-c', recipe!.replaceAll('node scripts/', `node ${root}scripts/`)], { cwd: dir, encoding: 'utf8' });
      expect(run.status, run.stderr).toBe(0);
      const env = Object.fromEntries(
        readFileSync(path.join(dir, '.env'), 'utf8')
          .trim()
          .split('\n')
          .map((line) => line.split('=') as [string, string]),
      );
      // Everything compose requires is there: interpolating the file leaves no required variable unset.
      const required = [...readFileSync(path.join(root, 'docker-compose.yml'), 'utf8').matchAll(/\$\{([A-Z_]+):\?/g)].map((m) => m[1]);
      for (const name of required) expect(env[name], name).toMatch(/^[0-9a-f]{64}$/);
      const serverEnv = Object.fromEntries(Object.entries(compose.services.nats.environment).map(([k, v]) => [k, interpolate(v, env)]));
      const port = await freePort();
      const conf = readFileSync(path.join(root, 'deploy/nats.conf'), 'utf8')
        .replace(/^listen: .*$/m, `listen: "127.0.0.1:${port}"`)
        .replace(/^http_port: .*$/m, '')
        .replace(/store_dir: .*$/m, `store_dir: ${JSON.stringify(path.join(dir, 'store'))}`);
      writeFileSync(path.join(dir, 'nats.conf'), conf);
      const check = spawnSync(natsServerBinary()!, ['-c', path.join(dir, 'nats.conf'), '-t'], { env: serverEnv, encoding: 'utf8' });
      expect(check.status, `${check.stdout}${check.stderr} (passwords: ${JSON.stringify(serverEnv)})`).toBe(0);
    }
  });
});

describe('the Dockerfile', () => {
  it("copies every workspace's package.json before npm ci, as the lockfile names them all", () => {
    const dockerfile = readFileSync(path.join(root, 'Dockerfile'), 'utf8');
    const workspaces = (JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { workspaces: string[] }).workspaces;
    const beforeInstall = dockerfile.slice(0, dockerfile.indexOf('RUN npm ci'));
    for (const w of workspaces) expect(beforeInstall, w).toContain(`COPY ${w}/package.json ${w}/`);
  });
});

describe('the images the project names', () => {
  it('are each pinned by a sha256 digest, in the Dockerfile and in docker-compose.yml, and the production image runs Node 24', () => {
    const images = projectImages();
    expect(images.map((i) => i.file)).toEqual(expect.arrayContaining(['Dockerfile', 'docker-compose.yml']));
    for (const { file, ref } of images) expect(parseImage(ref).digest, `${file}: ${ref}`).toMatch(/^sha256:[0-9a-f]{64}$/);
    const repositories = images.map(({ ref }) => parseImage(ref).repository);
    expect(repositories).toEqual(expect.arrayContaining(['library/node', 'library/nats', 'library/mongo']));
    const node = images.filter(({ ref }) => parseImage(ref).repository === 'library/node');
    for (const { ref } of node) expect(parseImage(ref).tag).toMatch(/^24-/);
  });

  it('are read as a registry reads them: registry, repository (library/ for official images), tag and digest', () => {
    expect(parseImage('node:24-bookworm-slim')).toMatchObject({
      registry: 'docker.io',
      repository: 'library/node',
      tag: '24-bookworm-slim',
      digest: undefined,
    });
    expect(parseImage('quay.io/keycloak/keycloak:26.0@sha256:ab')).toMatchObject({
      registry: 'quay.io',
      repository: 'keycloak/keycloak',
      tag: '26.0',
      digest: 'sha256:ab',
    });
    expect(parseImage('grafana/grafana')).toMatchObject({ registry: 'docker.io', repository: 'grafana/grafana', tag: 'latest' });
    expect(parseImage('localhost:5000/app:1')).toMatchObject({ registry: 'localhost:5000', repository: 'app', tag: '1' });
  });
});
