/**
 * The write lease (platform/src/persistence/claim-lease.ts) against the real MongoDB-wire server:
 * exclusive across processes, reused by its holder, taken over from a dead owner with its
 * recovery first, failed attempts counted in the claim.
 */
import mongoose, { type Connection } from 'mongoose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '@courses/devkit/graphql-client';
import { ClaimBusyError, ClaimLease, CLAIMS_COLLECTION, type Claim, type Recover } from '@courses/platform';
import { mongoUri, uniqueTag } from '@courses/test-kit/env';

let conn: Connection;
beforeAll(async () => {
  conn = await mongoose.createConnection(mongoUri(uniqueTag('lease'))).asPromise();
});
afterAll(async () => {
  await conn?.dropDatabase();
  await conn?.close();
});

const claims = () => conn.collection<Claim>(CLAIMS_COLLECTION);
/** A recovery that records what it was asked to finish. */
function recorder(): Recover & { calls: Array<[string, string, unknown]> } {
  const calls: Array<[string, string, unknown]> = [];
  return Object.assign(async (collection: string, docId: string, data: unknown) => void calls.push([collection, docId, data]), { calls });
}

describe('claim lease', () => {
  it('is exclusive across processes: the second waits, then gives up with ClaimBusyError, and takes it once released', async () => {
    const a = new ClaimLease({ conn });
    const b = new ClaimLease({ conn, waitMs: 200 });
    const recover = recorder();
    expect(await a.acquire('docs:1', 'docs', '1', {}, recover)).toEqual({ inherited: false, continued: false });
    await expect(b.acquire('docs:1', 'docs', '1', {}, recover)).rejects.toBeInstanceOf(ClaimBusyError);
    a.release('docs:1');
    await a.stop(); // deletes what it finished
    expect(await b.acquire('docs:1', 'docs', '1', {}, recover)).toEqual({ inherited: false, continued: false });
    expect((await claims().findOne({ _id: 'docs:1' }))?.owner).toBe(b.owner);
    expect(recover.calls).toEqual([]);
    b.release('docs:1');
    await b.stop();
  });

  it('lets its holder reuse a claim it finished a moment ago, without a new insert', async () => {
    const a = new ClaimLease({ conn, releaseAfterMs: 1_000 });
    const recover = recorder();
    await a.acquire('docs:2', 'docs', '2', {}, recover);
    const first = await claims().findOne({ _id: 'docs:2' });
    a.release('docs:2');
    expect(await a.acquire('docs:2', 'docs', '2', {}, recover)).toEqual({ inherited: false, continued: true });
    expect((await claims().findOne({ _id: 'docs:2' }))?.at).toEqual(first?.at);
    a.release('docs:2');
    await a.stop();
    expect(await claims().countDocuments({ _id: 'docs:2' })).toBe(0);
  });

  it("takes over a dead owner's claim once it is stale, running the recovery with the claimant's data first", async () => {
    const dead = new ClaimLease({ conn });
    const recover = recorder();
    await dead.acquire('docs:3', 'docs', '3', { staleAfterMs: 100, data: { attempt: 'x' } }, recover);
    const heir = new ClaimLease({ conn });
    expect(await heir.abandoned()).toEqual([]); // not stale yet
    // Stale once 100 ms have passed since it was taken.
    await eventually(async () => (await heir.abandoned()).some((c) => c._id === 'docs:3'), 5_000, 'the claim stale');
    expect(await heir.acquire('docs:3', 'docs', '3', {}, recover)).toEqual({ inherited: true, continued: false });
    expect(recover.calls).toEqual([['docs', '3', { attempt: 'x' }]]);
    expect((await claims().findOne({ _id: 'docs:3' }))?.owner).toBe(heir.owner);
    heir.release('docs:3');
    await heir.stop();
  });

  it('keeps a failed change for its recovery, and counts failed publishing attempts in the claim', async () => {
    const a = new ClaimLease({ conn });
    const recover = recorder();
    await a.acquire('docs:4', 'docs', '4', { data: { k: 1 } }, recover);
    a.failed('docs:4', { k: 1 });
    expect(a.unsettled()).toEqual([{ key: 'docs:4', failed: true, data: { k: 1 } }]);
    expect(await a.acquire('docs:4', 'docs', '4', {}, recover)).toEqual({ inherited: true, continued: false });
    expect(recover.calls).toEqual([['docs', '4', { k: 1 }]]);
    a.unpublished('docs:4');
    await a.noteFailedAttempt('docs:4', new Error('nats down'));
    await a.noteFailedAttempt('docs:4', new Error('still down'), ['e2', 'e3']);
    expect(await claims().findOne({ _id: 'docs:4' })).toMatchObject({ attempts: 2, lastError: 'still down', unpublished: ['e2', 'e3'] });
    await a.stop();
    expect(await claims().countDocuments({ _id: 'docs:4' })).toBe(1); // unpublished: stays for a successor
  });
});
