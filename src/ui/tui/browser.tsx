// The plan browser: selection, expansion, filter and window over a plan's items, as a hook (state and keys)
// and a component (the visible slice only), shared by the plan view and the apply review.

import { Box, Text, useStdout, type Key } from 'ink';
import { useMemo, useRef, useState } from 'react';
import type { Plan } from '../../plan/types.js';
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
  const total = height ?? (stdout.rows && stdout.rows > 0 ? stdout.rows : 24);
  return Math.max(3, total - reserved);
}

export function usePlanBrowser(plan: Plan, height: number): Browser {
  const [selected, setSelected] = useState(0);
  const [expanded, setExpanded] = useState<ReadonlySet<string>>(() => new Set());
  const [filter, setFilter] = useState('');
  const [filtering, setFiltering] = useState(false);
  const topRef = useRef(0);

  const items = useMemo(() => visibleItems(plan, filter), [plan, filter]);
  const { rows, itemRow } = useMemo(() => buildRows(items, expanded), [items, expanded]);
  const sel = Math.min(selected, Math.max(0, items.length - 1));
  const top = windowTop(rows, items.length ? itemRow[sel] : -1, topRef.current, height);
  topRef.current = top;

  const clamp = (n: number) => Math.max(0, Math.min(items.length - 1, n));
  // Relative moves go through the updater, so keys arriving faster than renders are not lost.
  const move = (by: number) => setSelected((s) => clamp(clamp(s) + by));
  const moveTo = (to: number) => setSelected(clamp(to));
  const toggle = (open?: boolean) => {
    const c = items[sel];
    if (!c) return;
    setExpanded((prev) => {
      const next = new Set(prev);
      const want = open ?? !next.has(c.address);
      if (want) next.add(c.address);
      else next.delete(c.address);
      return next;
    });
  };
  const setFilterText = (f: string) => {
    setFilter(f);
    setSelected(0);
    topRef.current = 0;
  };

  const handleKey: Browser['handleKey'] = (input, key, opts = {}) => {
    if (filtering) {
      if (key.return) setFiltering(false);
      else if (key.escape) {
        setFiltering(false);
        setFilterText('');
      } else if (key.backspace || key.delete) setFilterText(filter.slice(0, -1));
      else if (input && !key.ctrl && !key.meta) setFilterText(filter + input);
      else return false;
      return true;
    }
    const page = Math.max(1, height - 2);
    if (opts.allowLetters === false && input && !key.tab && !key.return) return false;
    if (key.upArrow || input === 'k') move(-1);
    else if (key.downArrow || input === 'j') move(1);
    else if (key.pageUp) move(-page);
    else if (key.pageDown) move(page);
    else if (key.home || input === 'g') moveTo(0);
    else if (key.end || input === 'G') moveTo(items.length - 1);
    else if (key.rightArrow || key.tab) toggle(true);
    else if (key.leftArrow) toggle(false);
    else if (key.return && opts.allowEnter !== false) toggle();
    else if (input === '/' && opts.allowFilter !== false) {
      setFiltering(true);
      setFilterText('');
    } else return false;
    return true;
  };

  return { rows, top, height, selected: sel, count: items.length, filter, filtering, handleKey };
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
