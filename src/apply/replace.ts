// Carrying out a replace, create-before-destroy (planned by src/plan/replace.ts):
//  1. the old item is read at the version the plan saw (liveAtPlannedVersion) and the values resolved again;
//  2. the new item is created with the old one's live values of generated (unless rotated), unmanaged and
//     ignored fields in its body, recorded first as a pending create that `replaces` the old item;
//  3. the resource is recorded on the new item, with the old one `retired` (one journal line: both at once);
//  4. the old item is deleted (404: already gone), and the resource recorded again without it.
// A failure before 3 leaves the old item the resource's, as it was (a refused create settles its pending record);
// a failure or crash after 3 leaves the old item retired, and the next plan deletes it. Values are sent, never
// printed or recorded.

import type { ConnectClient } from '../connect/client.js';
import { ConnectError } from '../connect/errors.js';
import type { FullItem, ItemInput } from '../connect/types.js';
import type { DesiredItem } from '../manifest/types.js';
import { diffItem } from '../plan/diff.js';
import { replaceBody } from '../plan/replace.js';
import { generatedByBody } from '../plan/rotation.js';
import type { ResourceChange } from '../plan/types.js';
import type { RetiredItem } from '../state/types.js';

/** What the create of a replace sends instead of a plain create's body, and the item it replaces. */
export interface ReplaceCreate {
  replaces: string;
  body: ItemInput;
}

/** The parts of an apply (src/apply/execute.ts) a replace is made of. */
export interface ReplaceOps {
  client: ConnectClient;
  liveAtPlannedVersion(change: ResourceChange): Promise<FullItem>;
  valuesFor(change: ResourceChange): Promise<{ desired: DesiredItem; values: Map<string, string>; digest?: string }>;
  /** A create recorded as pending before it is sent (and found again when its answer is lost). */
  create(change: ResourceChange, desired: DesiredItem, values: Map<string, string>, replace: ReplaceCreate): Promise<FullItem>;
  /**
   * The resource's state entry, on `item`, with `retired` old items still to delete, and the fields this write
   * generated (their generation time is now). Durable when it resolves.
   */
  record(change: ResourceChange, item: FullItem, desired: DesiredItem, digest?: string, retired?: RetiredItem[], generated?: ReadonlySet<string>): Promise<void>;
}

/**
 * The kill -9 tests' hook: die right after the new item of a replace is recorded, before the old one is deleted.
 * Only for tests; read when a replace reaches that point.
 */
function killAfterReplaceCreate(): void {
  if (process.env.OPSYNC_TEST_KILL_AFTER_REPLACE_CREATE === '1') process.kill(process.pid, 'SIGKILL');
}

async function deleteRetired(client: ConnectClient, r: RetiredItem): Promise<void> {
  try {
    await client.deleteItem(r.vaultId, r.itemId);
  } catch (err) {
    if (!(err instanceof ConnectError && err.status === 404)) throw err;
  }
}

export async function applyReplace(ops: ReplaceOps, change: ResourceChange): Promise<void> {
  const { client } = ops;
  // A plan without the detail (saved by an opsync before create-before-destroy) replaces the item it names.
  const detail = change.replace ?? { stage: 'create' as const, retire: [] };
  const live = await ops.liveAtPlannedVersion(change);
  const { desired, values, digest } = await ops.valuesFor(change);
  const rotate = new Set(change.rotate ?? []);
  const retire: RetiredItem[] = [];
  const add = (r: RetiredItem) => {
    if (!retire.some((x) => x.itemId === r.itemId)) retire.push({ itemId: r.itemId, vaultId: r.vaultId });
  };
  let item: FullItem;
  let generated = new Set<string>();
  if (detail.stage === 'create') {
    add({ itemId: live.id, vaultId: live.vault.id });
    for (const r of detail.retire) add(r);
    const { body, fields } = replaceBody(desired, values, live, rotate);
    // Regenerated (rotated) or generated for want of a live value: made now. Carried-over values keep their time.
    generated = new Set([...fields].filter(([, how]) => how === 'regenerated' || how === 'generated').map(([key]) => key));
    item = await ops.create(change, desired, values, { replaces: live.id, body });
  } else {
    // An interrupted replace's new item: brought to the manifest if it differs, as an update would.
    for (const r of detail.retire) if (r.itemId !== live.id) add(r);
    const diff = diffItem(desired, values, live, { rotate });
    if (diff.recreate) throw new Error('the item now needs to be recreated; plan again');
    item = live;
    if (diff.changes.length > 0) {
      const updated = diff.needsPut ? await client.replaceItem(change.vault.id!, live.id, diff.put) : await client.patchItem(change.vault.id!, live.id, diff.ops);
      if (diff.needsPut) generated = generatedByBody(desired, diff.put.fields);
      // Real Connect answers a PUT with the version from before it: a write is one version on, whatever it says.
      item = { ...updated, version: Math.max(updated.version, live.version + 1) };
    }
  }
  // From here on the resource is the new item; the old ones are remembered until they are deleted.
  await ops.record(change, item, desired, digest, retire, generated);
  if (detail.stage === 'create') killAfterReplaceCreate();
  const left: RetiredItem[] = [];
  const failures: string[] = [];
  for (const r of retire) {
    try {
      await deleteRetired(client, r);
    } catch (err) {
      left.push(r);
      failures.push(`${r.itemId}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  await ops.record(change, item, desired, digest, left);
  if (failures.length > 0) {
    throw new Error(`the new item ${item.id} is in place, but deleting the old item failed (${failures.join('; ')}); the next apply deletes it`);
  }
}
