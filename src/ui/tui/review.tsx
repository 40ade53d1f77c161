// What `opsync plan` and the review of `opsync apply` share: the header (diagnostics in full at the top, the
// summary line wrapped, never cut), the list or a pane (the key map, every diagnostic), and one key map.
// Everything shown comes from the Plan: the views only choose what fits on the screen.

import { Box, Text, type Key } from 'ink';
import { useReducer, useRef } from 'react';
import { hasChanges, type Plan } from '../../plan/types.js';
import { diagnosticLines, summaryLine, type StyledLine } from '../present.js';
import { inline } from '../sanitize.js';
import { BrowserList, styled, usePlanBrowser, type Browser } from './browser.js';
import { helpLines } from './keys.js';
import { truncate, wrapLine } from './wrap.js';

/** Every diagnostic as screen lines: `Error: ...`, its further lines, `at file:line:col`. */
export function diagnosticScreenLines(plan: Plan, width: number): StyledLine[] {
  const out: StyledLine[] = [];
  for (const d of plan.diagnostics) {
    for (const l of diagnosticLines(d)) for (const w of wrapLine(l.text, width)) out.push({ text: w, style: l.style });
  }
  return out;
}

/**
 * The lines above the list: the diagnostics first (all of them when they fit in `maxDiagnosticLines`, else
 * as many as fit and a line saying how to read the rest), then the summary and the Connect line, wrapped.
 */
export function headerLines(plan: Plan, width: number, maxDiagnosticLines: number): StyledLine[] {
  const out: StyledLine[] = [];
  const diag = diagnosticScreenLines(plan, width);
  if (diag.length > maxDiagnosticLines) {
    const more = (n: number) =>
      wrapLine(`… ${n} more line${n === 1 ? '' : 's'} of diagnostics: press d to read them all (they are printed again on exit)`, width);
    let keep = Math.max(0, maxDiagnosticLines - more(diag.length).length);
    keep = Math.max(0, maxDiagnosticLines - more(diag.length - keep).length);
    out.push(...diag.slice(0, keep));
    for (const l of more(diag.length - keep)) out.push({ text: l, style: 'warning' });
  } else out.push(...diag);
  for (const l of wrapLine(summaryLine(plan, hasChanges(plan)), width, '  ')) out.push({ text: l, style: 'heading' });
  const where = [
    `Connect ${inline(plan.connectHost)}`,
    plan.mode === 'destroy' ? 'destroy: every managed item is deleted' : '',
    plan.mode === 'refresh-only' ? 'refresh-only: drift since the state recorded it (recorded -> live), nothing to apply' : '',
    plan.targets.length ? `targets ${plan.targets.map(inline).join(', ')}` : '',
  ].filter(Boolean);
  for (const l of wrapLine(where.join(' · '), width, '  ')) out.push({ text: l, style: 'comment' });
  return out;
}

/** Lines already wrapped to the width (cut only if one is not, as a last resort). */
export function Lines({ lines, color, width }: { lines: StyledLine[]; color: boolean; width?: number }) {
  return (
    <Box flexDirection="column">
      {lines.map((l, i) => (
        <Text key={i} wrap="truncate-end" bold={color && l.style === 'heading'} {...styled(l.style, color)}>
          {(width ? truncate(l.text, width) : l.text) || ' '}
        </Text>
      ))}
    </Box>
  );
}

type PaneKind = 'list' | 'help' | 'diagnostics';

export interface Review {
  browser: Browser;
  header: StyledLine[];
  /** Lines for the list (or the pane in its place). */
  listHeight: number;
  width: number;
  pane: PaneKind;
  /** The pane's lines (wrapped) and its first visible one, when a pane is open. */
  paneLines: StyledLine[];
  paneTop: number;
  /**
   * The keys both views read the same way. `quit`: q, Ctrl-C, or Esc with nothing to clear (the plan view
   * quits, the apply review aborts). `unhandled`: the key is the view's own (apply: the answer).
   */
  handleKey(input: string, key: Key): 'handled' | 'unhandled' | 'quit';
}

export interface ReviewOptions {
  height: number;
  width: number;
  /** Lines the view draws below the list. */
  footerLines: number;
  mode: 'plan' | 'apply';
}

export function useReview(plan: Plan, opts: ReviewOptions): Review {
  const { height, width, footerLines, mode } = opts;
  // Diagnostics get up to a third of the screen (at least 4 lines); `d` shows every one of them.
  const header = headerLines(plan, width, Math.max(4, Math.floor(height / 3)));
  const listHeight = Math.max(3, height - header.length - footerLines);
  const browser = usePlanBrowser(plan, listHeight, width);
  const pane = useRef<{ kind: PaneKind; top: number }>({ kind: 'list', top: 0 });
  const [, rerender] = useReducer((n: number) => n + 1, 0);

  const linesOf = (kind: PaneKind): StyledLine[] => {
    if (kind === 'help') return helpLines(mode).flatMap((l) => wrapLine(l.text, width, l.indent).map((t) => ({ text: t, style: 'plain' as const })));
    if (kind === 'diagnostics') {
      const d = diagnosticScreenLines(plan, width);
      return d.length ? d : [{ text: 'No diagnostics: the plan has no errors or warnings.', style: 'comment' }];
    }
    return [];
  };

  const handleKey: Review['handleKey'] = (input, key) => {
    const p = pane.current;
    if (key.ctrl && input === 'c') return 'quit';
    if (p.kind !== 'list') {
      const max = Math.max(0, linesOf(p.kind).length - listHeight);
      const page = Math.max(1, listHeight - 1);
      if (key.upArrow || input === 'k') p.top = Math.max(0, p.top - 1);
      else if (key.downArrow || input === 'j') p.top = Math.min(max, p.top + 1);
      else if (key.pageUp) p.top = Math.max(0, p.top - page);
      else if (key.pageDown || input === ' ') p.top = Math.min(max, p.top + page);
      else if (key.home || input === 'g') p.top = 0;
      else if (key.end || input === 'G') p.top = max;
      else if (key.escape || key.return || input === 'q' || input === '?' || input === 'd') pane.current = { kind: 'list', top: 0 };
      rerender();
      return 'handled'; // a pane takes every key: nothing typed there answers or quits
    }
    if (browser.isFiltering()) return browser.handleKey(input, key) ? 'handled' : 'unhandled';
    if (input === '?' || input === 'd') {
      pane.current = { kind: input === '?' ? 'help' : 'diagnostics', top: 0 };
      rerender();
      return 'handled';
    }
    if (browser.handleKey(input, key)) return 'handled';
    if (key.escape) return browser.clearFilter() ? 'handled' : 'quit';
    if (input === 'q') return 'quit';
    return 'unhandled';
  };

  const kind = pane.current.kind;
  const paneLines = linesOf(kind);
  return { browser, header, listHeight, width, pane: kind, paneLines, paneTop: pane.current.top, handleKey };
}

/** The list, or the open pane in its place (exactly `listHeight` lines or fewer). */
export function ReviewBody({ review, color, empty }: { review: Review; color: boolean; empty: string }) {
  if (review.pane === 'list') return <BrowserList browser={review.browser} color={color} empty={empty} />;
  const { paneLines, paneTop, listHeight } = review;
  return <Lines lines={paneLines.slice(paneTop, paneTop + listHeight)} color={color} width={review.width} />;
}

/** The cursor's place (or the pane's) and the main keys, one line (a hint: cut when the terminal is narrow). */
export function navLine(browser: Browser, review: Review, help: string): string {
  return truncate(navText(browser, review, help), review.width);
}

function navText(browser: Browser, review: Review, help: string): string {
  if (review.pane !== 'list') {
    const { paneLines, paneTop, listHeight } = review;
    const to = Math.min(paneLines.length, paneTop + listHeight);
    const scroll = paneLines.length > listHeight ? ' · ↑↓ PgUp PgDn scroll' : '';
    return `${review.pane === 'help' ? 'Keys' : 'Diagnostics'} ${paneTop + 1}-${to} of ${paneLines.length}${scroll} · Esc closes`;
  }
  if (browser.filtering) return `/${inline(browser.filter)}█  (Enter keeps the filter · Esc clears it)`;
  const filter = browser.filter ? ` · filter /${inline(browser.filter)} (Esc clears)` : '';
  return `[${browser.position}]${filter} · ${help}`;
}
