// The plan as GitHub-flavoured Markdown, safe to post as a pull-request comment: counts first, drift called
// out, a collapsible section per vault with a table of changed attributes per item, never a secret value.
// Every value is entity-escaped (no Markdown, HTML, @mention or #reference can come through a value).

import { hasChanges, summarise, type Plan, type ResourceChange } from '../plan/types.js';
import {
  actionLabel,
  attrRows,
  byVault,
  driftText,
  FORGET_NOTE,
  isShown,
  SENSITIVE_NOTE,
  summaryLine,
  type AttrRow,
} from './present.js';
import { inline, multiline } from './sanitize.js';

export interface MarkdownOptions {
  /**
   * Stop adding items once the comment would pass this many characters, and say how many were left out.
   * Default 60000: under GitHub's 65536-character limit for a comment. Infinity for no limit.
   */
  maxChars?: number;
}

export const DEFAULT_MARKDOWN_MAX_CHARS = 60_000;

/**
 * Entity-escape everything but letters, digits, spaces and punctuation that means nothing inline, so a value
 * cannot open Markdown or HTML, end a table cell (|), mention (@), reference (#), autolink or emoji (:),
 * or start math ($).
 */
export function md(s: string): string {
  return inline(s).replace(/[^\p{L}\p{N} ,./;=?+\-()%^{}]/gu, (c) => `&#${c.codePointAt(0)};`);
}

function code(s: string): string {
  return `<code>${md(s)}</code>`;
}

function cell(r: AttrRow, side: 'before' | 'after'): string {
  if (r.sensitive) return side === 'after' ? `<i>${md(r.note ?? SENSITIVE_NOTE)}</i>` : '';
  if (r.lines) return side === 'after' ? '<i>multi-line, see the diff below</i>' : '';
  const v = r[side];
  const note = side === 'after' && r.note ? ` <i>${md(r.note)}</i>` : '';
  return v === undefined ? note.trim() : `${code(v)}${note}`;
}

function fence(lines: string[]): string {
  let longest = 0;
  for (const l of lines) for (const m of l.matchAll(/`+/g)) longest = Math.max(longest, m[0].length);
  return '`'.repeat(Math.max(3, longest + 1));
}

function itemBlock(c: ResourceChange): string {
  const a = actionLabel(c);
  const out: string[] = [`#### ${md(`${a.marker} ${a.words}`)} ${code(c.address)}`, ''];
  const meta = [md(c.title), md(c.category)];
  if (c.itemId) meta.push(`item ${code(c.itemId)}${c.plannedVersion !== undefined ? ` version ${c.plannedVersion}` : ''}`);
  out.push(meta.join(' · '));
  const notes: string[] = [];
  if (c.reasons.length) notes.push(`Because: ${c.reasons.map(md).join('; ')}`);
  if (c.movedFrom && !c.reasons.some((r) => r.includes(c.movedFrom ?? ''))) notes.push(`Moved from ${code(c.movedFrom)}`);
  if (c.adopt) notes.push('Adopts the existing item with this title');
  if (c.forgetOnly) notes.push('Already gone: only forgotten from state');
  if (c.action === 'forget') notes.push(md(FORGET_NOTE.charAt(0).toUpperCase() + FORGET_NOTE.slice(1)));
  if (c.rotate?.length) notes.push(`Regenerates: ${c.rotate.map(code).join(', ')}`);
  if (c.protect) notes.push('Protected');
  const drift = driftText(c);
  if (drift) notes.push(`⚠️ <b>Drift</b>: ${md(drift)}`);
  for (const n of notes) out.push('', n);

  const rows = c.changes.flatMap(attrRows);
  if (rows.length) {
    out.push('', '| | Attribute | Before | After |', '|:-:|---|---|---|');
    for (const r of rows) out.push(`| ${md(r.marker)} | ${md(r.label)} | ${cell(r, 'before')} | ${cell(r, 'after')} |`);
    for (const r of rows) {
      if (!r.lines) continue;
      const body = r.lines.map((l) => (l.op === '@' ? l.text : `${l.op}${l.text}`));
      const f = fence(body);
      out.push('', `<b>${md(r.label)}</b>`, '', `${f}diff`, ...body, f);
    }
  }
  out.push('');
  return out.join('\n');
}

function vaultCounts(changes: ResourceChange[]): string {
  const n = summarise(changes);
  const parts = [
    n.create && `${n.create} to create`,
    n.update && `${n.update} to update`,
    n.replace && `${n.replace} to replace`,
    n.delete && `${n.delete} to delete`,
    n.move && `${n.move} to move`,
    n.protect && `${n.protect} to (un)protect`,
    n.forget && `${n.forget} to forget`,
    n.drifted && `${n.drifted} drifted`,
    n.noop && `${n.noop} unchanged`,
  ].filter(Boolean);
  return parts.join(', ');
}

const LIST_CAP = 20;

function driftCallout(plan: Plan): string[] {
  const drifted = plan.changes.filter((c) => c.drift);
  if (!drifted.length) return [];
  const out = ['> [!WARNING]', `> <b>Drift</b>: ${drifted.length} ${drifted.length === 1 ? 'item was' : 'items were'} changed outside opsync.`, '>'];
  for (const c of drifted.slice(0, LIST_CAP)) out.push(`> - ${code(c.address)}: ${md(driftText(c) ?? '')}`);
  if (drifted.length > LIST_CAP) out.push(`> - … and ${drifted.length - LIST_CAP} more`);
  out.push('');
  return out;
}

function diagnosticsBlock(plan: Plan): string[] {
  if (!plan.diagnostics.length) return [];
  const errors = plan.diagnostics.some((d) => d.severity === 'error');
  const out = [errors ? '> [!CAUTION]' : '> [!NOTE]', '> <b>Diagnostics</b>', '>'];
  for (const d of plan.diagnostics.slice(0, LIST_CAP)) {
    const where = d.pos ? `${code(`${d.pos.file}:${d.pos.line}:${d.pos.col}`)} ` : '';
    const addr = d.address ? `${code(d.address)}: ` : '';
    const msg = multiline(d.message).split('\n').map(md).join('<br>');
    out.push(`> - <b>${d.severity === 'error' ? 'Error' : 'Warning'}</b> ${where}${addr}${msg}`);
  }
  if (plan.diagnostics.length > LIST_CAP) out.push(`> - … and ${plan.diagnostics.length - LIST_CAP} more`);
  out.push('');
  return out;
}

export function renderPlanMarkdown(plan: Plan, opts: MarkdownOptions = {}): string {
  const max = opts.maxChars ?? DEFAULT_MARKDOWN_MAX_CHARS;
  const changed = hasChanges(plan);
  const head = [
    `### opsync ${plan.mode === 'destroy' ? 'destroy plan' : 'plan'}`,
    '',
    `<b>${md(summaryLine(plan, changed))}</b>`,
    '',
    `Connect ${code(plan.connectHost)}${plan.targets.length ? ` · targets ${plan.targets.map(code).join(', ')}` : ''}`,
    '',
    ...driftCallout(plan),
    ...diagnosticsBlock(plan),
  ].join('\n');
  const foot = `<sub>opsync ${md(plan.opsyncVersion)} · plan created ${md(plan.createdAt)}</sub>\n`;

  const shown = plan.changes.filter(isShown);
  const parts: string[] = [head];
  let length = head.length + foot.length + 400; // room for the "left out" note and closing tags
  let omitted = 0;
  for (const [vault, changes] of byVault(plan.changes)) {
    const items = changes.filter(isShown);
    if (!items.length) continue;
    const open = `<details><summary><b>${md(vault)}</b> · ${md(vaultCounts(changes))}</summary>\n\n`;
    const close = '</details>\n';
    if (omitted || length + open.length + close.length > max) {
      omitted += items.length;
      continue;
    }
    const blocks: string[] = [];
    length += open.length + close.length;
    for (const c of items) {
      const b = itemBlock(c);
      if (omitted || length + b.length + 1 > max) {
        omitted += 1;
        continue;
      }
      blocks.push(b);
      length += b.length + 1;
    }
    if (blocks.length) parts.push(`${open}${blocks.join('\n')}\n${close}`);
  }
  if (omitted) {
    parts.push(
      `<i>${omitted} of ${shown.length} changed items are left out to keep this comment under ${max} characters; ` +
        'the full plan is in the workflow log (opsync plan).</i>\n',
    );
  }
  parts.push(foot);
  return parts.join('\n');
}
