// Refresh at the floor: what a plan knows of live, for as few requests as can answer it.
//
// One vault list (GET /v1/vaults) always. A vault's items are listed only when something needs that list:
// when the vault's contentVersion differs from the one the state recorded (Connect bumps it on every write to
// the vault's items), when a create of the vault is pending, or when an item is looked up by title (a new
// resource, one whose item is gone, an adoption). A vault that did not move answers for its managed items
// from the state: each is live at the state's version. Listings are indexed by id and by title once, so
// no lookup scans a vault.
//
// After an apply or a refresh, recordVaultVersions checks each vault the plan touched against live and
// records its contentVersion only where every managed item is live at the state's version: a record is
// a claim the shortcut relies on, so it is made only when it holds (and a vault that moves since never
// matches it again: contentVersion only grows).

import type { ConnectClient } from '../connect/client.js';
import type { ItemSummary, Vault } from '../connect/types.js';
import type { StateChange } from '../state/journal.js';
import type { StateFile, StateResource, StateVault } from '../state/types.js';

/** What a plan reads of a live item before deciding whether to fetch it. */
export type LiveSummary = Pick<ItemSummary, 'id' | 'title' | 'version'>;

interface Listing {
  byId: ReadonlyMap<string, LiveSummary>;
  byTitle: ReadonlyMap<string, readonly LiveSummary[]>;
}

export interface LiveView {
  /** The vault list: fetched once. */
  vaults(): Promise<Vault[]>;
  /** By id, else by name (the first vault of that name), as the manifests name vaults. */
  findVault(ref: string): Promise<Vault | undefined>;
  /** A managed item's live summary, or undefined when its vault does not hold it. Rejects when the vault cannot be listed. */
  summary(vaultId: string, itemId: string): Promise<LiveSummary | undefined>;
  /** Every live item of that title in the vault: always from a listing of the vault. */
  byTitle(vaultId: string, title: string): Promise<readonly LiveSummary[]>;
  /** Vault ids whose items were listed so far (for tests and benchmarks). */
  readonly listed: ReadonlySet<string>;
}

function indexListing(items: readonly LiveSummary[]): Listing {
  const byId = new Map<string, LiveSummary>();
  const byTitle = new Map<string, LiveSummary[]>();
  for (const s of items) {
    byId.set(s.id, s);
    const same = byTitle.get(s.title);
    if (same) same.push(s);
    else byTitle.set(s.title, [s]);
  }
  return { byId, byTitle };
}

function groupByVault<T extends { vaultId: string }>(entries: Iterable<T>): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const e of entries) {
    const list = out.get(e.vaultId);
    if (list) list.push(e);
    else out.set(e.vaultId, [e]);
  }
  return out;
}

/** The state's managed items of one vault as live summaries: what live is when the vault has not moved. */
function fromState(resources: readonly StateResource[]): Listing {
  return indexListing(resources.map((r) => ({ id: r.itemId, title: r.title, version: r.version })));
}

/** A vault whose recorded contentVersion is the live one, with no create pending: its state is live. */
function unmoved(state: StateFile, vault: Vault | undefined, pendingVaults: ReadonlySet<string>): boolean {
  if (!vault || pendingVaults.has(vault.id)) return false;
  const recorded = state.vaults?.[vault.id];
  return recorded !== undefined && recorded.contentVersion === vault.contentVersion;
}

export function createLiveView(client: ConnectClient, state: StateFile): LiveView {
  let vaultList: Promise<{ all: Vault[]; byId: Map<string, Vault>; byName: Map<string, Vault> }> | undefined;
  const indexed = () =>
    (vaultList ??= client.listVaults().then((all) => {
      const byId = new Map<string, Vault>();
      const byName = new Map<string, Vault>();
      for (const v of all) {
        byId.set(v.id, v);
        if (!byName.has(v.name)) byName.set(v.name, v);
      }
      return { all, byId, byName };
    }));
  const managed = groupByVault(Object.values(state.resources));
  const pendingVaults = new Set(Object.values(state.pending).map((p) => p.vaultId));
  const listings = new Map<string, Promise<Listing>>();
  const fromStates = new Map<string, Listing>();
  const listed = new Set<string>();

  const listing = (vaultId: string): Promise<Listing> => {
    let p = listings.get(vaultId);
    if (!p) {
      listed.add(vaultId);
      listings.set(vaultId, (p = client.listItems(vaultId).then(indexListing)));
    }
    return p;
  };

  return {
    vaults: async () => (await indexed()).all,
    async findVault(ref) {
      const { byId, byName } = await indexed();
      return byId.get(ref) ?? byName.get(ref);
    },
    async summary(vaultId, itemId) {
      // A real listing, once made, is at least as fresh as the state.
      const made = listings.get(vaultId);
      if (made) return (await made).byId.get(itemId);
      const { byId } = await indexed();
      if (unmoved(state, byId.get(vaultId), pendingVaults)) {
        let l = fromStates.get(vaultId);
        if (!l) fromStates.set(vaultId, (l = fromState(managed.get(vaultId) ?? [])));
        return l.byId.get(itemId);
      }
      return (await listing(vaultId)).byId.get(itemId);
    },
    async byTitle(vaultId, title) {
      return (await listing(vaultId)).byTitle.get(title) ?? [];
    },
    listed,
  };
}

/** Vault ids a plan's changes act on, once each. */
function vaultsOf(changes: readonly { vault: { id?: string } }[]): string[] {
  return [...new Set(changes.map((c) => c.vault.id).filter((id): id is string => id !== undefined))];
}

/**
 * What the state should record of these vaults now: for each, its live contentVersion when every managed item
 * of it is live at the state's version (checked with one listing, unless the recorded contentVersion is still
 * the live one), else nothing. The vault list comes first, so a write after it moves the vault past the record.
 */
export async function observeVaults(client: ConnectClient, state: StateFile, vaultIds: readonly string[]): Promise<Record<string, StateVault | undefined>> {
  const live = new Map((await client.listVaults()).map((v) => [v.id, v]));
  const managed = groupByVault(Object.values(state.resources));
  const pendingVaults = new Set(Object.values(state.pending).map((p) => p.vaultId));
  const out: Record<string, StateVault | undefined> = {};
  await Promise.all(
    vaultIds.map(async (id) => {
      const vault = live.get(id);
      if (!vault || pendingVaults.has(id)) {
        out[id] = undefined;
        return;
      }
      const record = { name: vault.name, contentVersion: vault.contentVersion };
      if (state.vaults?.[id]?.contentVersion === vault.contentVersion) {
        out[id] = record;
        return;
      }
      const byId = new Map((await client.listItems(id)).map((s) => [s.id, s.version]));
      const holds = (managed.get(id) ?? []).every((r) => byId.get(r.itemId) === r.version);
      out[id] = holds ? record : undefined;
    }),
  );
  return out;
}

/** The part of a state store this needs (StateStore has it). */
export interface VaultRecorder {
  readonly state: StateFile;
  change(...changes: StateChange[]): Promise<void>;
}

/**
 * After an apply or a refresh: record the contentVersion of each vault the plan touched where the state now
 * matches live, and forget it where it does not. Best effort: a failure here costs the next plan a listing,
 * never a wrong answer, so it is not an error of the apply. Changes the state only where a record changes.
 */
export async function recordVaultVersions(client: ConnectClient, store: VaultRecorder, changes: readonly { vault: { id?: string } }[]): Promise<void> {
  const ids = vaultsOf(changes);
  if (ids.length === 0) return;
  try {
    const seen = await observeVaults(client, store.state, ids);
    const before = store.state.vaults ?? {};
    const moved = ids.filter((id) => before[id]?.contentVersion !== seen[id]?.contentVersion || before[id]?.name !== seen[id]?.name);
    if (moved.length > 0) await store.change(...moved.map((id): StateChange => ({ op: 'vault', id, vault: seen[id] ?? null })));
  } catch {
    /* the next plan lists what it cannot take from a record */
  }
}
