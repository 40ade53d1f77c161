// The plan browser's list as flat rows (vault headings, items, expanded details), filtered and windowed.
// Pure functions: the Ink components only render the visible slice of what these compute. Every row is one
// screen line: details are wrapped to the width here, so a long value is read in full, never cut.

import type { Plan, ResourceChange } from '../../plan/types.js';
import type { Style } from '../color.js';
import { actionLabel, byVault, detailLines, isShown } from '../present.js';
import { inline } from '../sanitize.js';
import { textWidth, wrapLine } from './wrap.js';

export type Row =
  /** A vault heading; `entry` is its place among the rows the cursor can be on. */
  | { kind: 'vault'; vault: string; count: number; collapsed: boolean; entry: number }
  /** An item; `item` is its place in the (filtered) list of items. */
  | { kind: 'item'; item: number; change: ResourceChange; expanded: boolean; entry: number }
  | { kind: 'detail'; text: string; style: Style };

export interface RowModel {
  rows: Row[];
  /** Row index of each entry (the vault headings and items, where the cursor can be). */
  entryRow: number[];
  /** A stable key of each entry ("v:<vault>", "i:<address>"), to keep the cursor across changes. */
  entryKey: string[];
  keyEntry: Map<string, number>;
  /** Entry of the first item (-1 without one). */
  firstItem: number;
}

export const vaultKey = (vault: string) => `v:${vault}`;
export const itemKey = (address: string) => `i:${address}`;

/** Columns before an item's text: the cursor (2) and the marker (3 and a space). */
export const ITEM_PREFIX = 6;
const DETAIL_INDENT = ' '.repeat(ITEM_PREFIX);

/**
 * Items shown in the browser (those that act or drifted), matching the filter (address or title), in list
 * order: grouped by vault, so the n-th item is the n-th item row.
 */
export function visibleItems(plan: Plan, filter: string): ResourceChange[] {
  const f = filter.trim().toLowerCase();
  let shown = plan.changes.filter(isShown);
  if (f) shown = shown.filter((c) => c.address.toLowerCase().includes(f) || c.title.toLowerCase().includes(f));
  return [...byVault(shown).values()].flat();
}

/** The item's line in the list: `+ create  Production/stripe-key  "Stripe API key"`. */
export function itemText(c: ResourceChange): { marker: string; text: string; style: Style } {
  const a = actionLabel(c);
  const drift = c.action !== 'noop' && c.drift ? (c.drift.ignored ? ', drift (ignored)' : ', drift') : '';
  return { marker: a.marker, text: `${inline(c.address)}  ${JSON.stringify(inline(c.title))}  ${a.words}${drift}`, style: a.style };
}

export function vaultText(vault: string, count: number, collapsed: boolean): string {
  return `${collapsed ? '▸' : '▾'} ${inline(vault)} (${count}${collapsed ? ', collapsed' : ''})`;
}

// An item's details depend only on the change and the width: computed once, whatever the keys do after.
const detailCache = new WeakMap<ResourceChange, { width: number; lines: { text: string; style: Style }[] }>();

/** What an expanded item shows under its line, wrapped to `width`; its line in full first when it is cut. */
export function itemDetails(c: ResourceChange, width: number): { text: string; style: Style }[] {
  const hit = detailCache.get(c);
  if (hit && hit.width === width) return hit.lines;
  const lines: { text: string; style: Style }[] = [];
  const t = itemText(c);
  if (ITEM_PREFIX + textWidth(t.text) > width) {
    for (const l of wrapLine(`${DETAIL_INDENT}${t.text}`, width)) lines.push({ text: l, style: t.style });
  }
  for (const d of detailLines(c, DETAIL_INDENT)) {
    for (const l of wrapLine(d.text, width)) lines.push({ text: l, style: d.style });
  }
  detailCache.set(c, { width, lines });
  return lines;
}

/** Rows for the items, grouped by vault; a collapsed vault shows its heading only; details under expanded items. */
export function buildRows(
  items: ResourceChange[],
  expanded: ReadonlySet<string>,
  collapsed: ReadonlySet<string> = new Set(),
  width = 100,
): RowModel {
  const rows: Row[] = [];
  const entryRow: number[] = [];
  const entryKey: string[] = [];
  let firstItem = -1;
  let n = 0;
  const entry = (key: string) => {
    entryRow.push(rows.length);
    entryKey.push(key);
    return entryRow.length - 1;
  };
  for (const [vault, changes] of byVault(items)) {
    const isCollapsed = collapsed.has(vault);
    rows.push({ kind: 'vault', vault, count: changes.length, collapsed: isCollapsed, entry: entry(vaultKey(vault)) });
    for (const change of changes) {
      if (isCollapsed) {
        n += 1;
        continue;
      }
      const open = expanded.has(change.address);
      const e = entry(itemKey(change.address));
      if (firstItem < 0) firstItem = e;
      rows.push({ kind: 'item', item: n, change, expanded: open, entry: e });
      n += 1;
      if (open) for (const line of itemDetails(change, width)) rows.push({ kind: 'detail', text: line.text, style: line.style });
    }
  }
  return { rows, entryRow, entryKey, keyEntry: new Map(entryKey.map((k, i) => [k, i])), firstItem };
}

/**
 * The first visible row: keep the selected row (and as much of an item's expanded details as fits) in view,
 * moving as little as possible from the previous top; show the vault heading above a vault's first item.
 */
export function windowTop(rows: Row[], selRow: number, prevTop: number, height: number): number {
  if (rows.length <= height || selRow < 0) return 0;
  let top = Math.min(prevTop, rows.length - height);
  let last = selRow;
  while (last + 1 < rows.length && rows[last + 1].kind === 'detail' && last + 1 - selRow < height - 1) last += 1;
  if (selRow < top) top = selRow;
  if (last > top + height - 1) top = last - height + 1;
  if (top === selRow && selRow > 0 && rows[selRow - 1].kind === 'vault') top = selRow - 1;
  return Math.max(0, Math.min(top, rows.length - height));
}
