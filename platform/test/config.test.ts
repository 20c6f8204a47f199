import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  baseEnv,
  chargeSecret,
  chargeSecretOf,
  chargeSecretSetting,
  ConfigError,
  DERIVE_FROM_GATEWAY_SECRET,
  DEV_GATEWAY_SECRET,
  DEV_JWT_SECRET,
  loadConfig,
  subgraphEnv,
  subgraphSecret,
} from '../src/service/index.js';

/** A service schema with a second secret and the dev sign-in flag, as the gateway's. */
const schema = baseEnv.extend({
  JWT_SECRET: z.string().min(8).default(DEV_JWT_SECRET),
  DEV_TOKENS: z
    .enum(['on', 'off'])
    .default('off')
    .transform((v) => v === 'on'),
});
const strong = {
  GATEWAY_SECRET: 'g'.repeat(16) + 'x'.repeat(48),
  JWT_SECRET: 'j'.repeat(64),
  NATS_USER: 'gateway',
  NATS_PASSWORD: 'n'.repeat(64),
};

describe('loadConfig in production', () => {
  it('refuses the public DEV-ONLY defaults, naming each secret and how to make one', () => {
    const err = (() => {
      try {
        loadConfig(schema, { NODE_ENV: 'production' }, { PORT: '4000' });
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(ConfigError);
    expect(String((err as Error).message)).toMatch(/GATEWAY_SECRET: unset or the public DEV-ONLY default/);
    expect(String((err as Error).message)).toMatch(/JWT_SECRET: unset or the public DEV-ONLY default/);
    expect(String((err as Error).message)).toMatch(/openssl rand -hex 32/);
    expect(() => loadConfig(schema, { NODE_ENV: 'production', ...strong, JWT_SECRET: DEV_JWT_SECRET }, { PORT: '4000' })).toThrow(
      /JWT_SECRET: unset or the public/,
    );
    expect(() => loadConfig(schema, { NODE_ENV: 'production', ...strong, GATEWAY_SECRET: DEV_GATEWAY_SECRET }, { PORT: '4000' })).toThrow(
      /GATEWAY_SECRET: unset or the public/,
    );
  });

  it('refuses a secret shorter than 32 characters', () => {
    expect(() => loadConfig(schema, { NODE_ENV: 'production', ...strong, GATEWAY_SECRET: 'short-but-over-8' }, { PORT: '4000' })).toThrow(
      /GATEWAY_SECRET: 16 characters; at least 32/,
    );
  });

  it('refuses the demo sign-in', () => {
    expect(() => loadConfig(schema, { NODE_ENV: 'production', ...strong, DEV_TOKENS: 'on' }, { PORT: '4000' })).toThrow(/DEV_TOKENS/);
  });

  it('refuses to connect to NATS without its own user', () => {
    expect(() => loadConfig(schema, { NODE_ENV: 'production', ...strong, NATS_PASSWORD: undefined }, { PORT: '4000' })).toThrow(
      /NATS_USER \/ NATS_PASSWORD: unset/,
    );
    expect(() => loadConfig(schema, { NODE_ENV: 'production', ...strong, NATS_USER: undefined }, { PORT: '4000' })).toThrow(
      /NATS_USER \/ NATS_PASSWORD: unset/,
    );
  });

  it('accepts strong secrets, and development keeps its defaults', () => {
    expect(loadConfig(schema, { NODE_ENV: 'production', ...strong }, { PORT: '4000' }).JWT_SECRET).toBe(strong.JWT_SECRET);
    const dev = loadConfig(schema, {}, { PORT: '4000' });
    expect(dev.NODE_ENV).toBe('development');
    expect(dev.GATEWAY_SECRET).toBe(DEV_GATEWAY_SECRET);
  });
});

describe("a subgraph's secrets (service-secrets.ts)", () => {
  const subgraph = subgraphEnv.extend({ CHARGE_SECRET: chargeSecretSetting });
  const own = { NATS_USER: 'payment', NATS_PASSWORD: 'n'.repeat(64), MONGODB_URI: 'mongodb://db/x' };
  const prod = {
    NODE_ENV: 'production',
    ...own,
    SUBGRAPH_SECRET: subgraphSecret('m'.repeat(64), 'payment'),
    CHARGE_SECRET: chargeSecret('m'.repeat(64)),
  };

  it("in production, requires its own secret and the charge secret, and refuses to hold the gateway's", () => {
    expect(loadConfig(subgraph, prod, { PORT: '4002' }).SUBGRAPH_SECRET).toBe(prod.SUBGRAPH_SECRET);
    expect(() => loadConfig(subgraph, { ...prod, SUBGRAPH_SECRET: undefined }, { PORT: '4002' })).toThrow(
      /SUBGRAPH_SECRET: unset or the public/,
    );
    expect(() => loadConfig(subgraph, { ...prod, CHARGE_SECRET: undefined }, { PORT: '4002' })).toThrow(
      /CHARGE_SECRET: unset or the public/,
    );
    expect(() => loadConfig(subgraph, { ...prod, GATEWAY_SECRET: 'g'.repeat(64) }, { PORT: '4002' })).toThrow(
      /GATEWAY_SECRET: a subgraph must not hold the gateway's secret/,
    );
  });

  it('outside production, derives both from GATEWAY_SECRET (its DEV-ONLY default when unset)', () => {
    const dev = loadConfig(subgraph, own, { PORT: '4002' });
    expect(dev.SUBGRAPH_SECRET).toBe(DERIVE_FROM_GATEWAY_SECRET);
    expect(chargeSecretOf(dev)).toBe(chargeSecret(DEV_GATEWAY_SECRET));
    expect(chargeSecretOf(loadConfig(subgraph, { ...own, GATEWAY_SECRET: 'x'.repeat(40) }, { PORT: '4002' }))).toBe(
      chargeSecret('x'.repeat(40)),
    );
  });

  it('derives a different 256-bit secret per hop, none of them the gateway’s', () => {
    const master = 'm'.repeat(64);
    const all = [...['registration', 'payment', 'lecture', 'dashboard'].map((s) => subgraphSecret(master, s)), chargeSecret(master)];
    expect(new Set(all).size).toBe(5);
    for (const s of all) expect(s).toMatch(/^[0-9a-f]{64}$/);
    expect(all).not.toContain(master);
    expect(subgraphSecret('n'.repeat(64), 'payment')).not.toBe(subgraphSecret(master, 'payment'));
  });
});
