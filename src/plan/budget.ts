// A service account's request budget (opsync.yaml `budget: { readsPerHour, writesPerHour }`): what the apply a
// plan shows would send, estimated from its changes as src/apply/execute.ts carries them out, and the warnings a
// plan gets when that passes the budget. An estimate, said as one: retries, re-reads while Connect's reads lag
// a write, and the lookups of an interrupted create are not in it. The requests a run did make are counted
// in the client (src/connect/cost.ts), never here.

import { CONNECT_ID } from '../connect/types.js';
import { aboutDuration, formatPace, pacedDurationMs, perSecondOfHourly } from '../connect/pacing.js';
import { parseRef } from '../manifest/values.js';
import type { Plan, PlanDiagnostic, ResourceChange } from './types.js';

export interface Budget {
  readsPerHour?: number;
  writesPerHour?: number;
}

export interface ApplyEstimate {
  /** POST per create; PUT or PATCH per update; DELETE per delete; a replace's create and its deletes. */
  writes: number;
  writesByKind: { create: number; update: number; patch: number; delete: number };
  /**
   * What the apply reads to carry the changes out, besides planning: the vault list before and after, a GET of
   * each item it updates, replaces or deletes (checked at the planned version), one of each item a value is
   * copied from (two when it is named by title), and a listing of each vault it writes to.
   */
  reads: number;
}

const ACTS = new Set<ResourceChange['action']>(['create', 'update', 'replace', 'delete']);

/** The requests apply would send for `plan`'s changes (see ApplyEstimate). */
export function estimateApply(plan: Pick<Plan, 'changes'>): ApplyEstimate {
  const w = { create: 0, update: 0, patch: 0, delete: 0 };
  let reads = 0;
  const written = new Set<string>();
  const refTargets = new Map<string, number>();
  const copiedFrom = new Set<string>();
  const byAddress = new Map(plan.changes.map((c) => [c.address, c]));
  for (const c of plan.changes) {
    if (!ACTS.has(c.action) || (c.action === 'delete' && c.forgetOnly)) continue;
    if (c.vault.id) written.add(c.vault.id);
    const updateKind = c.method === 'put' ? 'update' : 'patch';
    switch (c.action) {
      case 'create':
        w.create += 1;
        break;
      case 'update':
        reads += 1;
        w[updateKind] += 1;
        break;
      case 'delete':
        reads += 1;
        w.delete += 1;
        break;
      case 'replace': {
        reads += 1;
        const retire = new Set((c.replace?.retire ?? []).map((r) => r.itemId));
        if (c.replace?.stage === 'finish') {
          retire.delete(c.itemId ?? '');
          if (c.changes.length > 0) w[updateKind] += 1;
        } else {
          if (c.itemId) retire.add(c.itemId);
          w.create += 1;
        }
        w.delete += retire.size;
        for (const r of c.replace?.retire ?? []) written.add(r.vaultId);
        break;
      }
    }
    if (c.action === 'delete' || !c.desired) continue;
    // Values are resolved again: an op:// reference to an item outside the plan is read again (once per item);
    // a copy from a resource of the plan reads it at the version the apply wrote, unless the manifest gives it.
    const copied = new Map((c.refs ?? []).map((r) => [r.field, r]));
    for (const f of c.desired.fields) {
      if (f.source.kind !== 'ref') continue;
      const r = copied.get(f.key);
      if (r) {
        if (!(r.mode === 'manifest' && byAddress.get(r.on)?.desired && r.onField)) copiedFrom.add(r.on);
        continue;
      }
      const ref = parseRef(f.source.ref);
      if (ref) refTargets.set(`${ref.vault}\u0000${ref.item}`, CONNECT_ID.test(ref.item) ? 1 : 2);
    }
  }
  const writes = w.create + w.update + w.patch + w.delete;
  if (writes > 0) reads += 2 + written.size; // the vault list first and last, and a listing per vault written
  for (const n of refTargets.values()) reads += n;
  reads += copiedFrom.size;
  return { writes, writesByKind: w, reads };
}

const count = (n: number) => n.toLocaleString('en-US');

/** `1,000 create, 150 patch, 50 delete`: the kinds there are. */
export function writesByKindText(w: ApplyEstimate['writesByKind']): string {
  return (['create', 'update', 'patch', 'delete'] as const)
    .filter((k) => w[k] > 0)
    .map((k) => `${count(w[k])} ${k === 'update' ? 'update (PUT)' : k}`)
    .join(', ');
}

/**
 * Warnings for a plan whose apply would pass the budget: its writes over writesPerHour (apply then paces them
 * and takes over an hour), or this plan's reads and its apply's over readsPerHour. `planReads`: what this plan
 * read, counted (an apply without a saved plan plans again first).
 */
export function budgetWarnings(plan: Pick<Plan, 'changes' | 'mode'>, budget: Budget | undefined, planReads: number): PlanDiagnostic[] {
  if (!budget || plan.mode === 'refresh-only') return [];
  const est = estimateApply(plan);
  const out: PlanDiagnostic[] = [];
  const perHour = budget.writesPerHour;
  if (perHour !== undefined && est.writes > perHour) {
    const rate = perSecondOfHourly(perHour);
    out.push({
      severity: 'warning',
      message:
        `this apply needs about ${count(est.writes)} writes (${writesByKindText(est.writesByKind)}), more than budget.writesPerHour allows (${count(perHour)}): ` +
        `apply paces them at ${formatPace(rate)}, ${aboutDuration(pacedDurationMs(est.writes, rate))} (--max-writes-per-second sets another pace for one run)`,
    });
  }
  const readsPerHour = budget.readsPerHour;
  const reads = planReads + est.reads;
  if (readsPerHour !== undefined && est.writes > 0 && reads > readsPerHour) {
    out.push({
      severity: 'warning',
      message:
        `this apply needs about ${count(reads)} reads (${count(planReads)} to plan, about ${count(est.reads)} to apply), more than budget.readsPerHour allows (${count(readsPerHour)}): ` +
        'Connect may refuse requests (429) before it is done; apply a saved plan (`opsync plan --out`), or fewer changes at a time (--target)',
    });
  }
  return out;
}

/** How an apply paces its writes, and how long it said that would take. */
export interface WritePacing {
  perSecond: number;
  /** Where the pace comes from: opsync.yaml's budget.writesPerHour, or --max-writes-per-second. */
  source: 'budget' | 'flag';
  /** The writes the plan's changes need (estimateApply). */
  estimatedWrites: number;
  estimatedMs: number;
}

/** The pace of this apply's writes: --max-writes-per-second for this run, else the budget's; undefined: unpaced. */
export function writePacing(plan: Pick<Plan, 'changes'>, budget: Budget | undefined, maxWritesPerSecond: number | undefined): WritePacing | undefined {
  const perSecond = maxWritesPerSecond ?? (budget?.writesPerHour !== undefined ? perSecondOfHourly(budget.writesPerHour) : undefined);
  if (perSecond === undefined) return undefined;
  const { writes } = estimateApply(plan);
  return { perSecond, source: maxWritesPerSecond !== undefined ? 'flag' : 'budget', estimatedWrites: writes, estimatedMs: pacedDurationMs(writes, perSecond) };
}
