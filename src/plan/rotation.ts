// Rotation policies (issue 17): `rotate: { every: 90d }` on a generated field, on an item (for all of its
// generated fields) or as a vault default in opsync.yaml. The state records when opsync last generated each
// value (StateResource.generatedAt: a timestamp, never the value); a plan rotates every field whose policy is
// due, as --rotate would, and `opsync rotations` lists them all. Pure: the clock is given, nothing is read.
//
// Durations: `<n>d` days (n × 24 hours), `<n>w` weeks (7n days), `<n>m` calendar months (the same day of the
// month n months on, at the same UTC time; a day the month lacks is its last day: 31 Jan + 1m = 28/29 Feb),
// or `never` (no rotation; a field or item opts out of a default that way). All in UTC.
//
// A generation time the state does not record (a state written before generatedAt existed, an imported item)
// counts from the resource's updatedAt, the last time opsync wrote its state entry: never earlier than the value
// was generated, so a policy counted from it may come late, never early. The next write records that time, so it
// stops moving.

import { UserError } from '../errors.js';
import type { DesiredItem, RotationPolicy } from '../manifest/types.js';
import type { StateResource } from '../state/types.js';
import type { PlanDiagnostic } from './types.js';

/** What the schemas accept for `every` (manifest and opsync.yaml). */
export const ROTATION_EVERY_PATTERN = '^(never|[1-9][0-9]{0,3}[dwm])$';

export interface RotationDuration {
  amount: number;
  unit: 'd' | 'w' | 'm';
}

/** `90d`, `12w`, `3m` as a duration; `never` and anything else: undefined. */
export function parseRotationDuration(text: string): RotationDuration | undefined {
  const m = /^([1-9][0-9]{0,3})([dwm])$/.exec(text.trim());
  return m ? { amount: Number(m[1]), unit: m[2] as RotationDuration['unit'] } : undefined;
}

const DAY_MS = 86_400_000;

/** `from` plus the duration, in UTC (months are calendar months, clamped to the month's last day). */
export function addDuration(from: Date, d: RotationDuration): Date {
  if (d.unit === 'd') return new Date(from.getTime() + d.amount * DAY_MS);
  if (d.unit === 'w') return new Date(from.getTime() + d.amount * 7 * DAY_MS);
  const y = from.getUTCFullYear();
  const month = from.getUTCMonth() + d.amount;
  const lastDay = new Date(Date.UTC(y, month + 1, 0)).getUTCDate();
  return new Date(
    Date.UTC(y, month, Math.min(from.getUTCDate(), lastDay), from.getUTCHours(), from.getUTCMinutes(), from.getUTCSeconds(), from.getUTCMilliseconds()),
  );
}

/** A flag's duration (`--within 30d`): a user error when it is none. */
export function withinOf(text: string, flag: string): RotationDuration {
  const d = parseRotationDuration(text);
  if (!d) throw new UserError(`${flag}: "${text}" is not a duration of days, weeks or months (e.g. 30d, 2w, 1m)`);
  return d;
}

/**
 * The clock: OPSYNC_NOW (an ISO 8601 timestamp; a testing aid, so that tests of due rotations never wait)
 * when set, else the real time. An OPSYNC_NOW that is not a timestamp is refused rather than ignored.
 */
export function clockFromEnv(env: NodeJS.ProcessEnv): () => Date {
  const fixed = env.OPSYNC_NOW;
  if (fixed === undefined || fixed === '') return () => new Date();
  const m = /^(\d{4})-(\d{2})-(\d{2})(T[\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.exec(fixed.trim());
  // A calendar day that exists (Date.parse would roll 2026-02-30 over to March).
  const real = m && new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]))).toISOString().slice(0, 10) === `${m[1]}-${m[2]}-${m[3]}`;
  const t = real ? Date.parse(fixed.trim()) : NaN;
  if (Number.isNaN(t)) throw new UserError(`OPSYNC_NOW: "${fixed}" is not an ISO 8601 timestamp (e.g. 2026-11-01T00:00:00Z)`);
  return () => new Date(t);
}

/** `2026-08-01`: the UTC day of an ISO timestamp. */
export function day(iso: string | Date): string {
  return (typeof iso === 'string' ? new Date(iso) : iso).toISOString().slice(0, 10);
}

/** When opsync last generated a field's value: recorded, else the resource's updatedAt (see the top). */
export function generatedAtOf(st: StateResource, field: string): { at: string; recorded: boolean } {
  const at = st.generatedAt?.[field];
  return at !== undefined ? { at, recorded: true } : { at: st.updatedAt, recorded: false };
}

/** Whether the state knows the field as generated (apply records every generated field's rotation key). */
export function stateKnowsGenerated(st: StateResource, field: string): boolean {
  return st.generatedAt?.[field] !== undefined || (st.rotations !== undefined && field in st.rotations);
}

/** When a value generated at `at` is due under `every`; undefined: never (`never`, or not a duration). */
export function dueAt(at: string, every: string): Date | undefined {
  const d = parseRotationDuration(every);
  const from = new Date(at);
  return d && !Number.isNaN(from.getTime()) ? addDuration(from, d) : undefined;
}

/** A field whose policy is due: what the plan says about it (ResourceChange.rotateDue). */
export interface DueRotation {
  field: string;
  /** The policy, as written: `90d`. */
  every: string;
  /** When opsync last generated it (ISO), or the resource's updatedAt when that is not recorded. */
  generatedAt: string;
  /** false: generatedAt is the resource's updatedAt (the generation time was not recorded). */
  recorded: boolean;
  /** When it became due (ISO). */
  dueAt: string;
}

/**
 * The generated fields of a managed item whose policy is due at `now`. Not a field the state does not know
 * as generated (a field new to the manifest is generated as it is added), nor an ignored one (`ignore:
 * [fields.<key>]`: opsync leaves it as it is, so it is never rotated either).
 */
export function dueRotations(
  item: DesiredItem,
  st: StateResource | undefined,
  policies: Readonly<Record<string, RotationPolicy>> | undefined,
  now: Date,
): DueRotation[] {
  if (!st || !policies) return [];
  const out: DueRotation[] = [];
  for (const f of item.fields) {
    const policy = policies[f.key];
    if (!policy || f.source.kind !== 'generate' || item.ignore.includes(`fields.${f.key}`) || !stateKnowsGenerated(st, f.key)) continue;
    const { at, recorded } = generatedAtOf(st, f.key);
    const due = dueAt(at, policy.every);
    if (due && due.getTime() <= now.getTime()) out.push({ field: f.key, every: policy.every, generatedAt: at, recorded, dueAt: due.toISOString() });
  }
  return out;
}

/**
 * The reasons a plan gives for due rotations, e.g. `rotation due: generated 2026-08-01, every 90d`: one per
 * generation day and policy, naming the fields when the item has more than one generated field.
 */
export function dueReasons(item: DesiredItem, due: readonly DueRotation[]): string[] {
  const generated = item.fields.filter((f) => f.source.kind === 'generate').length;
  const groups = new Map<string, DueRotation[]>();
  for (const r of due) {
    const k = `${day(r.generatedAt)}\u0000${r.every}\u0000${r.recorded}`;
    groups.set(k, [...(groups.get(k) ?? []), r]);
  }
  return [...groups.values()].map((rs) => {
    const { generatedAt, every, recorded } = rs[0];
    const names = generated > 1 ? `${rs.map((r) => r.field).join(', ')} ` : '';
    const when = recorded ? `generated ${day(generatedAt)}` : `generated by ${day(generatedAt)} (time not recorded)`;
    return `rotation due: ${names}${when}, every ${every}`;
  });
}

/** A due rotation in words: `generated 2026-08-01, every 90d, due 2026-10-30`. */
export function describeDue(r: DueRotation): string {
  const when = r.recorded ? `generated ${day(r.generatedAt)}` : `generated by ${day(r.generatedAt)} (time not recorded)`;
  return `${when}, every ${r.every}, due ${day(r.dueAt)}`;
}

/**
 * The fields a write generates, by the body sent: the fields (one per desired field, in order, as createBody,
 * diffItem's full replacement and replaceBody build them) that ask Connect to generate.
 */
export function generatedByBody(desired: DesiredItem, fields: readonly { generate?: boolean }[] | undefined): Set<string> {
  const out = new Set<string>();
  desired.fields.forEach((f, i) => {
    if (f.source.kind === 'generate' && fields?.[i]?.generate === true) out.add(f.key);
  });
  return out;
}

/**
 * The generation times to record for an item written now: `now` for the fields this write generated, else
 * what was recorded (or, not recorded, the previous entry's updatedAt, so that the time stops moving).
 * Generated fields only; undefined when there are none to record.
 */
export function generatedAtToRecord(
  desired: DesiredItem,
  prev: StateResource | undefined,
  generated: ReadonlySet<string>,
  now: Date,
): Record<string, string> | undefined {
  const out: Record<string, string> = {};
  for (const f of desired.fields) {
    if (f.source.kind !== 'generate') continue;
    if (generated.has(f.key)) out[f.key] = now.toISOString();
    else if (prev?.generatedAt?.[f.key] !== undefined) out[f.key] = prev.generatedAt[f.key];
    else if (prev && stateKnowsGenerated(prev, f.key)) out[f.key] = prev.updatedAt;
  }
  return Object.keys(out).length > 0 ? out : undefined;
}

/** One managed generated value, as `opsync rotations` lists it. */
export interface RotationRow {
  address: string;
  field: string;
  /** The policy as written and where it comes from; undefined: none (rotated only by --rotate or its key). */
  policy?: RotationPolicy;
  /** When opsync last generated it (ISO); `recorded` false: the resource's updatedAt. */
  generatedAt: string;
  recorded: boolean;
  /** When it is due (ISO); undefined: no policy, or `never`. */
  dueAt?: string;
  /** Due now or before: the next plan rotates it. */
  overdue: boolean;
}

/**
 * Every generated field of the manifests' items the state manages (by address, after `moved` blocks), with
 * its policy, last generation and due date: soonest due first, then those without a due date, by address.
 */
export function rotationRows(
  items: readonly DesiredItem[],
  resources: Readonly<Record<string, StateResource>>,
  policies: Readonly<Record<string, Readonly<Record<string, RotationPolicy>>>>,
  now: Date,
): RotationRow[] {
  const rows: RotationRow[] = [];
  for (const item of items) {
    const st = resources[item.address];
    if (!st) continue;
    for (const f of item.fields) {
      if (f.source.kind !== 'generate' || !stateKnowsGenerated(st, f.key)) continue;
      const policy = item.ignore.includes(`fields.${f.key}`) ? undefined : policies[item.address]?.[f.key];
      const { at, recorded } = generatedAtOf(st, f.key);
      const due = policy ? dueAt(at, policy.every) : undefined;
      rows.push({
        address: item.address,
        field: f.key,
        ...(policy ? { policy } : {}),
        generatedAt: at,
        recorded,
        ...(due ? { dueAt: due.toISOString() } : {}),
        overdue: due !== undefined && due.getTime() <= now.getTime(),
      });
    }
  }
  const byName = (a: RotationRow, b: RotationRow) => (a.address < b.address ? -1 : a.address > b.address ? 1 : a.field < b.field ? -1 : a.field > b.field ? 1 : 0);
  return rows.sort((a, b) => {
    if (a.dueAt && b.dueAt) return a.dueAt < b.dueAt ? -1 : a.dueAt > b.dueAt ? 1 : byName(a, b);
    if (a.dueAt || b.dueAt) return a.dueAt ? -1 : 1;
    return byName(a, b);
  });
}

/** The warning of a plan made with --no-rotate-due that left due rotations out ("ADDRESS:FIELD" each). */
export function dueSkippedWarning(skipped: readonly string[]): PlanDiagnostic {
  const sorted = [...skipped].sort();
  const shown = sorted.slice(0, 5).join(', ') + (sorted.length > 5 ? ` and ${sorted.length - 5} more` : '');
  const n = sorted.length;
  return {
    severity: 'warning',
    message: `${n} rotation${n === 1 ? '' : 's'} due left out of this plan (--no-rotate-due): ${shown}; the next plan without --no-rotate-due includes ${n === 1 ? 'it' : 'them'}`,
  };
}
