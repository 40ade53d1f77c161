// The local state file: per managed item, its id and version, and a keyed digest of what was applied.
// Never a secret value.

export const STATE_FORMAT_VERSION = 1;

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
  /** Rotation key of each generated field at the time it was generated, by field key. */
  rotations?: Record<string, string>;
  /** The manifest said protect: true when it was applied; kept so a resource removed from the manifests is still protected. */
  protect?: boolean;
  updatedAt: string;
}

/** A create that was started but not confirmed: the next plan looks the title up and adopts what it finds. */
export interface PendingCreate {
  address: string;
  vaultId: string;
  vaultName: string;
  title: string;
  startedAt: string;
}

export interface StateFile {
  version: typeof STATE_FORMAT_VERSION;
  /** Fixed when the state is first created; a plan from another lineage is refused. */
  lineage: string;
  /** Bumped by every write. */
  serial: number;
  /** The Connect server this state was written against ("local" for the embedded server); another is refused. */
  connect?: string;
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
