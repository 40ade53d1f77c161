// How a Plan reads, shared by the text, Markdown and terminal views so they always say the same thing.
// Presentation only: which items change, and how, is the engine's decision, recorded in the Plan.

import { formatPos } from '../manifest/positions.js';
import { structuredPatch } from 'diff';
import { changesStateOnly, type AttrChange, type Plan, type PlanDiagnostic, type PlanSummary, type ResourceChange } from '../plan/types.js';
import type { Style } from './color.js';
import { formatValue, inline, multiline } from './sanitize.js';

export type Marker = '+' | '-' | '~';

/** One line of a line diff of a multi-line value. */
export interface DiffLine {
  op: '+' | '-' | ' ' | '@';
  text: string;
}

/** One changed attribute as shown to a reviewer. Lists (tags, urls) become one row per element. */
export interface AttrRow {
  marker: Marker;
  /** "title", "tag prod", "url https://x (primary)", "field connection.password", "section tls" */
  label: string;
  sensitive: boolean;
  /** Display forms (already escaped for a terminal); absent when sensitive or not applicable. */
  before?: string;
  after?: string;
  /** For a sensitive row always set: what happens instead of a value. */
  note?: string;
  /** A multi-line non-secret value, as a line diff. */
  lines?: DiffLine[];
}

/** A line of rendered output with its style; each renderer maps styles to its medium. */
export interface StyledLine {
  text: string;
  style: Style;
}

export const SENSITIVE_NOTE = 'sensitive value changed';

const MARKER: Record<AttrChange['kind'], Marker> = { add: '+', remove: '-', change: '~' };

function isMultiline(v: unknown): v is string {
  return typeof v === 'string' && v.includes('\n');
}

/** A line diff (via `diff`) of two multi-line values: hunks with 3 lines of context. */
export function lineDiff(before: string, after: string): DiffLine[] {
  const patch = structuredPatch('before', 'after', before, after, '', '', { context: 3 });
  const out: DiffLine[] = [];
  for (const h of patch.hunks) {
    out.push({ op: '@', text: `@@ -${h.oldStart},${h.oldLines} +${h.newStart},${h.newLines} @@` });
    for (const l of h.lines) {
      if (l.startsWith('\\')) continue; // "\ No newline at end of file"
      const op = l[0] as DiffLine['op'];
      out.push({ op, text: inline(l.slice(1)) });
    }
  }
  return out;
}

function urlLabel(u: unknown): string {
  if (u === null || typeof u !== 'object') return `url ${formatValue(u)}`;
  const { href, primary, label } = u as { href?: unknown; primary?: unknown; label?: unknown };
  const extra: string[] = [];
  if (primary === true) extra.push('primary');
  if (typeof label === 'string' && label !== '') extra.push(`label ${formatValue(label)}`);
  const h = typeof href === 'string' ? inline(href) : formatValue(href);
  return `url ${h}${extra.length ? ` (${extra.join(', ')})` : ''}`;
}

function asList(v: unknown): unknown[] {
  if (v === undefined || v === null) return [];
  return Array.isArray(v) ? v : [v];
}

/** tags/urls: one row per element added or removed. */
function listRows(c: AttrChange, one: (v: unknown) => string): AttrRow[] {
  const before = asList(c.before);
  const after = asList(c.after);
  const key = (v: unknown) => JSON.stringify(v);
  const beforeKeys = new Set(before.map(key));
  const afterKeys = new Set(after.map(key));
  const rows: AttrRow[] = [];
  for (const v of before) if (!afterKeys.has(key(v))) rows.push({ marker: '-', label: one(v), sensitive: false });
  for (const v of after) if (!beforeKeys.has(key(v))) rows.push({ marker: '+', label: one(v), sensitive: false });
  if (rows.length === 0 && c.kind === 'change') {
    // Same elements, another order.
    rows.push({ marker: '~', label: c.path, sensitive: false, before: formatValue(c.before), after: formatValue(c.after) });
  }
  if (c.note) for (const r of rows) r.note = inline(c.note);
  return rows;
}

/** The rows an attribute change reads as. A sensitive change never shows anything but its note. */
export function attrRows(c: AttrChange): AttrRow[] {
  const marker = MARKER[c.kind] ?? '~';
  const label = inline(c.path);
  if (c.sensitive) return [{ marker, label, sensitive: true, note: inline(c.note ?? SENSITIVE_NOTE) }];
  if (c.path === 'tags') return listRows(c, (v) => `tag ${typeof v === 'string' ? inline(v) : formatValue(v)}`);
  if (c.path === 'urls') return listRows(c, urlLabel);
  const row: AttrRow = { marker, label, sensitive: false };
  if (c.note) row.note = inline(c.note);
  if (isMultiline(c.before) || isMultiline(c.after)) {
    const b = typeof c.before === 'string' ? c.before : c.before === undefined ? '' : JSON.stringify(c.before);
    const a = typeof c.after === 'string' ? c.after : c.after === undefined ? '' : JSON.stringify(c.after);
    row.lines = lineDiff(b, a);
    return [row];
  }
  if (c.before !== undefined) row.before = formatValue(c.before);
  if (c.after !== undefined) row.after = formatValue(c.after);
  return [row];
}

const ROW_STYLE: Record<Marker, Style> = { '+': 'add', '-': 'remove', '~': 'change' };
const DIFF_STYLE: Record<DiffLine['op'], Style> = { '+': 'add', '-': 'remove', ' ': 'plain', '@': 'hunk' };

/** A row as text lines: `~ title: "a" -> "b"`, `~ field x: (sensitive value changed)`, `+ tag prod`. */
export function rowLines(r: AttrRow, indent: string): StyledLine[] {
  const style = ROW_STYLE[r.marker];
  const head = `${indent}${r.marker} ${r.label}`;
  if (r.sensitive) return [{ text: `${head}: (${r.note ?? SENSITIVE_NOTE})`, style }];
  if (r.lines) {
    const out: StyledLine[] = [{ text: `${head}:${r.note ? ` (${r.note})` : ''}`, style }];
    for (const l of r.lines) out.push({ text: `${indent}    ${l.op === '@' ? l.text : `${l.op}${l.text}`}`, style: DIFF_STYLE[l.op] });
    return out;
  }
  let detail = '';
  if (r.before !== undefined && r.after !== undefined) detail = `${r.before} -> ${r.after}`;
  else if (r.after !== undefined) detail = r.after;
  else if (r.before !== undefined) detail = r.before;
  if (r.note) detail = detail ? `${detail} (${r.note})` : `(${r.note})`;
  return [{ text: detail ? `${head}: ${detail}` : head, style }];
}

/** Whether a change is shown as a block: it acts, its item drifted, or only its state entry changes. */
export function isShown(c: ResourceChange): boolean {
  return c.action !== 'noop' || c.drift !== undefined || changesStateOnly(c);
}

export interface ActionLabel {
  /** "+", "~", "-/+", "-", ".", "!", ">" */
  marker: string;
  /** "create", "update (patch)", "update (replace whole item)", "replace", "delete", "forget", "drift", "moved", "protect", "unprotect" */
  words: string;
  style: Style;
}

export function actionLabel(c: ResourceChange): ActionLabel {
  switch (c.action) {
    case 'create':
      return { marker: '+', words: 'create', style: 'add' };
    case 'update':
      return {
        marker: '~',
        words: c.method === 'put' ? 'update (replace whole item)' : c.method === 'patch' ? 'update (patch)' : 'update',
        style: 'change',
      };
    case 'replace':
      return { marker: '-/+', words: 'replace', style: 'replace' };
    case 'delete':
      return { marker: '-', words: c.forgetOnly ? 'delete (forget only)' : 'delete', style: 'remove' };
    case 'forget':
      // Terraform's symbol for a forget; its own colour, so it never reads as a delete.
      return { marker: '.', words: 'forget', style: 'forget' };
    case 'noop':
      if (!c.drift && c.movedFrom) return { marker: '>', words: 'moved', style: 'change' };
      if (!c.drift && c.protectChanged) return { marker: '>', words: c.protect ? 'protect' : 'unprotect', style: 'change' };
      return { marker: '!', words: c.drift?.ignored ? 'drift (ignored)' : 'drift', style: 'drift' };
  }
}

/** The header line of an item's block: `~ update (patch) Production/db-primary`. */
export function headerLine(c: ResourceChange): StyledLine {
  const a = actionLabel(c);
  return { text: `${a.marker} ${a.words} ${inline(c.address)}`, style: a.style };
}

/** What drift means for this item, in words. */
export function driftText(c: ResourceChange): string | undefined {
  const d = c.drift;
  if (!d) return undefined;
  if (d.liveMissing) return `deleted outside opsync (state version ${d.stateVersion})`;
  const versions = `state version ${d.stateVersion}, live version ${d.liveVersion}`;
  if (d.ignored) return `changed outside opsync only in ignored paths, tolerated (${versions})`;
  return `changed outside opsync since the last apply (${versions})`;
}

/** Everything under an item's header: comments, drift, attribute rows. */
export function detailLines(c: ResourceChange, indent = '  '): StyledLine[] {
  const out: StyledLine[] = [];
  const comment = (text: string) => out.push({ text: `${indent}# ${text}`, style: 'comment' });
  const meta = [`title ${formatValue(c.title)}`, `category ${inline(c.category)}`];
  if (c.itemId) meta.push(`item ${inline(c.itemId)}`);
  if (c.plannedVersion !== undefined) meta.push(`version ${c.plannedVersion}`);
  comment(meta.join(', '));
  if (c.reasons.length) comment(`because: ${c.reasons.map(inline).join('; ')}`);
  if (c.movedFrom && !c.reasons.some((r) => r.includes(c.movedFrom ?? ''))) comment(`moved from ${inline(c.movedFrom)}`);
  if (c.adopt) comment('adopts the existing item with this title');
  if (c.forgetOnly) comment('already gone: only forgotten from state');
  if (c.action === 'forget') comment(FORGET_NOTE);
  if (c.rotate?.length) comment(`regenerates: ${c.rotate.map(inline).join(', ')}`);
  if (c.protect) comment('protected (protect: true)');
  const drift = driftText(c);
  if (drift) out.push({ text: `${indent}! drift: ${drift}`, style: 'drift' });
  for (const ch of c.changes) for (const r of attrRows(ch)) out.push(...rowLines(r, indent));
  return out;
}

export function diagnosticLines(d: PlanDiagnostic): StyledLine[] {
  const label = d.severity === 'error' ? 'Error' : 'Warning';
  const where = d.address ? `${inline(d.address)}: ` : '';
  const [first = '', ...rest] = multiline(d.message).split('\n');
  const out: StyledLine[] = [{ text: `${label}: ${where}${first}`, style: d.severity }];
  for (const r of rest) out.push({ text: `  ${r}`, style: 'plain' });
  if (d.pos) out.push({ text: `  at ${inline(formatPos(d.pos))}`, style: 'comment' });
  return out;
}

/** What a forget does, in Terraform's words. */
export const FORGET_NOTE = 'will be removed from the state but not destroyed: the item stays in Connect as it is';

/**
 * The counts of a summary line: the four actions always, then moves, protect changes, forgets and rotations due
 * (policy) only when there are any (a summary of a saved plan made before they were counted has none), then
 * unchanged and drifted.
 */
export function summaryCounts(s: PlanSummary): string {
  const extra = [
    s.move && `${s.move} to move`,
    s.protect && `${s.protect} to (un)protect`,
    s.forget && `${s.forget} to forget`,
    s.rotateDue && `${s.rotateDue} rotation${s.rotateDue === 1 ? '' : 's'} due`,
  ].filter(Boolean);
  return [
    `${s.create} to create, ${s.update} to update, ${s.replace} to replace, ${s.delete} to delete`,
    ...extra,
    `${s.noop} unchanged, ${s.drifted} drifted`,
  ].join(', ');
}

/** Said in every summary of a refresh-only plan: an edit of the manifests not applied yet is no drift. */
export const REFRESH_ONLY_NOTE = 'manifest changes not shown (--refresh-only)';

/** The last line of a refresh-only plan: `Drift: 2 drifted, 5 in sync; manifest changes not shown (--refresh-only).` */
function refreshOnlySummary(plan: Plan, changed: boolean, errors: number): string {
  const drifted = plan.changes.filter((c) => c.drift && !c.drift.ignored).length;
  const tolerated = plan.changes.filter((c) => c.drift?.ignored).length;
  const counts = [
    `${drifted} drifted`,
    ...(tolerated ? [`${tolerated} changed only in ignored paths (tolerated)`] : []),
    `${plan.changes.length - drifted - tolerated} in sync`,
  ].join(', ');
  if (errors > 0) return `Drift check incomplete: ${errors} error(s) above; checked: ${counts}; ${REFRESH_ONLY_NOTE}.`;
  if (!changed) return `No drift. Live items match what the state recorded: ${counts}; ${REFRESH_ONLY_NOTE}.`;
  return `Drift: ${counts}; ${REFRESH_ONLY_NOTE}.`;
}

/** The last line of a plan: `Plan: 2 to create, ... 1 drifted.` or `No changes. ...`. */
export function summaryLine(plan: Plan, changed: boolean): string {
  const s = plan.summary;
  const errors = plan.diagnostics.filter((d) => d.severity === 'error').length;
  if (plan.mode === 'refresh-only') return refreshOnlySummary(plan, changed, errors);
  // An incomplete plan never says "no changes": the resources in error were not planned at all.
  if (errors > 0) return `Plan incomplete: ${errors} error(s) above; nothing can be applied until they are fixed. Planned: ${summaryCounts(s)}.`;
  if (!changed) return `No changes. Live items match the manifests: ${s.noop} unchanged, ${s.drifted} drifted.`;
  return `${plan.mode === 'destroy' ? 'Destroy plan' : 'Plan'}: ${summaryCounts(s)}.`;
}

/** Changes grouped by vault name, in the order vaults first appear. */
export function byVault(changes: ResourceChange[]): Map<string, ResourceChange[]> {
  const groups = new Map<string, ResourceChange[]>();
  for (const c of changes) {
    const list = groups.get(c.vault.name);
    if (list) list.push(c);
    else groups.set(c.vault.name, [c]);
  }
  return groups;
}
