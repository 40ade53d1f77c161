// While a plan is being made on a terminal: `refreshing 1,200/3,000 items (40%)`, and the keys typed
// meanwhile kept for the view that opens next (the terminal is in raw mode from the start, so nothing is
// echoed or lost). Ctrl-C stops: nothing has been changed yet.

import { Text, type Key } from 'ink';
import { useEffect, useState, useSyncExternalStore } from 'react';
import { noColorRequested } from '../color.js';
import { renderRefreshProgress } from '../status.js';
import { styled } from './browser.js';
import { useLatestInput } from './input.js';

export interface ProgressStore {
  get(): { done: number; total: number; typed: number };
  subscribe(listener: () => void): () => void;
}

/**
 * Progress as makePlan reports it, for the view: redrawn at most every `minIntervalMs` (thousands of updates
 * must not each render), and always at the end.
 */
export function createProgressStore(opts: { now?: () => number; minIntervalMs?: number } = {}) {
  const now = opts.now ?? Date.now;
  const minIntervalMs = opts.minIntervalMs ?? 100;
  let snap = { done: 0, total: 0, typed: 0 };
  let lastAt = -Infinity;
  const listeners = new Set<() => void>();
  const emit = () => {
    lastAt = now();
    for (const l of listeners) l();
  };
  return {
    get: () => snap,
    subscribe(listener: () => void) {
      listeners.add(listener);
      return () => void listeners.delete(listener);
    },
    progress(done: number, total: number) {
      snap = { ...snap, done, total };
      if (done >= total || now() - lastAt >= minIntervalMs) emit();
    },
    typed(n: number) {
      snap = { ...snap, typed: n };
      emit();
    },
  };
}

export interface PlanningViewProps {
  store: ProgressStore;
  color?: boolean;
  /** Nothing is drawn before this (a fast plan does not flicker). */
  delayMs?: number;
  /** Each key typed (Ctrl-C excepted), to act on when the plan is shown. */
  onKey: (input: string, key: Key) => void;
  /** Ctrl-C. */
  onInterrupt: () => void;
}

export function PlanningView({ store, color = !noColorRequested(), delayMs = 250, onKey, onInterrupt }: PlanningViewProps) {
  const snap = useSyncExternalStore(store.subscribe, store.get);
  const [visible, setVisible] = useState(delayMs <= 0);
  useEffect(() => {
    if (visible) return;
    const t = setTimeout(() => setVisible(true), delayMs);
    return () => clearTimeout(t);
  }, []); // eslint-disable-line react-hooks/exhaustive-deps
  useLatestInput((input, key) => {
    if (key.ctrl && input === 'c') return onInterrupt();
    onKey(input, key);
  });
  if (!visible || snap.total === 0) return null;
  const typed = snap.typed ? ` · ${snap.typed} key${snap.typed === 1 ? '' : 's'} kept for the view` : '';
  return (
    <Text wrap="truncate-end" {...styled('comment', color)}>
      {`${renderRefreshProgress(snap.done, snap.total)}${typed}`}
    </Text>
  );
}
