// The plan browser: selection, expansion, filter and window over a plan's items, as a hook (state and keys)
// and a component (the visible slice only), shared by the plan view and the apply review.

import { Box, Text, useStdout, type Key } from 'ink';
import { useMemo, useReducer, useRef } from 'react';
import type { Plan, ResourceChange } from '../../plan/types.js';
import { INK_COLOR, type Style } from '../color.js';
import { buildRows, itemText, visibleItems, windowTop, type Row } from './rows.js';

export interface Browser {
  rows: Row[];
  top: number;
  height: number;
  selected: number;
  count: number;
  filter: string;
  filtering: boolean;
  /** Handle a key; returns false when the key means nothing to the browser. */
  handleKey(input: string, key: Key, opts?: { allowFilter?: boolean; allowEnter?: boolean; allowLetters?: boolean }): boolean;
}

/** Rows the terminal leaves for the list, given the lines around it. */
export function useListHeight(height: number | undefined, reserved: number): number {
  const { stdout } = useStdout();
  // One line short of the terminal: a frame as tall as the screen makes Ink clear it on every render.
  const total = height ?? (stdout.rows && stdout.rows > 1 ? stdout.rows - 1 : 23);
  return Math.max(3, total - reserved);
}

interface BrowserState {
  sel: number;
  expanded: ReadonlySet<string>;
  filter: string;
  filtering: boolean;
  top: number;
}

/**
 * State lives in a ref and every key reads and writes it at once: keys that arrive together (a paste, a
 * fast typist, a terminal sending Down and Enter in one read) each see the previous one's effect, which
 * React state would only show after the next render. A counter re-renders.
 */
export function usePlanBrowser(plan: Plan, height: number): Browser {
  const state = useRef<BrowserState>({ sel: 0, expanded: new Set(), filter: '', filtering: false, top: 0 });
  const [, rerender] = useReducer((n: number) => n + 1, 0);
  const cache = useRef<{ plan: Plan; filter: string; items: ResourceChange[] } | null>(null);
  const itemsFor = (filter: string): ResourceChange[] => {
    const c = cache.current;
    if (c && c.plan === plan && c.filter === filter) return c.items;
    const items = visibleItems(plan, filter);
    cache.current = { plan, filter, items };
    return items;
  };

  const s = state.current;
  const items = itemsFor(s.filter);
  const { rows, itemRow } = useMemo(() => buildRows(items, s.expanded), [items, s.expanded]);
  s.sel = Math.min(s.sel, Math.max(0, items.length - 1));
  s.top = windowTop(rows, items.length ? itemRow[s.sel] : -1, s.top, height);

  const handleKey: Browser['handleKey'] = (input, key, opts = {}) => {
    const st = state.current;
    const list = itemsFor(st.filter);
    const clamp = (n: number) => Math.max(0, Math.min(list.length - 1, n));
    const setFilter = (f: string) => {
      st.filter = f;
      st.sel = 0;
      st.top = 0;
    };
    const toggle = (open?: boolean) => {
      const c = list[st.sel];
      if (!c) return;
      const next = new Set(st.expanded);
      if (open ?? !next.has(c.address)) next.add(c.address);
      else next.delete(c.address);
      st.expanded = next;
    };
    let handled = true;
    if (st.filtering) {
      if (key.return) st.filtering = false;
      else if (key.escape) {
        st.filtering = false;
        setFilter('');
      } else if (key.backspace || key.delete) setFilter(st.filter.slice(0, -1));
      else if (input && !key.ctrl && !key.meta) setFilter(st.filter + input);
      else handled = false;
    } else if (opts.allowLetters === false && input && !key.tab && !key.return) {
      handled = false;
    } else {
      const page = Math.max(1, height - 2);
      if (key.upArrow || input === 'k') st.sel = clamp(st.sel - 1);
      else if (key.downArrow || input === 'j') st.sel = clamp(st.sel + 1);
      else if (key.pageUp) st.sel = clamp(st.sel - page);
      else if (key.pageDown) st.sel = clamp(st.sel + page);
      else if (key.home || input === 'g') st.sel = 0;
      else if (key.end || input === 'G') st.sel = clamp(list.length - 1);
      else if (key.rightArrow || key.tab) toggle(true);
      else if (key.leftArrow) toggle(false);
      else if (key.return && opts.allowEnter !== false) toggle();
      else if (input === '/' && opts.allowFilter !== false) {
        st.filtering = true;
        setFilter('');
      } else handled = false;
    }
    if (handled) rerender();
    return handled;
  };

  return { rows, top: s.top, height, selected: s.sel, count: items.length, filter: s.filter, filtering: s.filtering, handleKey };
}

function styled(style: Style, color: boolean): { color?: string } {
  const c = color ? INK_COLOR[style] : undefined;
  return c ? { color: c } : {};
}

/** The visible slice of the list: exactly `height` lines or fewer, one Text each, truncated to the width. */
export function BrowserList({ browser, color, empty }: { browser: Browser; color: boolean; empty: string }) {
  const { rows, top, height, selected } = browser;
  if (!rows.length) return <Text>{empty}</Text>;
  const slice = rows.slice(top, top + height);
  return (
    <Box flexDirection="column">
      {slice.map((r, i) => {
        const key = top + i;
        if (r.kind === 'vault') {
          return (
            <Text key={key} bold={color} wrap="truncate-end">
              {`▾ ${r.text}`}
            </Text>
          );
        }
        if (r.kind === 'detail') {
          return (
            <Text key={key} wrap="truncate-end" {...styled(r.line.style, color)}>
              {r.line.text || ' '}
            </Text>
          );
        }
        const t = itemText(r.change);
        const isSel = r.item === selected;
        return (
          <Text key={key} wrap="truncate-end" inverse={color && isSel}>
            {isSel ? '› ' : '  '}
            <Text {...styled(t.style, color)}>{t.marker.padEnd(3)}</Text> {t.text}
          </Text>
        );
      })}
    </Box>
  );
}
