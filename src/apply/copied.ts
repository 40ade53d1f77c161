// Apply's side of values copied between resources of one plan (src/plan/dependencies.ts): a field planned as
// `(known after apply)` is read from its dependency's version just written (never an older read that lags it);
// one planned from the dependency's manifest takes the dependency's resolved value, as the plan did; one
// nothing in this apply changes ('live') is read by id at the version the state holds, as the plan read it.

import type { ConnectClient } from '../connect/client.js';
import type { FullItem } from '../connect/types.js';
import { parseRef } from '../manifest/values.js';
import { findRefField, type Resolver } from '../plan/resolve.js';
import type { ResourceChange } from '../plan/types.js';
import type { StateHandle } from '../state/handle.js';

export interface CopiedValues {
  /** The change's values, and the keys of those that were known only after apply. */
  valuesOf(change: ResourceChange): Promise<{ values: Map<string, string>; after: Set<string> }>;
}

export function copiedValues(ctx: {
  client: ConnectClient;
  store: StateHandle;
  resolver: Resolver;
  changes: readonly ResourceChange[];
  fail: (message: string) => Error;
}): CopiedValues {
  const byAddress = new Map(ctx.changes.map((c) => [c.address, c]));
  const memo = new Map<string, Promise<{ values: Map<string, string>; after: Set<string> }>>();
  // A dependency as this apply left it, read once per version whatever the number of dependents.
  const written = new Map<string, Promise<FullItem | undefined>>();
  const read = (vaultId: string, itemId: string, version: number) => {
    const key = `${itemId}@${version}`;
    let p = written.get(key);
    if (!p) written.set(key, (p = ctx.client.getItemSettled(vaultId, itemId, version)));
    return p;
  };

  async function resolve(change: ResourceChange): Promise<{ values: Map<string, string>; after: Set<string> }> {
    const overrides = new Map<string, string>();
    const after = new Set<string>();
    for (const r of change.refs ?? []) {
      // Every mode reads the dependency by its id at the version the state holds (never by title, never a
      // read that lags this apply's own write); 'manifest' takes the dependency's resolved value instead.
      const dep = byAddress.get(r.on);
      if (r.mode === 'manifest' && dep?.desired && r.onField) {
        const value = (await valuesOf(dep)).values.get(r.onField);
        if (value !== undefined) {
          overrides.set(r.field, value);
          continue;
        }
      }
      const field = change.desired!.fields.find((f) => f.key === r.field);
      const ref = field?.source.kind === 'ref' ? parseRef(field.source.ref) : undefined;
      const st = ctx.store.state.resources[r.on];
      if (!ref || !st) throw ctx.fail(`field "${r.field}" copies a value from ${r.on}, which this apply did not write`);
      const item = await read(st.vaultId, st.itemId, st.version);
      const found = item ? findRefField(item, ref) : undefined;
      if (!found) throw ctx.fail(`field "${r.field}": ${r.on} has no field ${ref.field} after it was written`);
      overrides.set(r.field, found.value ?? '');
      if (r.mode === 'after') after.add(r.field);
    }
    return { values: await ctx.resolver.values(change.desired!, overrides), after };
  }

  function valuesOf(change: ResourceChange) {
    let p = memo.get(change.address);
    if (!p) memo.set(change.address, (p = resolve(change)));
    return p;
  }
  return { valuesOf };
}
