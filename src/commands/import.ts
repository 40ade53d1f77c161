// `opsync import ADDRESS VAULT/ITEM`: adopt an existing item into state under ADDRESS, without changing it.
// The address must be declared in the manifests (else the next plan would delete the item); the next plan
// compares the item in full and shows what it takes to reach the manifest.

import { CONNECT_ID, type ItemSummary } from '../connect/types.js';
import { UserError } from '../errors.js';
import type { Manifest } from '../manifest/types.js';
import { closest, suggest } from '../plan/select.js';
import { vaultNotFound } from '../plan/unknownVault.js';
import { openConnection, type ConnectionFlags } from '../session.js';
import { openState, type StateTarget } from '../state/open.js';
import { inline } from '../ui/sanitize.js';
import { checkBackend, type IO } from './common.js';

export interface ImportFlags extends ConnectionFlags, StateTarget {
  lockTimeoutMs: number;
}

/** "VAULT/ITEM": the vault is everything before the first "/" (vault names and ids have none). */
function parseItemRef(ref: string): { vault: string; item: string } {
  const i = ref.indexOf('/');
  if (i <= 0 || i === ref.length - 1) throw new UserError(`"${ref}" does not name an item: write VAULT/ITEM, each by name (title) or id`);
  return { vault: ref.slice(0, i), item: ref.slice(i + 1) };
}

export async function importCommand(address: string, ref: string, manifest: Manifest, flags: ImportFlags, io: IO): Promise<number> {
  const desired = manifest.items.find((i) => i.address === address);
  if (!desired) {
    throw new UserError(
      `${address} is not declared in the manifests (${manifest.files.length} file(s) read); declare it first, or the next plan would delete the imported item` +
        suggest(closest(address, manifest.items.map((i) => i.address)), 'addresses'),
    );
  }
  const { vault: vaultRef, item: itemRef } = parseItemRef(ref);
  const conn = await openConnection(flags, io.env);
  try {
    const vault = await conn.client.findVault(vaultRef);
    if (!vault) throw new UserError(vaultNotFound(vaultRef, await conn.client.listVaults()));
    // The manifest names this vault (by id or name) or another one.
    if (desired.vault !== vault.id && desired.vault !== vault.name) {
      throw new UserError(
        `${address} is declared in vault "${desired.vault}" but ${ref} is in vault ${vault.name}; an item cannot change vaults: import an item of vault "${desired.vault}", or declare it in a manifest of vault ${vault.name}`,
      );
    }
    let found: ItemSummary | undefined;
    // An id-shaped ref is an id unless some item has it as its title. Both reads wait out real Connect's read
    // lag, so an item made a moment ago is found.
    if (CONNECT_ID.test(itemRef)) found = await conn.client.getItemSettled(vault.id, itemRef, 1);
    if (!found) {
      const byTitle = await conn.client.findItemsByTitleSettled(vault.id, itemRef);
      if (byTitle.length > 1) {
        throw new UserError(`${byTitle.length} items in vault ${vault.name} are titled "${itemRef}" (${byTitle.map((s) => s.id).join(', ')}); import one by id`);
      }
      found = byTitle[0];
    }
    if (!found) {
      const near = closest(itemRef, (await conn.client.listItems(vault.id)).map((s) => s.title));
      const titles = [...near.caseOnly, ...near.near].map((t) => `"${t}"`);
      throw new UserError(`no item "${itemRef}" (by id or exact title) in vault ${vault.name}${titles.length ? `; did you mean ${titles.join(' or ')}?${near.caseOnly.length ? ' (titles are case-sensitive)' : ''}` : ''}`);
    }

    const store = await openState(flags, { lockTimeoutMs: flags.lockTimeoutMs, command: 'opsync import', env: io.env });
    try {
      checkBackend(store.state, flags.state, conn.backend);
      if (store.state.resources[address]) {
        const r = store.state.resources[address];
        throw new UserError(`${address} is already managed (item ${r.itemId}); \`opsync state rm ${address}\` first to import another item under it`);
      }
      const other = Object.values(store.state.resources).find((r) => r.itemId === found!.id);
      if (other) throw new UserError(`item ${found.id} is already managed as ${other.address}; use \`opsync state mv ${other.address} ${address}\` to rename it`);
      const rotations: Record<string, string> = {};
      for (const f of desired.fields) if (f.source.kind === 'generate') rotations[f.key] = f.source.rotate ?? '';
      await store.update((s) => {
        s.connect ??= conn.backend;
        delete s.pending[address];
        s.resources[address] = {
          address,
          vaultId: vault.id,
          vaultName: vault.name,
          itemId: found!.id,
          title: found!.title,
          category: found!.category,
          version: found!.version,
          // No digest: the next plan compares the item in full against the manifest.
          digest: '',
          ...(Object.keys(rotations).length ? { rotations } : {}),
          ...(desired.protect ? { protect: true } : {}),
          updatedAt: new Date().toISOString(),
        };
      });
    } finally {
      await store.close();
    }
    io.out(`Imported ${inline(address)}: item ${found.id} ("${inline(found.title)}", version ${found.version}) in vault ${inline(vault.name)}. Nothing in it was changed.\n`);
    io.err('Run `opsync plan` to see what it takes to reach the manifest.\n');
    return 0;
  } finally {
    await conn.close();
  }
}
