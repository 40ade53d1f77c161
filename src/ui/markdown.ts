// The plan as GitHub-flavoured Markdown, safe to post as pull-request comments: counts first, deletes and
// replaces flagged as cautions, safety limits and drift as warnings, every vault's counts, a table of every
// changed address (destructive first), then a collapsible section per vault with a table of changed attributes
// per item; split into numbered parts when it passes a comment's size, never a secret value. Every value is
// entity-escaped (no Markdown, HTML, @mention or #reference can come through a value).

import { formatPos } from '../manifest/positions.js';
import { requestsSentence } from './requests.js';
import { hasChanges, summarise, type Plan, type PlanDiagnostic, type PlanSummary, type ResourceChange } from '../plan/types.js';
import { describeDue } from '../plan/rotation.js';
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
   * Characters per part (one pull-request comment each). Default 65,000: under GitHub's 65,536-character
   * limit for a comment, with room for a marker line a workflow adds. Infinity: one part, however long.
   */
  maxChars?: number;
  /** The commit the plan was made for (GITHUB_SHA), shown in the footer. */
  commit?: string;
  /** How to apply this plan, for the footer; default `opsync apply` (or `opsync destroy`) with the plan's flags. */
  applyCommand?: string;
}

/** GitHub refuses a comment longer than this many characters. */
export const GITHUB_COMMENT_LIMIT = 65_536;
export const DEFAULT_MARKDOWN_MAX_CHARS = 65_000;

/**
 * Entity-escape everything but letters, digits, spaces and punctuation that means nothing inline, so a value
 * cannot open Markdown or HTML, end a table cell (|), mention (@), reference (#), autolink or emoji (:),
 * or start math ($).
 */
export function md(s: string): string {
  // GitHub finds @mentions and #references in the text after entities are decoded: a word joiner (U+2060)
  // after @ and # keeps them plain text.
  return inline(s).replace(/[^\p{L}\p{N} ,./;=?+\-()%^{}]/gu, (c) => `&#${c.codePointAt(0)};${c === '@' || c === '#' ? '&#8288;' : ''}`);
}

function code(s: string): string {
  return `<code>${md(s)}</code>`;
}

const NONE = '—';

/** A table cell is never empty: GitHub draws an empty cell as nothing, which reads as a rendering fault. */
function beforeCell(r: AttrRow): string {
  if (r.sensitive) return r.marker === '+' ? '<i>absent</i>' : '<i>sensitive</i>';
  if (r.lines) return r.marker === '+' ? '<i>absent</i>' : '<i>multi-line</i>';
  if (r.before !== undefined) return code(r.before);
  return r.marker === '+' ? '<i>absent</i>' : r.marker === '-' ? '<i>present</i>' : NONE;
}

function afterCell(r: AttrRow): string {
  if (r.sensitive) return `<i>${md(r.note ?? SENSITIVE_NOTE)}</i>`;
  if (r.lines) return '<i>multi-line, see the diff below</i>';
  const note = r.note ? `<i>${md(r.note)}</i>` : '';
  if (r.after !== undefined) return note ? `${code(r.after)} ${note}` : code(r.after);
  if (note) return note;
  return r.marker === '-' ? '<i>removed</i>' : r.marker === '+' ? '<i>added</i>' : NONE;
}

function fence(lines: string[]): string {
  let longest = 0;
  for (const l of lines) for (const m of l.matchAll(/`+/g)) longest = Math.max(longest, m[0].length);
  return '`'.repeat(Math.max(3, longest + 1));
}

function isDestructive(c: ResourceChange): boolean {
  return c.action === 'delete' || c.action === 'replace';
}

/** What a delete or replace loses, as a caution under its header (a delete of an item already gone loses nothing). */
function cautionLines(c: ResourceChange): string[] {
  if (c.action === 'delete' && !c.forgetOnly) {
    return ['> [!CAUTION]', '> Deletes this item from 1Password, with its values.'];
  }
  if (c.action === 'replace') {
    const old = c.replace?.retire.filter((r) => !r.gone).map((r) => code(r.itemId)) ?? [];
    return c.replace?.stage === 'finish'
      ? ['> [!CAUTION]', `> Finishes an interrupted replace: deletes the old item${old.length === 1 ? '' : 's'} ${old.join(', ')}.`]
      : ['> [!CAUTION]', '> Replaces this item: a new item is created, then the old one is deleted, so its item id changes.'];
  }
  return [];
}

function itemHead(c: ResourceChange): string[] {
  const a = actionLabel(c);
  const out: string[] = [`#### ${md(`${a.marker} ${a.words}`)} ${code(c.address)}`, ''];
  const meta = [md(c.title), md(c.category)];
  if (c.itemId) meta.push(`item ${code(c.itemId)}${c.plannedVersion !== undefined ? ` version ${c.plannedVersion}` : ''}`);
  out.push(meta.join(' · '));
  const caution = cautionLines(c);
  if (caution.length) out.push('', ...caution);
  return out;
}

/** A refresh-only plan's rows say what the state recorded and what is live, not what apply would send. */
function itemBlock(c: ResourceChange, refreshOnly = false): string {
  const out = itemHead(c);
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
    out.push('', refreshOnly ? '| ± | Attribute | Recorded | Live |' : '| ± | Attribute | Before | After |', '|:-:|---|---|---|');
    for (const r of rows) out.push(`| ${md(r.marker)} | ${md(r.label)} | ${beforeCell(r)} | ${afterCell(r)} |`);
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

/** An item whose block alone would not fit a comment (a very long multi-line value): its head and a note. */
function shortItemBlock(c: ResourceChange): string {
  const rows = c.changes.flatMap(attrRows).length;
  return [...itemHead(c), '', `<i>Its ${rows} changed attribute(s) are too long for a comment: \`opsync plan\` shows them.</i>`, ''].join('\n');
}

function vaultCounts(changes: ResourceChange[], refreshOnly = false): string {
  const n = summarise(changes);
  // A refresh-only plan's resources are all noops: checked, some of them drifted.
  if (refreshOnly) return [n.drifted && `${n.drifted} drifted`, `${n.noop} checked`].filter(Boolean).join(', ');
  const parts = [
    n.create && `${n.create} to create`,
    n.update && `${n.update} to update`,
    n.replace && `${n.replace} to replace`,
    n.delete && `${n.delete} to delete`,
    n.move && `${n.move} to move`,
    n.protect && `${n.protect} to (un)protect`,
    n.forget && `${n.forget} to forget`,
    n.rotateDue && `${n.rotateDue} rotation${n.rotateDue === 1 ? '' : 's'} due`,
    n.drifted && `${n.drifted} drifted`,
    n.noop && `${n.noop} unchanged`,
  ].filter(Boolean);
  return parts.join(', ');
}

const LIST_CAP = 20;

const plural = (n: number, one: string, many = `${one}s`) => `${n.toLocaleString('en-US')} ${n === 1 ? one : many}`;

function driftCallout(plan: Plan): string[] {
  const drifted = plan.changes.filter((c) => c.drift);
  if (!drifted.length) return [];
  const out = ['> [!WARNING]', `> <b>Drift</b>: ${drifted.length} ${drifted.length === 1 ? 'item was' : 'items were'} changed outside opsync.`, '>'];
  for (const c of drifted.slice(0, LIST_CAP)) out.push(`> - ${code(c.address)}: ${md(driftText(c) ?? '')}`);
  if (drifted.length > LIST_CAP) out.push(`> - … and ${drifted.length - LIST_CAP} more, marked in the table of changes`);
  out.push('');
  return out;
}

/** Rotations whose policy is due (rotate: {every: ...}): a short section, each value with its policy and dates. */
function rotationsCallout(plan: Plan): string[] {
  const due = plan.changes.flatMap((c) => (c.rotateDue ?? []).map((r) => ({ c, r })));
  if (!due.length) return [];
  const one = due.length === 1;
  const out = ['> [!NOTE]', `> <b>Rotations due</b>: ${plural(due.length, 'generated value')} ${one ? 'is' : 'are'} regenerated because ${one ? 'its' : 'their'} rotation policy is due.`, '>'];
  for (const { c, r } of due.slice(0, LIST_CAP)) out.push(`> - ${code(c.address)} ${code(r.field)}: ${md(describeDue(r))}`);
  if (due.length > LIST_CAP) out.push(`> - … and ${due.length - LIST_CAP} more, in the details of each vault`);
  out.push('');
  return out;
}

/** Deletes and replaces, counted in words, as the first thing a reviewer reads after the counts. */
function cautionCallout(plan: Plan, overflow?: { listed: number; rest: number }): string[] {
  const deletes = plan.changes.filter((c) => c.action === 'delete' && !c.forgetOnly).length;
  const replaces = plan.changes.filter((c) => c.action === 'replace').length;
  if (!deletes && !replaces) return [];
  const what = [deletes && `deletes ${plural(deletes, 'item')}`, replaces && `replaces ${plural(replaces, 'item')}`].filter(Boolean).join(' and ');
  const explain = [
    deletes && 'A delete removes an item and its values from 1Password.',
    replaces && 'A replace creates a new item, then deletes the old one (its item id changes).',
  ].filter(Boolean);
  const out = ['> [!CAUTION]', `> <b>This plan ${what}.</b> ${explain.join(' ')} Deletes and replaces come first in the table of changes.`];
  if (overflow && overflow.rest > 0) {
    out.push('>', `> <b>This part lists ${overflow.listed.toLocaleString('en-US')} of them; the other ${overflow.rest.toLocaleString('en-US')} are at the top of part 2.</b>`);
  }
  out.push('');
  return out;
}

function diagnosticItem(d: PlanDiagnostic): string {
  const where = d.pos ? `${code(formatPos(d.pos))} ` : '';
  const addr = d.address ? `${code(d.address)}: ` : '';
  const msg = multiline(d.message).split('\n').map(md).join('<br>');
  return `- <b>${d.severity === 'error' ? 'Error' : 'Warning'}</b> ${where}${addr}${msg}`;
}

/** Safety-limit breaches: a warning of their own, since apply will refuse the plan. */
function safetyCallout(plan: Plan): string[] {
  const safety = plan.diagnostics.filter((d) => d.kind === 'safety');
  if (!safety.length) return [];
  const out = ['> [!WARNING]', '> <b>Over the safety limits</b>: `opsync apply` refuses this plan unless given --force.', '>'];
  for (const d of safety) out.push(`> - ${multiline(d.message).split('\n').map(md).join('<br>')}`);
  out.push('');
  return out;
}

/** Errors (caution: nothing can be applied), then other warnings; the first LIST_CAP of them, the rest later. */
function diagnosticsCallout(diags: PlanDiagnostic[], more: number): string[] {
  const out: string[] = [];
  const errors = diags.filter((d) => d.severity === 'error');
  const warnings = diags.filter((d) => d.severity !== 'error');
  if (errors.length) {
    out.push('> [!CAUTION]', '> <b>Errors</b>: nothing can be applied until they are fixed.', '>', ...errors.map((d) => `> ${diagnosticItem(d)}`), '');
  }
  if (warnings.length) out.push('> [!WARNING]', '> <b>Warnings</b>', '>', ...warnings.map((d) => `> ${diagnosticItem(d)}`), '');
  if (more > 0) out.push(`<i>… and ${more} more diagnostic(s), listed after the table of changes.</i>`, '');
  return out;
}

/** Every vault's counts, destructive first, zeros written out (no empty cell); a row for all when several. */
function countsTable(plan: Plan): string[] {
  const groups = byVault(plan.changes);
  const total = summarise(plan.changes);
  const all: [keyof PlanSummary, string][] = [
    ['delete', 'Delete'],
    ['replace', 'Replace'],
    ['update', 'Update'],
    ['create', 'Create'],
    ...(total.forget ? [['forget', 'Forget'] as [keyof PlanSummary, string]] : []),
    ...(total.move ? [['move', 'Move'] as [keyof PlanSummary, string]] : []),
    ...(total.protect ? [['protect', '(Un)protect'] as [keyof PlanSummary, string]] : []),
    ...(total.rotateDue ? [['rotateDue', 'Rotations due'] as [keyof PlanSummary, string]] : []),
    ['drifted', 'Drifted'],
    ['noop', 'Unchanged'],
  ];
  // A refresh-only plan only checks: every resource is a noop, some of them drifted.
  const cols: [keyof PlanSummary, string][] = plan.mode === 'refresh-only' ? [['drifted', 'Drifted'], ['noop', 'Checked']] : all;
  const row = (name: string, s: PlanSummary) => `| ${name} | ${cols.map(([k]) => (s[k] && (k === 'delete' || k === 'replace') ? `<b>${s[k]}</b>` : String(s[k]))).join(' | ')} |`;
  const out = [`| Vault | ${cols.map(([, h]) => h).join(' | ')} |`, `|---|${cols.map(() => '--:').join('|')}|`];
  for (const [vault, changes] of groups) out.push(row(md(vault), summarise(changes)));
  if (groups.size > 1) out.push(row('<b>All</b>', total));
  out.push('');
  return out;
}

/** Destructive first, then update, create, forget, the state-only changes and drift; plan order within each. */
function rank(c: ResourceChange): number {
  switch (c.action) {
    case 'delete':
      return 0;
    case 'replace':
      return 1;
    case 'update':
      return 2;
    case 'create':
      return 3;
    case 'forget':
      return 4;
    default:
      return c.drift ? 6 : 5;
  }
}

function actionCell(c: ResourceChange): string {
  const a = actionLabel(c);
  const parts: string[] = [];
  if (a.words === 'moved' && c.movedFrom) parts.push(`moved from ${md(c.movedFrom)}`);
  else {
    parts.push(isDestructive(c) && !c.forgetOnly ? `<b>${md(a.words)}</b>` : md(a.words));
    if (c.movedFrom) parts.push(`moved from ${md(c.movedFrom)}`);
  }
  if (c.protectChanged && a.words !== 'protect' && a.words !== 'unprotect') parts.push(c.protect ? 'protect' : 'unprotect');
  if (c.drift && c.action !== 'noop' && !c.forgetOnly) parts.push(c.drift.liveMissing ? 'deleted outside opsync' : 'drifted');
  return parts.join(' · ');
}

const TABLE_HEAD = '| Action | Address |\n|---|---|\n';

type Unit = { ctx: string; text: string; short?: string; destructive?: boolean };

interface Context {
  open: (continued: boolean) => string;
  close: string;
}

/** A word as a POSIX shell reads it: as is when plain, else single-quoted. */
export function shellWord(s: string): string {
  return /^[A-Za-z0-9_./:@%+=,-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/** `opsync apply` with the flags that made this plan (the manifests are opsync.yaml's unless said). */
export function defaultApplyCommand(plan: Plan): string {
  const args = [plan.mode === 'destroy' ? 'destroy' : 'apply'];
  for (const t of plan.targets) args.push('--target', shellWord(t));
  for (const r of plan.rotate) args.push('--rotate', shellWord(r));
  for (const r of plan.replace ?? []) args.push('--replace', shellWord(r));
  return `opsync ${args.join(' ')}`;
}

function commitText(sha: string): string {
  // A plain hex SHA is left as is, for GitHub to link; anything else is only text.
  return /^[0-9a-f]{7,64}$/i.test(sha) ? sha : code(sha);
}

/**
 * The plan as pull-request comments: one when it fits `maxChars`, else numbered parts. Part 1 always has the
 * counts, every vault's counts, the cautions and warnings, and the table of changed addresses starting with
 * every delete and replace (only when those alone pass a comment does part 1 say how many open part 2); the
 * rest of the table, then the details per vault, follow in as many parts as they need.
 */
export function renderPlanMarkdownParts(plan: Plan, opts: MarkdownOptions = {}): string[] {
  const max = opts.maxChars ?? DEFAULT_MARKDOWN_MAX_CHARS;
  const changed = hasChanges(plan);
  const shown = plan.changes.filter(isShown);
  const refreshOnly = plan.mode === 'refresh-only';
  const title = `opsync ${plan.mode === 'destroy' ? 'destroy plan' : refreshOnly ? 'drift check (plan --refresh-only)' : 'plan'}`;
  const other = plan.diagnostics.filter((d) => d.kind !== 'safety');
  const applyCmd = opts.applyCommand ?? defaultApplyCommand(plan);

  const head = (part: number, parts: number, overflow?: { listed: number; rest: number }): string => {
    const label = parts > 1 ? ` · part ${part} of ${parts}` : '';
    if (part > 1) return `### ${title}${label}\n\n<i>Continued from part ${part - 1}; part 1 has the counts, the cautions and the warnings.</i>\n\n`;
    const lines = [
      `### ${title}${label}`,
      '',
      `<b>${md(summaryLine(plan, changed))}</b>`,
      '',
      `Connect ${code(plan.connectHost)}${plan.targets.length ? ` · targets ${plan.targets.map(code).join(', ')}` : ''}`,
      '',
    ];
    if (parts > 1) {
      lines.push(
        `<i>This plan is in ${parts} parts, as a comment holds at most ${GITHUB_COMMENT_LIMIT.toLocaleString('en-US')} characters. This part has the counts, ` +
          `the cautions and warnings, and the table of changes, deletes and replaces first; parts 2 to ${parts} go on with it and the details.</i>`,
        '',
      );
    }
    lines.push(...cautionCallout(plan, overflow), ...safetyCallout(plan), ...driftCallout(plan), ...rotationsCallout(plan), ...diagnosticsCallout(other.slice(0, LIST_CAP), other.length - LIST_CAP));
    if (shown.length) lines.push(...countsTable(plan));
    return `${lines.join('\n')}\n`;
  };
  const foot = (part: number, parts: number): string => {
    const bits = [
      ...(parts > 1 ? [`part ${part} of ${parts}`] : []),
      ...(opts.commit ? [`commit ${commitText(opts.commit)}`] : []),
      `opsync ${md(plan.opsyncVersion)}`,
      `plan created ${md(plan.createdAt)}`,
      ...(plan.requests ? [`Connect requests: ${md(requestsSentence(plan.requests))}`] : []),
      refreshOnly ? `nothing to apply: ${code('opsync plan')} shows what apply would change` : `apply with ${code(applyCmd)}`,
    ];
    return `<sub>${bits.join(' · ')}</sub>\n`;
  };

  // Everything after the head, as units that a part boundary may fall between.
  const contexts = new Map<string, Context>();
  const units: Unit[] = [];
  if (shown.length) {
    contexts.set('table', {
      open: (cont) => `#### ${refreshOnly ? 'Drift' : 'Changes'}${cont ? ' (continued)' : ''}\n\n${TABLE_HEAD}`,
      close: '\n',
    });
    const ordered = shown.map((c, i) => ({ c, i })).sort((a, b) => rank(a.c) - rank(b.c) || a.i - b.i);
    for (const { c } of ordered) units.push({ ctx: 'table', text: `| ${actionCell(c)} | ${md(c.address)} |\n`, destructive: isDestructive(c) });
  }
  if (other.length > LIST_CAP) {
    contexts.set('diag', { open: (cont) => `#### More diagnostics${cont ? ' (continued)' : ''}\n\n`, close: '\n' });
    for (const d of other.slice(LIST_CAP)) units.push({ ctx: 'diag', text: `${diagnosticItem(d)}\n` });
  }
  for (const [vault, changes] of byVault(plan.changes)) {
    const items = changes.filter(isShown);
    if (!items.length) continue;
    const key = `vault:${vault}`;
    const counts = md(vaultCounts(changes, refreshOnly));
    contexts.set(key, {
      open: (cont) => `<details><summary><b>${md(vault)}</b>${cont ? ' (continued)' : ''} · ${counts}</summary>\n\n`,
      close: '</details>\n\n',
    });
    for (const c of items) units.push({ ctx: key, text: `${itemBlock(c, refreshOnly)}\n`, short: `${shortItemBlock(c)}\n` });
  }

  // One comment when it all fits.
  const bodyOf = (list: Unit[]): string => {
    let out = '';
    let ctx: string | undefined;
    for (const u of list) {
      if (u.ctx !== ctx) {
        if (ctx) out += contexts.get(ctx)!.close;
        out += contexts.get(u.ctx)!.open(false);
        ctx = u.ctx;
      }
      out += u.text;
    }
    if (ctx) out += contexts.get(ctx)!.close;
    return out;
  };
  const single = `${head(1, 1)}${bodyOf(units)}${foot(1, 1)}`;
  if (single.length <= max) return [single];

  // Parts: room for the longest head and foot a part can have, then units in order, a context reopened
  // ("continued") where a part starts inside it and closed where a part ends inside it.
  const worst = 99_999;
  const totalDestructive = units.filter((u) => u.destructive).length;
  const room1 = max - head(1, worst, { listed: totalDestructive, rest: totalDestructive }).length - foot(worst, worst).length;
  const roomN = max - head(worst, worst).length - foot(worst, worst).length;
  const bodies: string[] = [];
  const seen = new Set<string>();
  let body = '';
  let ctx: string | undefined;
  let room = room1;
  let destructiveInFirst = 0;
  const flush = () => {
    if (ctx) body += contexts.get(ctx)!.close;
    bodies.push(body);
    body = '';
    ctx = undefined;
    room = roomN;
  };
  for (const u of units) {
    let text = u.text;
    for (;;) {
      const c = contexts.get(u.ctx)!;
      const switching = u.ctx !== ctx;
      const add = (switching && ctx ? contexts.get(ctx)!.close : '') + (switching ? c.open(seen.has(u.ctx)) : '') + text;
      if (body.length + add.length + c.close.length <= room || (body === '' && text === (u.short ?? text))) {
        // Fits, or cannot be made to fit: a fresh part takes it as short as it gets.
        body += add;
        ctx = u.ctx;
        seen.add(u.ctx);
        if (u.destructive && bodies.length === 0) destructiveInFirst += 1;
        break;
      }
      if (body === '') text = u.short ?? text;
      else flush();
    }
  }
  if (body) flush();
  const n = bodies.length;
  const overflow = { listed: destructiveInFirst, rest: totalDestructive - destructiveInFirst };
  return bodies.map((b, i) => `${head(i + 1, n, i === 0 ? overflow : undefined)}${b}${foot(i + 1, n)}`);
}

/** The plan as one pull-request comment: the whole of it when it fits, else part 1 of `renderPlanMarkdownParts`. */
export function renderPlanMarkdown(plan: Plan, opts: MarkdownOptions = {}): string {
  return renderPlanMarkdownParts(plan, opts)[0];
}
