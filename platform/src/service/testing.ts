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
 * @param subgraph the very object `startSubgraph` returned (a service may add fields to it in
 *   place, but not copy it)
 * @throws when `subgraph` is not such an object.
 */
export function crashSubgraph(subgraph: RunningSubgraph): Promise<void> {
  const crash = crashes.get(subgraph);
  if (!crash) throw new Error(`${subgraph.name}: not the handle startSubgraph returned (a copy cannot be crashed)`);
  return crash();
}
