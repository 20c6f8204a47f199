import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { baseEnv, ConfigError, DEV_GATEWAY_SECRET, DEV_JWT_SECRET, loadConfig } from '../src/config.js';

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
