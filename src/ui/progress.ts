// Apply progress as plain lines (no TTY: CI, pipes), and the summary it ends with.

import type { ApplyEvent, ApplyResult } from '../apply/types.js';
import { UserError } from '../errors.js';
import type { ChangeAction, Plan, ResourceChange } from '../plan/types.js';
import { createRateMeter, formatCount, formatDuration, formatEta, formatRate, percent, type RateSnapshot } from './rate.js';
import { requestsLine } from './requests.js';
import { inline } from './sanitize.js';

const VERBS: Record<ChangeAction, { ing: string; ed: string; noun: string }> = {
  create: { ing: 'creating', ed: 'created', noun: 'create' },
  update: { ing: 'updating', ed: 'updated', noun: 'update' },
  replace: { ing: 'replacing', ed: 'replaced', noun: 'replace' },
  delete: { ing: 'deleting', ed: 'deleted', noun: 'delete' },
  forget: { ing: 'forgetting', ed: 'forgotten', noun: 'forget' },
  noop: { ing: 'checking', ed: 'checked', noun: 'check' },
};

const MARKERS: Record<ChangeAction, string> = { create: '+', update: '~', replace: '-/+', delete: '-', forget: '.', noop: ' ' };

export function actionMarker(action: ChangeAction): string {
  return MARKERS[action];
}

export function verbs(action: ChangeAction): { ing: string; ed: string; noun: string } {
  return VERBS[action];
}

/** `~ Production/db: updating...`, `... updated (item x, version 4)`, `... update failed: why`, `... skipped: why`. */
export function renderApplyEvent(e: ApplyEvent): string {
  const v = VERBS[e.action];
  const head = `${MARKERS[e.action]} ${inline(e.address)}:`;
  switch (e.type) {
    case 'start':
      return `${head} ${v.ing}...`;
    case 'done': {
      const at = [e.itemId && `item ${inline(e.itemId)}`, e.version !== undefined && `version ${e.version}`].filter(Boolean);
      return `${head} ${v.ed}${at.length ? ` (${at.join(', ')})` : ''}`;
    }
    case 'failed':
      return `${head} ${v.noun} failed: ${inline(e.error)}`;
    case 'skipped':
      return `${head} ${v.noun} skipped: ${inline(e.reason)}`;
  }
}

export function formatElapsed(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  const s = Math.round(ms / 1000);
  return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
}

/** `1 created, 2 updated, 1 deleted` (only actions that happened). */
export function doneByAction(done: ApplyResult['done']): string {
  const n = new Map<ChangeAction, number>();
  for (const d of done) n.set(d.action, (n.get(d.action) ?? 0) + 1);
  return (['create', 'update', 'replace', 'delete', 'forget', 'noop'] as const)
    .filter((a) => n.get(a))
    .map((a) => `${n.get(a)} ${VERBS[a].ed}`)
    .join(', ');
}

/**
 * `1 moved, 1 (un)protect recorded`: the state-only parts of the plan's changes that were carried out.
 * A change that acts on its item counts when it is done; a noop (only its state entry changes) reports no
 * event, so it counts when it did not fail, and not at all in an interrupted apply (it may not have run).
 */
export function stateChangesDone(r: ApplyResult, plan: Pick<Plan, 'changes'>): string {
  const done = new Set(r.done.map((d) => d.address));
  const failed = new Set(r.failed.map((f) => f.address));
  const carriedOut = (c: ResourceChange) => (c.action === 'noop' ? !r.interrupted && !failed.has(c.address) : done.has(c.address));
  let moved = 0;
  let protect = 0;
  for (const c of plan.changes) {
    if (c.movedFrom === undefined && !c.protectChanged) continue;
    if (!carriedOut(c)) continue;
    if (c.movedFrom !== undefined) moved += 1;
    if (c.protectChanged) protect += 1;
  }
  return [moved && `${moved} moved`, protect && `${protect} (un)protect recorded`].filter(Boolean).join(', ');
}

/** The headline of a finished apply; with the plan, moves and protect changes are counted too. */
export function resultHeadline(r: ApplyResult, plan?: Pick<Plan, 'changes'>): string {
  const state = r.interrupted ? 'Apply interrupted' : r.failed.length ? 'Apply failed' : 'Apply complete';
  const counts = `${r.done.length} done, ${r.failed.length} failed, ${r.skipped.length} skipped`;
  const detail = [doneByAction(r.done), plan ? stateChangesDone(r, plan) : ''].filter(Boolean).join(', ');
  return `${state}: ${counts}${detail ? ` (${detail})` : ''}, in ${formatElapsed(r.elapsedMs)}.`;
}

export function renderApplyResult(r: ApplyResult, plan?: Pick<Plan, 'changes'>): string {
  const lines = [resultHeadline(r, plan)];
  if (r.interrupted) lines.push(`interrupted: ${r.skipped.length} operation${r.skipped.length === 1 ? '' : 's'} not started`);
  if (r.failed.length) {
    lines.push('Failed:');
    for (const f of r.failed) lines.push(`  ${MARKERS[f.action]} ${inline(f.address)} (${f.action}): ${inline(f.error)}`);
  }
  if (r.skipped.length) {
    lines.push('Left undone:');
    for (const s of r.skipped) lines.push(`  ${MARKERS[s.action]} ${inline(s.address)} (${s.action}): ${inline(s.reason)}`);
  }
  if (r.requests) lines.push(requestsLine(r.requests));
  return `${lines.join('\n')}\n`;
}

/**
 * How a text apply reports its operations (`--progress`):
 * - `auto` (the default): a line per event up to ITEM_LINES_MAX operations, progress lines above;
 * - `items`: a line per event however many there are (the log of every operation);
 * - `interval`: a progress line every PROGRESS_INTERVAL_MS and one at the end, and a line per failure;
 * - `none`: nothing until the summary.
 */
export type ProgressMode = 'auto' | 'items' | 'interval' | 'none';
export const PROGRESS_MODES: readonly ProgressMode[] = ['auto', 'items', 'interval', 'none'];

/** Up to this many operations, `auto` logs each one: a short apply reads best as its list of operations. */
export const ITEM_LINES_MAX = 50;
/** Between two progress lines: a CI log of a 10,000-operation apply gets a line per 5 s, not 20,000 lines. */
export const PROGRESS_INTERVAL_MS = 5000;

export function parseProgressMode(value: string | undefined): ProgressMode {
  if (value === undefined) return 'auto';
  if (!(PROGRESS_MODES as readonly string[]).includes(value)) {
    throw new UserError(`--progress must be one of ${PROGRESS_MODES.join(', ')} (got "${inline(value)}")`);
  }
  return value as ProgressMode;
}

/** `progress: 1,200/3,000 (40%), 37/s, ETA 48s, 32s elapsed, 2 failed` (failed and skipped only when any). */
export function renderProgressLine(s: RateSnapshot, tally: { failed?: number; skipped?: number } = {}): string {
  const parts = [
    `${formatCount(s.done)}/${formatCount(s.total)} (${percent(s.done, s.total)}%)`,
    formatRate(s.perSecond),
    formatEta(s.etaMs),
    `${formatDuration(s.elapsedMs)} elapsed`,
  ];
  if (tally.failed) parts.push(`${formatCount(tally.failed)} failed`);
  if (tally.skipped) parts.push(`${formatCount(tally.skipped)} skipped`);
  return `progress: ${parts.join(', ')}`;
}

/** `██████░░░░░░ 40% 1,200/3,000 · 37/s · ETA 48s`: the bar of the terminal interface, the figures of the line. */
export function renderProgressBar(s: RateSnapshot, width = 30): string {
  const filled = s.total > 0 ? Math.min(width, Math.floor((s.done * width) / s.total)) : width;
  const bar = '█'.repeat(filled) + '░'.repeat(width - filled);
  return `${bar} ${String(percent(s.done, s.total)).padStart(3)}% ${formatCount(s.done)}/${formatCount(s.total)} · ${formatRate(s.perSecond)} · ${formatEta(s.etaMs)}`;
}

export interface ApplyReporterOptions {
  /** Operations the apply will report (the plan's changes other than noop). */
  total: number;
  mode?: ProgressMode;
  /** One line, without its newline. */
  write: (line: string) => void;
  now?: () => number;
  intervalMs?: number;
  itemLinesMax?: number;
}

export interface ApplyReporter {
  onEvent(e: ApplyEvent): void;
  /** Call now and then (a timer): a stalled apply still says where it is, once per interval. */
  tick(): void;
  /** The last progress line (the final figures), unless it is already the last thing written. */
  finish(): void;
}

/** The text apply's output as events arrive: per-event lines or progress lines, as `mode` decides. */
export function createApplyReporter(opts: ApplyReporterOptions): ApplyReporter {
  const requested = opts.mode ?? 'auto';
  const mode = requested === 'auto' ? (opts.total <= (opts.itemLinesMax ?? ITEM_LINES_MAX) ? 'items' : 'interval') : requested;
  const now = opts.now ?? Date.now;
  const intervalMs = opts.intervalMs ?? PROGRESS_INTERVAL_MS;
  const meter = createRateMeter(opts.total, { now });
  let finished = 0;
  let failed = 0;
  let skipped = 0;
  let lastLineAt = now();
  let lastLineFinished = -1;
  const line = () => {
    opts.write(renderProgressLine(meter.snapshot(), { failed, skipped }));
    lastLineAt = now();
    lastLineFinished = finished;
  };
  const tick = () => {
    if (mode === 'interval' && now() - lastLineAt >= intervalMs) line();
  };
  return {
    onEvent(e) {
      if (mode === 'items') return opts.write(renderApplyEvent(e));
      if (e.type === 'start') return;
      finished += 1;
      if (e.type === 'failed') failed += 1;
      if (e.type === 'skipped') skipped += 1;
      meter.update(finished);
      if (mode !== 'interval') return;
      if (e.type === 'failed') {
        opts.write(renderApplyEvent(e)); // as it happens: the first failure of a long apply is worth reading early
        lastLineFinished = -1;
      }
      tick();
    },
    tick,
    finish() {
      if (mode === 'interval' && finished > 0 && lastLineFinished !== finished) line();
    },
  };
}
