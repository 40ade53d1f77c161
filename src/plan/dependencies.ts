// Values a resource copies from other resources of the same plan (`ref:` to a managed item). Planned after
// what it depends on (the graph, graph.ts), each such value is one of:
//  - 'manifest': the dependency's field takes its value from the dependency's own manifest source, so the value
//    is known now (also on a first apply, before the dependency exists);
//  - 'after': the same apply creates, generates, rotates or replaces it: `(known after apply)`, read from the
//    dependency's new version once it is written;
//  - 'live': nothing in this apply changes it: read from Connect, as any reference.

import type { FullItem } from '../connect/types.js';
import type { DesiredItem } from '../manifest/types.js';
import type { RefEdge } from './graph.js';
import { findRefField } from './resolve.js';
import type { PlanScope } from './scope.js';
import type { AttrChange, RefUse, ResourceChange } from './types.js';

/** Stands in for a value the same apply writes first. Digested like a value; never sent, never shown. */
export const KNOWN_AFTER_APPLY = '\u0000opsync:(known after apply)';

export interface DependencyValues {
  /** Field key -> value (or KNOWN_AFTER_APPLY), for the resolver to use instead of reading Connect. */
  overrides: Map<string, string>;
  refs: RefUse[];
  /** Why this resource changes because of what it depends on, e.g. "Production/db password rotated". */
  reasons: string[];
}

function modeOf(edge: RefEdge, dep: ResourceChange, depValues: ReadonlyMap<string, string> | undefined): { mode: RefUse['mode']; why?: string } {
  const field = edge.toField ? dep.desired?.fields.find((f) => f.key === edge.toField) : undefined;
  const label = field?.label ?? edge.ref.field;
  const remade = dep.action === 'create' ? 'created' : dep.action === 'replace' ? 'replaced' : undefined;
  if (field && field.source.kind !== 'generate' && field.source.kind !== 'unmanaged' && !dep.desired?.ignore.includes(`fields.${field.key}`)) {
    const value = depValues?.get(field.key);
    if (value === KNOWN_AFTER_APPLY) return { mode: 'after', why: `${dep.address} ${label} is known after apply` };
    if (value !== undefined) {
      const changed = dep.action !== 'noop' && dep.changes.some((c) => c.path === fieldChangePath(dep.desired!, field.key));
      return { mode: 'manifest', ...(changed ? { why: `${dep.address} ${label} changed` } : {}) };
    }
  }
  if (field?.source.kind === 'generate') {
    if (dep.action === 'create') return { mode: 'after', why: `${dep.address} ${label} generated` };
    if (dep.rotate?.includes(field.key)) return { mode: 'after', why: `${dep.address} ${label} rotated` };
  }
  if (remade) return { mode: 'after', why: `${dep.address} ${remade}` };
  return { mode: 'live' };
}

function fieldChangePath(item: DesiredItem, key: string): string | undefined {
  const f = item.fields.find((x) => x.key === key);
  if (!f) return undefined;
  return f.section ? `field ${f.section}.${f.label}` : `field ${f.label}`;
}

/**
 * Waits for the planned changes of what `d` depends on, then says how each of its managed references is
 * resolved. Undefined when a dependency could not be planned (its error is reported, and one for `d`).
 */
export async function dependencyValues(scope: PlanScope, d: DesiredItem): Promise<DependencyValues | undefined> {
  const out: DependencyValues = { overrides: new Map(), refs: [], reasons: [] };
  for (const edge of scope.graph.out.get(d.address) ?? []) {
    const planned = scope.planned.get(edge.to);
    if (!planned) {
      // Outside --target: read from Connect as it is, if opsync has made it yet.
      if (scope.resources[edge.to]) continue;
      scope.error(`field "${edge.field}" copies a value from ${edge.to}, which is outside --target and not applied yet: add --target ${edge.to}`, d.address, edge.pos);
      return undefined;
    }
    const dep = await planned;
    if (!dep) {
      scope.error(`field "${edge.field}" takes its value from ${edge.to}, which cannot be planned (see its error)`, d.address, edge.pos);
      return undefined;
    }
    const { mode, why } = modeOf(edge, dep, scope.resolved.get(edge.to));
    out.refs.push({ field: edge.field, on: edge.to, ...(edge.toField ? { onField: edge.toField } : {}), mode });
    if (mode === 'after') out.overrides.set(edge.field, KNOWN_AFTER_APPLY);
    if (mode === 'manifest') out.overrides.set(edge.field, scope.resolved.get(edge.to)!.get(edge.toField!)!);
    if (mode === 'live' && dep.itemId && dep.vault.id && dep.plannedVersion !== undefined) {
      // The version this plan saw, not whatever a lagging read returns (real Connect's reads trail its writes).
      const value = await pinnedValue(scope, dep, edge);
      if (value === undefined) {
        scope.error(`field "${edge.field}": reference ${refText(edge)}: no such field in ${edge.to}`, d.address, edge.pos);
        return undefined;
      }
      out.overrides.set(edge.field, value);
    }
    if (why && !out.reasons.includes(why)) out.reasons.push(why);
  }
  return out;
}

const pinned = new WeakMap<PlanScope, Map<string, Promise<FullItem | undefined>>>();

async function pinnedValue(scope: PlanScope, dep: ResourceChange, edge: RefEdge): Promise<string | undefined> {
  let items = pinned.get(scope);
  if (!items) pinned.set(scope, (items = new Map()));
  let item = items.get(dep.address);
  if (!item) items.set(dep.address, (item = scope.client.getItemSettled(dep.vault.id!, dep.itemId!, dep.plannedVersion!)));
  const live = await item;
  const field = live ? findRefField(live, edge.ref) : undefined;
  return field ? (field.value ?? '') : undefined;
}

function refText(edge: RefEdge): string {
  const r = edge.ref;
  return `op://${r.vault}/${r.item}/${r.section !== undefined ? `${r.section}/` : ''}${r.field}`;
}

/** The dependent's own view of its known-after-apply fields: no value, a note that says so. */
export function markKnownAfterApply(changes: AttrChange[], item: DesiredItem, refs: readonly RefUse[] | undefined): AttrChange[] {
  const paths = new Set((refs ?? []).filter((r) => r.mode === 'after').map((r) => fieldChangePath(item, r.field)));
  if (paths.size === 0) return changes;
  return changes.map((c) => {
    if (!paths.has(c.path)) return c;
    const { before: _b, after: _a, ...rest } = c;
    return { ...rest, sensitive: true, note: '(known after apply)' };
  });
}
