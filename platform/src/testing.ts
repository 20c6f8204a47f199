/**
 * Hooks for fault tests, apart from the production API (`@courses/platform/testing`): nothing
 * a service imports.
 */
import { crashes } from './crash-registry.js';
import type { RunningSubgraph } from './subgraph.js';

/**
 * Makes `subgraph` die like a killed process would, as far as the outside sees: open requests
 * are cut, nothing is drained or acked (JetStream redelivers after the ack wait), and the
 * MongoDB and NATS connections are closed at once.
 * @throws when `subgraph` was not started by `startSubgraph`.
 */
export function crashSubgraph(subgraph: RunningSubgraph): Promise<void> {
  const crash = crashes.get(subgraph);
  if (!crash) throw new Error(`${subgraph.name} was not started by startSubgraph`);
  return crash();
}
