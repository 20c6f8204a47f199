/**
 * Makes @apollo/federation-internals' exports plain properties for @apollo/gateway, which must
 * load after this module (federation.ts imports it first).
 *
 * The package re-exports its modules through TypeScript's `__exportStar`, which defines each
 * export as a getter (`get: () => m[k]`), so every `federation_internals_1.X` in the gateway's
 * executor is a function call: 29 sites in `resultShaping.js` alone, run for each field of each
 * answer. Under `npm run bench:gateway -- --profile` that getter was 6.6 % of the gateway's
 * samples on the catalog query (9 % of its busy CPU; docs/performance.md). The package assigns
 * no export after it has loaded (each `exports.X =` runs once, at load: checked by
 * gateway/test/federation-exports.test.ts), so a copy of its values is the same module, read
 * without the calls. CommonJS `require` hands out the cached module's `exports`: replacing it
 * before @apollo/gateway's first `require` is all it takes.
 */
import { createRequire } from 'node:module';

const gatewayMain = createRequire(import.meta.url).resolve('@apollo/gateway');
const gatewayRequire = createRequire(gatewayMain);
const id = gatewayRequire.resolve('@apollo/federation-internals');

/**
 * True when @apollo/gateway gets the plain copy; false when it had loaded before this module ran
 * (then it keeps the getters: slower, the same values). Another package that loaded
 * @apollo/federation-internals first (the platform's @apollo/subgraph does) keeps its own view.
 */
export const federationExportsFlattened: boolean = (() => {
  // An entry not loaded yet is Node's: an ES module's import of @apollo/gateway parses it before running it.
  if (gatewayRequire.cache[gatewayMain]?.loaded) return false;
  const real = gatewayRequire(id) as Record<string, unknown>;
  const plain: Record<string, unknown> = { ...real };
  Object.defineProperty(plain, '__esModule', { value: true });
  gatewayRequire.cache[id]!.exports = plain;
  return true;
})();
