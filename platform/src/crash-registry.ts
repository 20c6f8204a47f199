/**
 * How each running subgraph dies abruptly, kept apart from the production API: `startSubgraph`
 * registers it, only `crashSubgraph` (`@courses/platform/testing`) reads it. Not exported by the
 * package's main entry.
 */
import type { RunningSubgraph } from './subgraph.js';

export const crashes = new WeakMap<RunningSubgraph, () => Promise<void>>();
