// A vault the manifests name that the token cannot see: one error for the vault, at its `vault:` line, with the
// vaults it can see and the nearest name, instead of one per item. Its items are not planned, and while a vault
// is unknown nothing is deleted from a vault that no found manifest vault is (a mistyped `vault: Stagging` would
// otherwise plan to delete every resource of Staging).

import type { Vault } from '../connect/types.js';
import type { DesiredItem, SourcePos } from '../manifest/types.js';
import type { LiveView } from './refresh.js';
import { closest, suggest } from './select.js';

/** How many visible vaults a message lists before "and N more". */
const LISTED = 10;

/** `vault "X" not found, or this token cannot see it; did you mean Y? (this token sees A, B)`. */
export function vaultNotFound(name: string, visible: readonly Vault[]): string {
  const names = [...new Set(visible.map((v) => v.name))].sort();
  const seen =
    names.length === 0
      ? 'this token sees no vault'
      : `this token sees ${names.slice(0, LISTED).join(', ')}${names.length > LISTED ? ` and ${names.length - LISTED} more` : ''}`;
  return `vault "${name}" not found, or this token cannot see it${suggest(closest(name, names), 'vault names')} (${seen})`;
}

export interface VaultCheck {
  /** Vault as the manifests write it -> its items, for each the token cannot see. */
  unknown: Map<string, DesiredItem[]>;
  /** Ids of the vaults the manifests name that were found. */
  found: Set<string>;
}

/** Looks up every vault the manifests name (one vault list, which a plan makes anyway). */
export async function checkVaults(live: LiveView, items: readonly DesiredItem[]): Promise<VaultCheck> {
  const out: VaultCheck = { unknown: new Map(), found: new Set() };
  const byName = new Map<string, DesiredItem[]>();
  for (const i of items) {
    const list = byName.get(i.vault);
    if (list) list.push(i);
    else byName.set(i.vault, [i]);
  }
  for (const [name, of] of byName) {
    const vault = await live.findVault(name);
    if (vault) out.found.add(vault.id);
    else out.unknown.set(name, of);
  }
  return out;
}

/** The one error of an unknown vault: at the first `vault:` that names it. */
export async function unknownVaultError(live: LiveView, name: string, items: readonly DesiredItem[]): Promise<{ message: string; pos: SourcePos }> {
  return { message: vaultNotFound(name, await live.vaults()), pos: items[0].vaultPos ?? items[0].pos };
}
