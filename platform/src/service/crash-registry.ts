/**
 * How each running subgraph dies abruptly, kept apart from the production API: `startSubgraph`
 * registers it under the handle it returns, only `crashSubgraph` (`@courses/platform/testing`)
 * reads it. Not exported by the package's main entry. Keyed by any object so that it needs
 * nothing from subgraph.ts (which imports it).
 */
export const crashes = new WeakMap<object, () => Promise<void>>();
