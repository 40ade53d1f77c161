// Apply progress as plain lines (no TTY: CI, pipes), and the summary it ends with.

import type { ApplyEvent, ApplyResult } from '../apply/types.js';
import type { ChangeAction } from '../plan/types.js';
import { inline } from './sanitize.js';

const VERBS: Record<ChangeAction, { ing: string; ed: string; noun: string }> = {
  create: { ing: 'creating', ed: 'created', noun: 'create' },
  update: { ing: 'updating', ed: 'updated', noun: 'update' },
  replace: { ing: 'replacing', ed: 'replaced', noun: 'replace' },
  delete: { ing: 'deleting', ed: 'deleted', noun: 'delete' },
  noop: { ing: 'checking', ed: 'checked', noun: 'check' },
};

const MARKERS: Record<ChangeAction, string> = { create: '+', update: '~', replace: '-/+', delete: '-', noop: ' ' };

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

/** `created 1, updated 2, deleted 1` (only actions that happened). */
export function doneByAction(done: ApplyResult['done']): string {
  const n = new Map<ChangeAction, number>();
  for (const d of done) n.set(d.action, (n.get(d.action) ?? 0) + 1);
  return (['create', 'update', 'replace', 'delete', 'noop'] as const)
    .filter((a) => n.get(a))
    .map((a) => `${n.get(a)} ${VERBS[a].ed}`)
    .join(', ');
}

/** The headline of a finished apply. */
export function resultHeadline(r: ApplyResult): string {
  const state = r.interrupted ? 'Apply interrupted' : r.failed.length ? 'Apply failed' : 'Apply complete';
  const counts = `${r.done.length} done, ${r.failed.length} failed, ${r.skipped.length} skipped`;
  const detail = doneByAction(r.done);
  return `${state}: ${counts}${detail ? ` (${detail})` : ''}, in ${formatElapsed(r.elapsedMs)}.`;
}

export function renderApplyResult(r: ApplyResult): string {
  const lines = [resultHeadline(r)];
  if (r.interrupted) lines.push(`interrupted: ${r.skipped.length} operation${r.skipped.length === 1 ? '' : 's'} not started`);
  if (r.failed.length) {
    lines.push('Failed:');
    for (const f of r.failed) lines.push(`  ${MARKERS[f.action]} ${inline(f.address)} (${f.action}): ${inline(f.error)}`);
  }
  if (r.skipped.length) {
    lines.push('Left undone:');
    for (const s of r.skipped) lines.push(`  ${MARKERS[s.action]} ${inline(s.address)} (${s.action}): ${inline(s.reason)}`);
  }
  return `${lines.join('\n')}\n`;
}
