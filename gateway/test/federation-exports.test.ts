/**
 * @apollo/gateway reads @apollo/federation-internals' exports as plain properties
 * (src/federation-exports.ts), which is the same module only while the package assigns each
 * export once, as it loads. Both halves are checked here: a new version that reassigns an export
 * later fails the scan, and one that loads without the copy fails the descriptor check.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { federationExportsFlattened } from '../src/federation-exports.js';

const gatewayRequire = createRequire(createRequire(import.meta.url).resolve('@apollo/gateway'));
const dist = path.dirname(gatewayRequire.resolve('@apollo/federation-internals'));

describe('federation-internals exports', () => {
  it('are assigned only at load: no `exports.X =` inside a function of the package', () => {
    const late: string[] = [];
    for (const file of readdirSync(dist, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.js'))) {
      const text = readFileSync(path.join(dist, file), 'utf8');
      // Top-level statements start a line; one indented is inside a function, a class or a block.
      for (const m of text.matchAll(/\n[ \t]+[^\n]*?\bexports\.(\w+)\s*=(?!=)/g)) late.push(`${file}: ${m[1]}`);
    }
    expect(late).toEqual([]);
  });

  it('reach @apollo/gateway as plain values, the same ones the package exports', async () => {
    expect(federationExportsFlattened).toBe(true);
    const plain = gatewayRequire('@apollo/federation-internals') as Record<string, unknown>;
    const getters = Object.entries(Object.getOwnPropertyDescriptors(plain)).filter(([, d]) => d.get);
    expect(getters.map(([k]) => k)).toEqual([]);
    expect(plain.__esModule).toBe(true);
    // The submodules' own exports are the values copied (e.g. the Schema class, by identity).
    const definitions = gatewayRequire(path.join(dist, 'definitions.js')) as Record<string, unknown>;
    expect(plain.Schema).toBe(definitions.Schema);
    expect(Object.keys(plain).length).toBeGreaterThan(100);
    // And the gateway loads on it.
    const { ApolloGateway } = await import('@apollo/gateway');
    expect(typeof ApolloGateway).toBe('function');
  });
});
