// The plan as plain text: Terraform-like, stable and greppable. One block per changed item, the counts last.

import { hasChanges, type Plan } from '../plan/types.js';
import { noColorRequested, paint } from './color.js';
import { detailLines, diagnosticLines, headerLine, isShown, summaryLine, type StyledLine } from './present.js';
import { requestsLine } from './requests.js';
import { inline } from './sanitize.js';

export interface TextOptions {
  /** ANSI colour; off by default, and always off when NO_COLOR is set. */
  color?: boolean;
}

export function renderPlanText(plan: Plan, opts: TextOptions = {}): string {
  const color = opts.color === true && !noColorRequested();
  const lines: StyledLine[] = [];
  const changed = hasChanges(plan);
  lines.push({ text: `Connect: ${inline(plan.connectHost)}`, style: 'comment' });
  if (plan.targets.length) lines.push({ text: `Targets: ${plan.targets.map(inline).join(', ')}`, style: 'comment' });
  if (plan.mode === 'destroy') lines.push({ text: 'Mode: destroy (every managed item is deleted)', style: 'warning' });
  const refreshOnly = plan.mode === 'refresh-only';
  if (refreshOnly) lines.push({ text: 'Mode: refresh-only (live compared with what the state recorded; nothing to apply)', style: 'comment' });
  lines.push({ text: '', style: 'plain' });
  if (changed) {
    const heading = refreshOnly ? 'Items changed outside opsync since the state recorded them (recorded -> live):' : 'opsync will perform the following actions:';
    lines.push({ text: heading, style: 'heading' }, { text: '', style: 'plain' });
  }
  for (const c of plan.changes) {
    if (!isShown(c)) continue;
    lines.push(headerLine(c), ...detailLines(c), { text: '', style: 'plain' });
  }
  for (const d of plan.diagnostics) lines.push(...diagnosticLines(d), { text: '', style: 'plain' });
  lines.push({ text: summaryLine(plan, changed), style: 'heading' });
  if (plan.requests) lines.push({ text: requestsLine(plan.requests), style: 'comment' });
  return lines.map((l) => paint(l.text, l.style, color)).join('\n') + '\n';
}
