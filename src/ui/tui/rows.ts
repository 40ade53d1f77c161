// The plan browser's list as flat rows (vault headings, items, expanded details), filtered and windowed.
// Pure functions: the Ink components only render the visible slice of what these compute.

import type { Plan, ResourceChange } from '../../plan/types.js';
import type { Style } from '../color.js';
import { actionLabel, byVault, detailLines, isShown, type StyledLine } from '../present.js';
import { inline } from '../sanitize.js';

export type Row =
  | { kind: 'vault'; text: string }
  | { kind: 'item'; item: number; change: ResourceChange }
  | { kind: 'detail'; line: StyledLine };

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

/** Rows for the items, grouped by vault, with details under the expanded ones. */
export function buildRows(items: ResourceChange[], expanded: ReadonlySet<string>): { rows: Row[]; itemRow: number[] } {
  const rows: Row[] = [];
  const itemRow: number[] = [];
  let n = 0;
  for (const [vault, changes] of byVault(items)) {
    rows.push({ kind: 'vault', text: `${inline(vault)} (${changes.length})` });
    for (const change of changes) {
      itemRow.push(rows.length);
      rows.push({ kind: 'item', item: n, change });
      n += 1;
      if (expanded.has(change.address)) for (const line of detailLines(change, '      ')) rows.push({ kind: 'detail', line });
    }
  }
  return { rows, itemRow };
}

/** The item's line in the list: `+ create  Production/stripe-key  "Stripe API key"`. */
export function itemText(c: ResourceChange): { marker: string; text: string; style: Style } {
  const a = actionLabel(c);
  const drift = c.action !== 'noop' && c.drift ? (c.drift.ignored ? ', drift (ignored)' : ', drift') : '';
  return { marker: a.marker, text: `${inline(c.address)}  ${JSON.stringify(inline(c.title))}  ${a.words}${drift}`, style: a.style };
}

/**
 * The first visible row: keep the selected item (and as much of its expanded details as fits) in view,
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
