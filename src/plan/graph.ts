// The dependency graph of the manifests: a field whose value is `ref: op://Vault/Item/field` of another managed
// item depends on that item. Plan resolves a dependent after what it depends on (and marks values that the same
// apply creates, generates or rotates as known after apply); apply writes a dependent after its dependencies,
// independent items in parallel; validate refuses cycles. Pure: no I/O.

import { formatPos } from '../manifest/positions.js';
import type { DesiredField, DesiredItem, Diagnostic, SourcePos } from '../manifest/types.js';
import { parseRef, type ParsedRef } from '../manifest/values.js';
import { BUILTIN_FIELD_IDS } from './itemBody.js';

/** One `ref:` of a managed item's field to another managed item. */
export interface RefEdge {
  /** The dependent's address and field key. */
  from: string;
  field: string;
  /** The address it depends on. */
  to: string;
  /** The referenced field in the dependency's manifest, when the manifest declares it (else a field Connect made). */
  toField?: string;
  ref: ParsedRef;
  pos: SourcePos;
}

export interface DependencyGraph {
  /** Every edge, in manifest order. */
  edges: RefEdge[];
  /** Address -> the edges out of it (what it depends on). */
  out: ReadonlyMap<string, RefEdge[]>;
}

/** Other names an item or its vault goes by once known (ids from the state or the live vault list). */
export interface GraphAliases {
  vaultIds?: ReadonlyMap<string, string>;
  itemIds?: ReadonlyMap<string, string>;
}

/** The declared field a reference names: by label or, for a purpose field, by its built-in id; in the section named. */
export function referencedField(item: DesiredItem, ref: ParsedRef): DesiredField | undefined {
  return item.fields.find((f) => {
    const builtin = f.purpose ? BUILTIN_FIELD_IDS[f.purpose] : undefined;
    if (f.label !== ref.field && builtin !== ref.field) return false;
    if (ref.section === undefined) return true;
    const s = item.sections.find((x) => x.key === f.section);
    return s !== undefined && (s.key === ref.section || s.label === ref.section);
  });
}

export function buildGraph(items: readonly DesiredItem[], aliases: GraphAliases = {}): DependencyGraph {
  // Vault (as written, or its id) + title (or item id) -> address.
  const byName = new Map<string, DesiredItem>();
  const key = (vault: string, item: string) => `${vault}\u0000${item}`;
  for (const d of items) {
    const vaults = [d.vault, aliases.vaultIds?.get(d.address)].filter((v): v is string => !!v);
    const names = [d.title, aliases.itemIds?.get(d.address)].filter((v): v is string => !!v);
    for (const v of vaults) for (const n of names) if (!byName.has(key(v, n))) byName.set(key(v, n), d);
  }
  const edges: RefEdge[] = [];
  const out = new Map<string, RefEdge[]>();
  for (const d of items) {
    for (const f of d.fields) {
      if (f.source.kind !== 'ref') continue;
      const ref = parseRef(f.source.ref);
      if (!ref) continue;
      const target = byName.get(key(ref.vault, ref.item));
      if (!target) continue; // an unmanaged item: read from Connect as it is
      const toField = referencedField(target, ref);
      const edge: RefEdge = { from: d.address, field: f.key, to: target.address, ...(toField ? { toField: toField.key } : {}), ref, pos: f.pos };
      edges.push(edge);
      const list = out.get(d.address);
      if (list) list.push(edge);
      else out.set(d.address, [edge]);
    }
  }
  return { edges, out };
}

/** A cycle of references, as the edges that close it (first edge's `from` = last edge's `to`), or undefined. */
export function findCycle(graph: DependencyGraph): RefEdge[] | undefined {
  const state = new Map<string, 'open' | 'done'>();
  const path: RefEdge[] = [];
  const visit = (address: string): RefEdge[] | undefined => {
    state.set(address, 'open');
    for (const e of graph.out.get(address) ?? []) {
      const s = state.get(e.to);
      if (s === 'open') {
        const start = path.findIndex((p) => p.from === e.to);
        return [...(start >= 0 ? path.slice(start) : []), e];
      }
      if (s === undefined) {
        path.push(e);
        const found = visit(e.to);
        if (found) return found;
        path.pop();
      }
    }
    state.set(address, 'done');
    return undefined;
  };
  for (const address of graph.out.keys()) {
    if (state.has(address)) continue;
    const found = visit(address);
    if (found) return found;
  }
  return undefined;
}

/** The one-line error for a cycle: every address in it, and where each reference is written. */
export function describeCycle(cycle: readonly RefEdge[]): { message: string; pos: SourcePos } {
  const addresses = [...cycle.map((e) => e.from), cycle[cycle.length - 1].to];
  const where = cycle.map((e) => `${e.from} field "${e.field}" at ${formatPos(e.pos)}`).join('; ');
  return { message: `reference cycle: ${addresses.join(' -> ')} (${where}); one of these must take its value from elsewhere`, pos: cycle[0].pos };
}

/** For validate: a cycle among the manifests' items (by vault and title as written), as one error at its first reference. */
export function cycleDiagnostics(items: readonly DesiredItem[]): Diagnostic[] {
  const cycle = findCycle(buildGraph(items));
  if (!cycle) return [];
  const { message, pos } = describeCycle(cycle);
  return [{ severity: 'error', message, ...pos }];
}
