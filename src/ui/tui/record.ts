// What the terminal interface leaves on the normal screen when it closes: its frame is erased, and these
// lines are printed instead, as the text mode would have printed them. Diagnostics go to stderr (again: they
// were at the top of the view), the record of what was done to stdout. Pure: the Plan and the events in,
// lines out.

import type { ApplyEvent, ApplyResult } from '../../apply/types.js';
import { hasChanges, type Plan } from '../../plan/types.js';
import type { Style } from '../color.js';
import { diagnosticLines, detailLines, headerLine, isShown, summaryLine } from '../present.js';
import { renderApplyEvent, resultHeadline } from '../progress.js';
import { inline } from '../sanitize.js';

export interface ExitLine {
  text: string;
  style: Style;
  stream: 'out' | 'err';
}

const out = (text: string, style: Style = 'plain'): ExitLine => ({ text, style, stream: 'out' });

/** Every diagnostic in full, on stderr, as the text plan prints them. */
export function diagnosticExitLines(plan: Plan): ExitLine[] {
  return plan.diagnostics.flatMap((d) => diagnosticLines(d).map((l): ExitLine => ({ ...l, stream: 'err' })));
}

/** A plan nothing is to be done for: the opener is not drawn; this is printed instead. */
export function isQuietPlan(plan: Plan): boolean {
  return !hasChanges(plan) && !plan.diagnostics.some((d) => d.severity === 'error');
}

/**
 * After the plan view (or instead of it, for a plan with nothing to do): the diagnostics, then, for a plan
 * without changes, the blocks of tolerated drift the text plan shows, and the summary line.
 */
export function planExitLines(plan: Plan): ExitLine[] {
  const lines = diagnosticExitLines(plan);
  if (isQuietPlan(plan)) {
    for (const c of plan.changes) {
      if (!isShown(c)) continue;
      const h = headerLine(c);
      lines.push(out(h.text, h.style), ...detailLines(c).map((l) => out(l.text, l.style)), out(''));
    }
  }
  lines.push(out(summaryLine(plan, hasChanges(plan)), 'heading'));
  return lines;
}

export type Declined = 'aborted' | 'not-yes' | 'nothing-to-do';

export interface ApplyRecord {
  approved: boolean;
  declined?: Declined;
  result?: ApplyResult;
  /** The last event of each operation that got one, in the plan's order. */
  events?: ApplyEvent[];
  error?: Error;
}

const EVENT_STYLE: Record<ApplyEvent['type'], Style> = { start: 'change', done: 'add', failed: 'error', skipped: 'warning' };

/** The command that finishes an interrupted run: it plans again, so only what is left is done. */
export function finishCommand(plan: Plan): string {
  return plan.mode === 'destroy' ? 'opsync destroy' : 'opsync apply';
}

/** The headline of a finished apply and, after an interrupt, how to finish the job. */
export function resultLines(plan: Plan, result: ApplyResult): ExitLine[] {
  const lines = [out(resultHeadline(result, plan), result.interrupted || result.failed.length ? 'warning' : 'add')];
  if (result.interrupted) {
    const n = result.skipped.length;
    lines.push(
      out(
        `Interrupted: ${n} operation${n === 1 ? '' : 's'} not started. Run \`${finishCommand(plan)}\` again to finish the job: it plans again and does only what is left.`,
        'warning',
      ),
    );
  } else if (result.failed.length) {
    lines.push(out(`Fix what failed, then run \`${finishCommand(plan)}\` again: it plans again and does only what is left.`, 'warning'));
  }
  return lines;
}

/**
 * After the apply view: the diagnostics, one line per changed item (`+ Production/x: created (item ..., version 1)`,
 * `~ ...: update failed: why`, `- ...: delete skipped: interrupted`), the failures once more, the headline.
 */
export function applyExitLines(plan: Plan, record: ApplyRecord): ExitLine[] {
  const lines = diagnosticExitLines(plan);
  if (!record.approved) {
    const why =
      record.declined === 'nothing-to-do'
        ? 'No changes. Nothing to apply.'
        : record.declined === 'not-yes'
          ? "Apply cancelled: only 'yes' approves. Nothing was changed."
          : 'Apply aborted: nothing was changed.';
    lines.push({ text: why, style: record.declined === 'nothing-to-do' ? 'plain' : 'warning', stream: 'err' });
    return lines;
  }
  for (const e of record.events ?? []) if (e.type !== 'start') lines.push(out(renderApplyEvent(e), EVENT_STYLE[e.type]));
  const r = record.result;
  if (!r) return lines; // execute rejected: the error is reported by the command
  if (r.failed.length) {
    lines.push(out('Failed:', 'heading'));
    for (const f of r.failed) lines.push(out(`  ${inline(f.address)} (${f.action}): ${inline(f.error)}`, 'error'));
  }
  lines.push(...resultLines(plan, r));
  return lines;
}
