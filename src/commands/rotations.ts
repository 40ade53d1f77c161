// `opsync rotations [PATHS] [--within 30d] [--format text|json|markdown]`: every managed generated value with
// its rotation policy, when opsync last generated it and when it is next due, soonest first. From the
// manifests (the policies) and the state (the generation times) only: no Connect request, no secret value (the
// state holds none, and the manifests are read without their sources). Exit 2 when a rotation is overdue (the
// next plan rotates it: for a scheduled CI job), 0 otherwise, 1 on error.

import type { VariableInputs } from '../manifest/expand/index.js';
import type { VaultDefaults } from '../manifest/types.js';
import { applyMoves } from '../plan/moves.js';
import { addDuration, clockFromEnv, day, rotationRows, withinOf, type RotationRow } from '../plan/rotation.js';
import { UserError } from '../errors.js';
import { currentState, type StateTarget } from '../state/open.js';
import { md } from '../ui/markdown.js';
import { inline } from '../ui/sanitize.js';
import { loadOrFail, type IO } from './common.js';
import { VERSION } from '../version.js';

export type RotationsFormat = 'text' | 'json' | 'markdown';
export const ROTATIONS_FORMATS: RotationsFormat[] = ['text', 'json', 'markdown'];

/** Bumped in its minor part for additions (schemas/rotations-output.schema.json). */
export const ROTATIONS_JSON_FORMAT_VERSION = '1.0';

export interface RotationsFlags extends StateTarget {
  vaultDefaults?: Record<string, VaultDefaults>;
  variables?: VariableInputs;
  /** --within: only values due within this long from now (overdue ones included). */
  within?: string;
  format?: RotationsFormat;
}

const DAY_MS = 86_400_000;

type Status = 'overdue' | 'due' | 'never' | 'none';

function statusOf(r: RotationRow): Status {
  if (r.overdue) return 'overdue';
  if (r.dueAt) return 'due';
  return r.policy ? 'never' : 'none';
}

/** `overdue by 3 days`, `due now`, `due in 12 days`, `not rotated (never)`, `no policy`. */
function statusText(r: RotationRow, now: Date): string {
  const days = (n: number) => `${n} day${n === 1 ? '' : 's'}`;
  switch (statusOf(r)) {
    case 'overdue': {
      const late = Math.floor((now.getTime() - Date.parse(r.dueAt!)) / DAY_MS);
      return late === 0 ? 'due now' : `overdue by ${days(late)}`;
    }
    case 'due':
      return `due in ${days(Math.ceil((Date.parse(r.dueAt!) - now.getTime()) / DAY_MS))}`;
    case 'never':
      return 'not rotated (never)';
    case 'none':
      return 'no policy';
  }
}

const policyText = (r: RotationRow) => (r.policy ? `${r.policy.every} (${r.policy.from})` : '—');
/** A generation time the state did not record counts from the resource's last state write: "by" that day. */
const lastText = (r: RotationRow) => (r.recorded ? day(r.generatedAt) : `by ${day(r.generatedAt)}`);

export async function rotationsCommand(paths: string[], flags: RotationsFlags, io: IO): Promise<number> {
  const format = flags.format ?? 'text';
  if (!ROTATIONS_FORMATS.includes(format)) throw new UserError(`--format must be one of ${ROTATIONS_FORMATS.join(', ')} (got "${String(format)}")`);
  const within = flags.within !== undefined ? withinOf(flags.within, '--within') : undefined;
  const now = clockFromEnv(io.env)();
  // Policies and keys only: no value is read, so no {env:} or {file:} source needs to be there.
  const manifest = loadOrFail(paths, io, {
    checkEnv: false,
    checkSources: false,
    ...(flags.vaultDefaults ? { vaultDefaults: flags.vaultDefaults } : {}),
    ...(flags.variables ? { variables: flags.variables } : {}),
  });
  const state = await currentState(flags);
  // The state's addresses as `moved` blocks rename them, as a plan sees them (a conflict is the plan's to report).
  const { resources } = applyMoves(state.resources, manifest.moved, () => undefined);
  const all = rotationRows(manifest.items, resources, manifest.rotation ?? {}, now);
  const limit = within ? addDuration(now, within).getTime() : undefined;
  const rows = limit === undefined ? all : all.filter((r) => r.dueAt !== undefined && Date.parse(r.dueAt) <= limit);
  const overdue = all.filter((r) => r.overdue).length;
  const view = { rows, total: all.length, overdue, now, within: flags.within };
  io.out(format === 'json' ? renderRotationsJson(view) : format === 'markdown' ? renderRotationsMarkdown(view) : renderRotationsText(view));
  return overdue > 0 ? 2 : 0;
}

export interface RotationsView {
  /** The rows shown (after --within). */
  rows: RotationRow[];
  /** Every managed generated value, before --within. */
  total: number;
  overdue: number;
  now: Date;
  within?: string;
}

function headline(v: RotationsView): string {
  const values = `${v.total} managed generated value${v.total === 1 ? '' : 's'}`;
  const scope = v.within ? `, ${v.rows.length} due within ${v.within}` : '';
  const late = v.overdue > 0 ? `; ${v.overdue} overdue: the next plan rotates ${v.overdue === 1 ? 'it' : 'them'}` : '; none overdue';
  return `Rotations as of ${day(v.now)}: ${values}${scope}${late}.`;
}

const NOT_RECORDED_NOTE = '"by": opsync did not record when it generated the value (an older state, or an imported item); counted from the resource\'s last state write.';

export function renderRotationsText(v: RotationsView): string {
  const head = ['ADDRESS', 'FIELD', 'POLICY', 'LAST GENERATED', 'NEXT DUE', 'STATUS'];
  const cells = v.rows.map((r) => [inline(r.address), inline(r.field), inline(policyText(r)), lastText(r), r.dueAt ? day(r.dueAt) : '—', statusText(r, v.now)]);
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  const line = (c: string[]) => c.map((x, i) => (i === c.length - 1 ? x : x.padEnd(widths[i]))).join('  ');
  const out = [headline(v), ''];
  if (cells.length === 0) out.push(v.within ? `Nothing due within ${v.within}.` : 'No managed generated values (fields with `generate` that an apply has made).');
  else out.push(line(head), ...cells.map(line));
  if (v.rows.some((r) => !r.recorded)) out.push('', NOT_RECORDED_NOTE);
  return `${out.join('\n')}\n`;
}

export function renderRotationsMarkdown(v: RotationsView): string {
  const out = ['### opsync rotations', '', `<b>${md(headline(v))}</b>`, ''];
  if (v.overdue > 0) out.push('> [!WARNING]', `> <b>${v.overdue} rotation${v.overdue === 1 ? ' is' : 's are'} overdue</b>: the next \`opsync plan\` regenerates ${v.overdue === 1 ? 'it' : 'them'} (\`--no-rotate-due\` leaves ${v.overdue === 1 ? 'it' : 'them'} out for one run).`, '');
  if (v.rows.length === 0) out.push(`<i>${md(v.within ? `Nothing due within ${v.within}.` : 'No managed generated values.')}</i>`, '');
  else {
    out.push('| Address | Field | Policy | Last generated | Next due | Status |', '|---|---|---|---|---|---|');
    for (const r of v.rows) {
      const status = statusText(r, v.now);
      out.push(`| <code>${md(r.address)}</code> | <code>${md(r.field)}</code> | ${md(policyText(r))} | ${md(lastText(r))} | ${r.dueAt ? md(day(r.dueAt)) : '—'} | ${r.overdue ? `<b>${md(status)}</b>` : md(status)} |`);
    }
    out.push('');
  }
  if (v.rows.some((r) => !r.recorded)) out.push(`<sub>${md(NOT_RECORDED_NOTE)}</sub>`, '');
  out.push(`<sub>opsync ${md(VERSION)}</sub>`);
  return `${out.join('\n')}\n`;
}

export interface RotationsJson {
  format_version: typeof ROTATIONS_JSON_FORMAT_VERSION;
  opsync_version: string;
  now: string;
  within: string | null;
  total: number;
  overdue: number;
  rotations: {
    address: string;
    field: string;
    policy: { every: string; from: 'field' | 'item' | 'vault' } | null;
    generated_at: string;
    generated_at_recorded: boolean;
    due_at: string | null;
    status: Status;
  }[];
}

export function rotationsToJson(v: RotationsView): RotationsJson {
  return {
    format_version: ROTATIONS_JSON_FORMAT_VERSION,
    opsync_version: VERSION,
    now: v.now.toISOString(),
    within: v.within ?? null,
    total: v.total,
    overdue: v.overdue,
    rotations: v.rows.map((r) => ({
      address: r.address,
      field: r.field,
      policy: r.policy ? { every: r.policy.every, from: r.policy.from } : null,
      generated_at: r.generatedAt,
      generated_at_recorded: r.recorded,
      due_at: r.dueAt ?? null,
      status: statusOf(r),
    })),
  };
}

export function renderRotationsJson(v: RotationsView): string {
  return `${JSON.stringify(rotationsToJson(v), null, 2)}\n`;
}
