/**
 * Recovery: what finishes a change whose process died (or failed) between taking a document's
 * claim and publishing. Each service registers, per collection, how a document must end when
 * its change cannot go on (e.g. registration abandons an attempt left PENDING: its domain
 * decides what the attempt becomes); the outbox runs it under the claim it took over, before
 * publishing what the document's outbox holds.
 */
import { changeContext, type ChangeContext } from '../persistence/index.js';

/**
 * Finishes what a dead claimant left in document `docId` (the claim is held by the caller):
 * writes the state the document must end in, with its events via `ctx.withEvents`. The stored
 * outbox is published afterwards.
 */
export type Recovery = (docId: string, data: Record<string, unknown> | undefined, ctx: ChangeContext) => Promise<void>;

/** The recoveries of one service, by collection. */
export class Recoveries {
  private readonly byCollection = new Map<string, Recovery>();

  /** Registers how to finish a dead claimant's change on documents of `collection` (one per collection; a second replaces it). */
  register(collection: string, recovery: Recovery): void {
    this.byCollection.set(collection, recovery);
  }

  /**
   * Runs `collection`'s recovery for document `docId` with the claimant's `data`; nothing when
   * the collection has none (its changes need no finishing: publishing the stored outbox is enough).
   * Its writes append to the document's outbox (events there may be unpublished).
   * @throws the recovery's error (the claim stays, and the next sweep tries again).
   */
  async run(collection: string, docId: string, data: Record<string, unknown> | undefined): Promise<void> {
    await this.byCollection.get(collection)?.(docId, data, changeContext(true, false));
  }
}
