// The local state file: per managed item, its id and version, and keyed digests of what was applied.
// Never a secret value.

// Version 2 added `fields` (version 1 files are read and upgraded in memory: their resources lack it until
// their next write). Version 3 added `connectMovedFrom` and `generatedAt`, optional both: a version 2 file is
// a version 3 file; the number moved so that an older opsync says "upgrade opsync" instead of refusing a
// property it does not know.
export const STATE_FORMAT_VERSION = 3;

export interface StateResource {
  address: string;
  vaultId: string;
  vaultName: string;
  itemId: string;
  title: string;
  category: string;
  /** Live version right after opsync last wrote or checked it. */
  version: number;
  /** HMAC of the desired spec (with resolved values) that was applied. Key is not in the state. */
  digest: string;
  /**
   * By field key: a keyed digest (src/plan/digest.ts fieldDigest) of each managed field's value (every source
   * but `unmanaged`) as opsync last wrote or accepted it, generated values included (from Connect's answer).
   * Never a value. Absent in resources not written since version 2: their generated values are not compared.
   */
  fields?: Record<string, string>;
  /** Rotation key of each generated field at the time it was generated, by field key. */
  rotations?: Record<string, string>;
  /**
   * When opsync last generated each generated field's value (an ISO 8601 timestamp, never a value), by field
   * key: on create, rotation and a replace that regenerates it (src/plan/rotation.ts). Absent (a state written
   * before it existed, an imported item): unknown, counted from `updatedAt`.
   */
  generatedAt?: Record<string, string>;
  /** The manifest said protect: true when it was applied; kept so a resource removed from the manifests is still protected. */
  protect?: boolean;
  /**
   * Old items of a replace still to delete: the resource is already on its new item (create-before-destroy,
   * src/apply/replace.ts). Recorded with the new item, dropped once they are deleted; the next plan deletes
   * any a crash left. Absent when none.
   */
  retired?: RetiredItem[];
  updatedAt: string;
}

/** An item a replace left behind, to delete (see `StateResource.retired`). */
export interface RetiredItem {
  itemId: string;
  vaultId: string;
}

/** A create that was started but not confirmed: the next plan looks the title up and adopts what it finds. */
export interface PendingCreate {
  address: string;
  vaultId: string;
  vaultName: string;
  title: string;
  startedAt: string;
  /** The create of a replace: the id of the item it replaces, deleted once the new one is recorded. */
  replaces?: string;
}

export interface StateFile {
  version: typeof STATE_FORMAT_VERSION;
  /** Fixed when the state is first created; a plan from another lineage is refused. */
  lineage: string;
  /** Bumped by every write. */
  serial: number;
  /** The Connect server this state was written against ("local" for the embedded server); another is refused. */
  connect?: string;
  /**
   * Set by `opsync state set-connect URL`: the server the state was written against before it was re-pointed,
   * so the next plan says so; the next apply drops it.
   */
  connectMovedFrom?: string;
  resources: Record<string, StateResource>;
  pending: Record<string, PendingCreate>;
  /**
   * By vault id: the vault's name and its contentVersion (Connect bumps it on every change to the vault's
   * items) when opsync last refreshed or applied it, so a later run can tell an unchanged vault without
   * listing its items. Optional: absent in states written before it existed; never holds a value.
   */
  vaults?: Record<string, StateVault>;
}

/** What the state remembers of a vault: see `StateFile.vaults`. */
export interface StateVault {
  name: string;
  contentVersion: number;
}
