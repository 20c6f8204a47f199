/**
 * The deployment script and the services derive each hop's secret the same way: what
 * `npm run secrets` prints for a GATEWAY_SECRET is what the gateway sends each subgraph and what
 * registration sends payment's charge endpoint (platform/src/service/service-secrets.ts).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { chargeSecret, subgraphSecret } from '@courses/platform';
import { derivedSecrets, SUBGRAPHS } from '../../scripts/derive-secrets.mjs';

describe('npm run secrets (scripts/derive-secrets.mjs)', () => {
  it("prints each subgraph's secret and the charge secret as the services derive them, from .env or the environment", () => {
    const master = 'k' + 'ab12'.repeat(16);
    const expected = [
      ...SUBGRAPHS.map((s) => `${s.toUpperCase()}_SUBGRAPH_SECRET=${subgraphSecret(master, s)}`),
      `CHARGE_SECRET=${chargeSecret(master)}`,
    ];
    expect(derivedSecrets(master).map(([k, v]) => `${k}=${v}`)).toEqual(expected);
    const dir = mkdtempSync(path.join(os.tmpdir(), 'secrets-'));
    writeFileSync(path.join(dir, '.env'), `JWT_SECRET=x\nGATEWAY_SECRET=${master}\nNATS_GATEWAY_PASSWORD=y\n`);
    const script = fileURLToPath(new URL('../../scripts/derive-secrets.mjs', import.meta.url));
    const fromFile = spawnSync(process.execPath, [script, path.join(dir, '.env')], { encoding: 'utf8' });
    expect(fromFile.stdout.trim().split('\n')).toEqual(expected);
    const fromEnv = spawnSync(process.execPath, [script], { encoding: 'utf8', env: { ...process.env, GATEWAY_SECRET: master } });
    expect(fromEnv.stdout.trim().split('\n')).toEqual(expected);
    const none = spawnSync(process.execPath, [script], { encoding: 'utf8', env: { PATH: process.env.PATH } });
    expect(none.status).toBe(1);
    expect(none.stderr).toMatch(/no GATEWAY_SECRET/);
  });
});
