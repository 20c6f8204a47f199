/**
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
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect } from '@nats-io/transport-node';
import { afterAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { eventually } from '../../scripts/lib/graphql-client.js';
import { freePort, natsServerBinary } from '../../scripts/lib/provision.mjs';

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

const children: ChildProcess[] = [];
afterAll(() => children.forEach((c) => c.kill()));

describe.skipIf(!natsServerBinary())('the compose recipe’s NATS passwords', () => {
  it('start the server and let each service in, whatever characters a generated password has (but " and \\)', async () => {
    const compose = parseYaml(readFileSync(path.join(root, 'docker-compose.yml'), 'utf8'), { merge: true }) as {
      services: { nats: { environment: Record<string, string> } };
    };
    const env = Object.fromEntries(SERVICES.map((s, i) => [`NATS_${s.toUpperCase()}_PASSWORD`, PASSWORDS[i % PASSWORDS.length]]));
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
    for (const s of SERVICES) {
      const password = env[`NATS_${s.toUpperCase()}_PASSWORD`];
      expect(await login(s, password), `${s} with ${password}`).toBe(true);
      expect(await login(s, `${password}x`), `${s} with a wrong password`).toBe(false);
    }
  });
});
