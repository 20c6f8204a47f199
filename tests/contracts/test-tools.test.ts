/** A suite whose tool is missing skips on a developer's machine and fails where every suite must run (test-kit/src/env.ts). */
import { afterEach, describe, expect, it } from 'vitest';
import { toolAvailable } from '@courses/test-kit/env';

describe('toolAvailable', () => {
  const saved = { REQUIRE_TEST_TOOLS: process.env.REQUIRE_TEST_TOOLS, CI: process.env.CI };
  afterEach(() => {
    for (const [k, v] of Object.entries(saved))
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
  });

  it('skips a missing tool on a developer’s machine, and fails under REQUIRE_TEST_TOOLS=1 or CI=true', () => {
    delete process.env.REQUIRE_TEST_TOOLS;
    delete process.env.CI;
    expect(toolAvailable('a-tool', false, 'install it')).toBe(false);
    expect(toolAvailable('a-tool', true, 'install it')).toBe(true);
    process.env.REQUIRE_TEST_TOOLS = '1';
    expect(() => toolAvailable('a-tool', false, 'install it')).toThrow(/a-tool is missing.*install it/);
    expect(toolAvailable('a-tool', true, 'install it')).toBe(true);
    delete process.env.REQUIRE_TEST_TOOLS;
    process.env.CI = 'true';
    expect(() => toolAvailable('a-tool', false, 'install it')).toThrow(/a-tool is missing/);
  });
});
