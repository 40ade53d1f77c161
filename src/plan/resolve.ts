// Resolving desired values: literals, environment, files (src/manifest/values.ts) and op:// references,
// which are read from Connect. Values stay in memory; errors name the source, never a value.

import type { ConnectClient } from '../connect/client.js';
import { CONNECT_ID, type Field, type FullItem, type Vault } from '../connect/types.js';
import type { DesiredItem } from '../manifest/types.js';
import { parseRef, resolveLocalValue, type ParsedRef } from '../manifest/values.js';

/** A value that cannot be resolved. `message` names the address (for a line of its own); `detail` does not (for a diagnostic or an operation, which show the address already). */
export class ResolveError extends Error {
  readonly detail: string;
  constructor(
    readonly address: string,
    readonly field: string,
    message: string,
  ) {
    super(`${address}: field "${field}": ${message}`);
    this.name = 'ResolveError';
    this.detail = `field "${field}": ${message}`;
  }
}

export interface Resolver {
  /**
   * Field key -> value, for every field whose value opsync manages (not generate/unmanaged). `overrides`: values
   * already known for some fields (copied from another resource of the plan, see dependencies.ts), used as given.
   */
  values(item: DesiredItem, overrides?: ReadonlyMap<string, string>): Promise<Map<string, string>>;
}

/** The field of a referenced item that `op://vault/item/[section/]field` names: by label or id, in the section named. */
export function findRefField(target: FullItem, ref: ParsedRef): Field | undefined {
  const sections = target.sections ?? [];
  return (target.fields ?? []).find((tf) => {
    if (tf.label !== ref.field && tf.id !== ref.field) return false;
    if (ref.section === undefined) return true;
    const s = sections.find((x) => x.id === tf.section?.id);
    return s !== undefined && (s.id === ref.section || s.label === ref.section);
  });
}

export function createResolver(client: ConnectClient, env: NodeJS.ProcessEnv, vaults: () => Promise<Vault[]>): Resolver {
  const items = new Map<string, Promise<FullItem>>();

  async function refItem(vaultRef: string, itemRef: string): Promise<FullItem> {
    const key = `${vaultRef}\u0000${itemRef}`;
    let p = items.get(key);
    if (!p) {
      p = (async () => {
        const vault = (await vaults()).find((v) => v.id === vaultRef || v.name === vaultRef);
        if (!vault) throw new Error(`vault "${vaultRef}" not found`);
        if (CONNECT_ID.test(itemRef)) {
          try {
            return await client.getItem(vault.id, itemRef);
          } catch {
            /* not an id after all: try it as a title */
          }
        }
        const found = await client.findItemsByTitle(vault.id, itemRef);
        if (found.length === 0) {
          throw new Error(`item "${itemRef}" not found in vault "${vault.name}" (a reference to an item of the manifests must name its vault and title as the manifest writes them)`);
        }
        if (found.length > 1) throw new Error(`${found.length} items are titled "${itemRef}" in vault "${vault.name}"; use the item id`);
        return client.getItem(vault.id, found[0].id);
      })();
      items.set(key, p);
    }
    return p;
  }

  return {
    async values(item, overrides) {
      const out = new Map<string, string>();
      for (const f of item.fields) {
        const src = f.source;
        const given = overrides?.get(f.key);
        if (given !== undefined) {
          out.set(f.key, given);
          continue;
        }
        try {
          if (src.kind === 'ref') {
            const ref = parseRef(src.ref);
            if (!ref) throw new Error(`malformed reference ${src.ref}`);
            const field = findRefField(await refItem(ref.vault, ref.item), ref);
            if (!field) throw new Error(`reference ${src.ref}: no such field`);
            out.set(f.key, field.value ?? '');
          } else {
            const v = resolveLocalValue(src, env);
            if (v !== undefined) out.set(f.key, v);
          }
        } catch (err) {
          throw new ResolveError(item.address, f.key, (err as Error).message);
        }
      }
      return out;
    },
  };
}
