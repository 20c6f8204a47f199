import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '@courses/platform';
import { registrationEnv } from '../src/wiring.js';

const base = { PORT: '0', MONGODB_URI: 'mongodb://127.0.0.1/x' };

describe('registration configuration', () => {
  it('defaults the payment timeout to 610 ms, as in the original design', () => {
    const c = loadConfig(registrationEnv, base);
    expect(c.PAYMENT_TIMEOUT_MS).toBe(610);
    expect(c.PENDING_TIMEOUT_MS).toBe(30_000);
  });

  it('refuses a PENDING timeout that would abandon attempts still waiting for payment', () => {
    expect(() => loadConfig(registrationEnv, { ...base, PAYMENT_TIMEOUT_MS: '5000', PENDING_TIMEOUT_MS: '5500' })).toThrow(ConfigError);
    expect(() => loadConfig(registrationEnv, { ...base, PAYMENT_TIMEOUT_MS: 'soon' })).toThrow(/PAYMENT_TIMEOUT_MS/);
  });
});
