// The plan browser: cursor, expansion (items and vaults), filter and window over a plan's items, as a hook
// (state and keys) and a component (the visible slice only), shared by the plan view and the apply review.

import { Box, Text, useStdout, type Key } from 'ink';
import { useEffect, useReducer, useRef } from 'react';
import type { Plan, ResourceChange } from '../../plan/types.js';
import { INK_COLOR, type Style } from '../color.js';
import { inline } from '../sanitize.js';
import { truncate } from './wrap.js';
import { buildRows, ITEM_PREFIX, itemText, vaultKey, vaultText, visibleItems, windowTop, type Row, type RowModel } from './rows.js';

export interface Browser {
  rows: Row[];
  top: number;
  height: number;
  width: number;
  /** Row index of the cursor (-1 when the list is empty). */
  selectedRow: number;
  /** Items shown (after the filter), collapsed vaults' included. */
  count: number;
  /** `3/12` on an item, `Production: 5 items` on a vault heading. */
  position: string;
  filter: string;
  filtering: boolean;
  /** Whether a filter is being typed now (keys of one read see the previous key's effect). */
  isFiltering(): boolean;
  /** Handle a key; returns false when the key means nothing to the browser. */
  handleKey(input: string, key: Key): boolean;
  /** Clear a kept filter; false when there was none. */
  clearFilter(): boolean;
}

/** The terminal's size as the views use it (one line short: a frame as tall as the screen makes Ink clear it). */
export function useTerminalSize(height: number | undefined, width: number | undefined): { height: number; width: number } {
  const { stdout } = useStdout();
  const [, resized] = useReducer((n: number) => n + 1, 0);
  useEffect(() => {
    stdout.on('resize', resized);
    return () => void stdout.off('resize', resized);
  }, [stdout]);
  const h = height ?? (stdout.rows && stdout.rows > 1 ? stdout.rows - 1 : 23);
  const w = width ?? (stdout.columns && stdout.columns > 0 ? stdout.columns : 80);
  return { height: Math.max(4, h), width: Math.max(20, w) };
}

interface BrowserState {
  /** The cursor as an entry key, so it stays on its item when rows open and close above it. */
  selKey: string | undefined;
  expanded: ReadonlySet<string>;
  collapsed: ReadonlySet<string>;
  filter: string;
  filtering: boolean;
  top: number;
}

/**
 * State lives in a ref and every key reads and writes it at once: keys that arrive together (a paste, a
 * fast typist, a terminal sending Down and Enter in one read) each see the previous one's effect, which
 * React state would only show after the next render. A counter re-renders.
 */
export function usePlanBrowser(plan: Plan, height: number, width: number): Browser {
  const state = useRef<BrowserState>({ selKey: undefined, expanded: new Set(), collapsed: new Set(), filter: '', filtering: false, top: 0 });
  const [, rerender] = useReducer((n: number) => n + 1, 0);
  const itemsCache = useRef<{ plan: Plan; filter: string; items: ResourceChange[] } | null>(null);
  const modelCache = useRef<{ items: ResourceChange[]; expanded: ReadonlySet<string>; collapsed: ReadonlySet<string>; width: number; model: RowModel } | null>(null);
  const itemsFor = (filter: string): ResourceChange[] => {
    const c = itemsCache.current;
    if (c && c.plan === plan && c.filter === filter) return c.items;
    const items = visibleItems(plan, filter);
    itemsCache.current = { plan, filter, items };
    return items;
  };
  const modelFor = (st: BrowserState): { items: ResourceChange[]; model: RowModel } => {
    const items = itemsFor(st.filter);
    const c = modelCache.current;
    if (c && c.items === items && c.expanded === st.expanded && c.collapsed === st.collapsed && c.width === width) return { items, model: c.model };
    const model = buildRows(items, st.expanded, st.collapsed, width);
    modelCache.current = { items, expanded: st.expanded, collapsed: st.collapsed, width, model };
    return { items, model };
  };
  /** The cursor's entry: its key if still listed, else the first item (or the first entry). */
  const selEntry = (model: RowModel, st: BrowserState): number => {
    const e = st.selKey === undefined ? undefined : model.keyEntry.get(st.selKey);
    if (e !== undefined) return e;
    if (!model.entryKey.length) return -1;
    return model.firstItem >= 0 ? model.firstItem : 0;
  };

  const s = state.current;
  const { items, model } = modelFor(s);
  const sel = selEntry(model, s);
  s.selKey = sel >= 0 ? model.entryKey[sel] : undefined;
  const selRow = sel >= 0 ? model.entryRow[sel] : -1;
  s.top = windowTop(model.rows, selRow, s.top, height);

  const handleKey: Browser['handleKey'] = (input, key) => {
    const st = state.current;
    const { items: list, model: m } = modelFor(st);
    const cur = selEntry(m, st);
    const move = (n: number) => {
      if (!m.entryKey.length) return;
      st.selKey = m.entryKey[Math.max(0, Math.min(m.entryKey.length - 1, n))];
    };
    const setFilter = (f: string) => {
      st.filter = f;
      st.selKey = undefined;
      st.top = 0;
    };
    const row = cur >= 0 ? m.rows[m.entryRow[cur]] : undefined;
    /** open: true expands, false collapses, undefined toggles; the row under the cursor. */
    const toggle = (open?: boolean) => {
      if (!row) return;
      if (row.kind === 'item') {
        const a = row.change.address;
        const next = new Set(st.expanded);
        if (open ?? !next.has(a)) next.add(a);
        else next.delete(a);
        st.expanded = next;
      } else if (row.kind === 'vault') {
        const next = new Set(st.collapsed);
        if (open ?? next.has(row.vault)) next.delete(row.vault);
        else next.add(row.vault);
        st.collapsed = next;
        st.selKey = vaultKey(row.vault);
      }
    };
    let handled = true;
    if (st.filtering) {
      if (key.return) st.filtering = false;
      else if (key.escape) {
        st.filtering = false;
        setFilter('');
      } else if (key.backspace || key.delete) setFilter(st.filter.slice(0, -1));
      else if (input && !key.ctrl && !key.meta && !key.tab) setFilter(st.filter + input);
      else handled = false;
    } else {
      const page = Math.max(1, height - 2);
      if (key.upArrow || input === 'k') move(cur - 1);
      else if (key.downArrow || input === 'j') move(cur + 1);
      else if (key.pageUp) move(cur - page);
      else if (key.pageDown) move(cur + page);
      else if (key.home || input === 'g') move(0);
      else if (key.end || input === 'G') move(m.entryKey.length - 1);
      else if (key.rightArrow || key.tab) toggle(true);
      else if (key.leftArrow) {
        // Like a tree: an open item closes; a closed one goes to its vault's line; there, the vault closes.
        if (row?.kind === 'item' && !row.expanded) st.selKey = vaultKey(row.change.vault.name);
        else toggle(false);
      } else if (key.return || input === ' ') toggle();
      else if (input === 'e') {
        st.expanded = new Set(list.map((c) => c.address));
        st.collapsed = new Set();
      } else if (input === 'c') {
        st.expanded = new Set();
      } else if (input === '/') {
        st.filtering = true;
        setFilter('');
      } else handled = false;
    }
    if (handled) rerender();
    return handled;
  };

  const clearFilter = (): boolean => {
    const st = state.current;
    if (!st.filter) return false;
    st.filter = '';
    st.top = 0;
    rerender();
    return true;
  };

  const selected = selRow >= 0 ? model.rows[selRow] : undefined;
  const position =
    selected?.kind === 'item'
      ? `${selected.item + 1}/${items.length}`
      : selected?.kind === 'vault'
        ? `${inline(selected.vault)}: ${selected.count} item${selected.count === 1 ? '' : 's'}`
        : '0/0';
  return {
    rows: model.rows,
    top: s.top,
    height,
    width,
    selectedRow: selRow,
    count: items.length,
    position,
    filter: s.filter,
    filtering: s.filtering,
    isFiltering: () => state.current.filtering,
    handleKey,
    clearFilter,
  };
}

export function styled(style: Style, color: boolean): { color?: string } {
  const c = color ? INK_COLOR[style] : undefined;
  return c ? { color: c } : {};
}

/** The visible slice of the list: exactly `height` lines or fewer, one Text each. */
export function BrowserList({ browser, color, empty }: { browser: Browser; color: boolean; empty: string }) {
  const { rows, top, height, selectedRow, width } = browser;
  if (!rows.length) return <Text>{empty}</Text>;
  const slice = rows.slice(top, top + height);
  return (
    <Box flexDirection="column">
      {slice.map((r, i) => {
        const at = top + i;
        const isSel = at === selectedRow;
        if (r.kind === 'vault') {
          return (
            <Text key={at} bold={color} inverse={color && isSel} wrap="truncate-end">
              {truncate(`${isSel ? '›' : ' '}${vaultText(r.vault, r.count, r.collapsed)}`, width)}
            </Text>
          );
        }
        if (r.kind === 'detail') {
          return (
            <Text key={at} wrap="truncate-end" {...styled(r.style, color)}>
              {truncate(r.text, width) || ' '}
            </Text>
          );
        }
        // An item's line is cut at the width; Enter shows it in full (wrapped) above its details.
        const t = itemText(r.change);
        return (
          <Text key={at} wrap="truncate-end" inverse={color && isSel}>
            {isSel ? '› ' : '  '}
            <Text {...styled(t.style, color)}>{t.marker.padEnd(3)}</Text> {truncate(t.text, width - ITEM_PREFIX)}
          </Text>
        );
      })}
    </Box>
  );
}
