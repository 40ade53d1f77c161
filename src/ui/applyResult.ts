// `opsync apply --format json`: the run as one JSON document on stdout (schemas/apply-result.schema.json):
// per operation its address, action, outcome, item id, version and error; the totals; the state serial after.
// Built from the plan, the apply's result and its events; decides nothing, and holds no value.

import type { ApplyEvent, ApplyResult } from '../apply/types.js';
import type { RequestCost } from '../connect/cost.js';
import type { ChangeAction, Plan, PlanSummary } from '../plan/types.js';
import { hasChanges } from '../plan/types.js';
import { VERSION } from '../version.js';
import { diagnosticFields, escapeJsonControls, planned, type DiagnosticFields, type RunStatus } from './events.js';
import { requestsJson, type RequestsJson } from './requests.js';

/** Bumped in its minor part for additions, in its major part for anything a consumer could trip on. */
export const APPLY_RESULT_FORMAT_VERSION = '1.1';

export type OperationOutcome = 'done' | 'failed' | 'skipped';

export interface ApplyResultOperation {
  address: string;
  action: ChangeAction;
  outcome: OperationOutcome;
  /** The item acted on: after a create or replace the new one, for a delete the one deleted. */
  item_id?: string;
  /** The item's version after the operation (none after a delete). */
  version?: number;
  /** Why it failed. */
  error?: string;
  /** Why it did not start. */
  reason?: string;
}

export interface ApplyResultJson {
  format_version: typeof APPLY_RESULT_FORMAT_VERSION;
  opsync_version: string;
  command: 'apply' | 'destroy';
  connect_host: string;
  status: Exclude<RunStatus, 'planned'>;
  plan: { has_changes: boolean; summary: PlanSummary; saved_plan?: string };
  operations: ApplyResultOperation[];
  totals: { operations: number; done: number; failed: number; skipped: number; done_by_action: Record<Exclude<ChangeAction, 'noop'>, number> };
  state: { lineage: string; serial: number };
  elapsed_ms: number;
  diagnostics: DiagnosticFields[];
  /** The Connect requests of the whole run, by kind (src/connect/cost.ts). */
  requests?: RequestsJson;
  /** How the writes were paced, when they were (budget.writesPerHour or --max-writes-per-second). */
  pacing?: { writes_per_second: number; source: 'budget' | 'flag'; estimated_writes: number; estimated_seconds: number };
}

/** What the apply's `done` events said of each address (its item id and version then). */
export type DoneDetails = ReadonlyMap<string, { itemId?: string; version?: number }>;

/** Collects the `done` details of an apply's events, for the result document. */
export function doneDetails(): { onEvent(e: ApplyEvent): void; details: DoneDetails } {
  const details = new Map<string, { itemId?: string; version?: number }>();
  return {
    onEvent(e) {
      if (e.type === 'done') details.set(e.address, { itemId: e.itemId, version: e.version });
    },
    details,
  };
}

export interface ApplyResultInput {
  command: 'apply' | 'destroy';
  plan: Plan;
  status: ApplyResultJson['status'];
  /** Undefined when nothing ran (errors in the plan, not approved). */
  result?: ApplyResult;
  details?: DoneDetails;
  state: { lineage: string; serial: number };
  savedPlan?: string;
  /** Diagnostics besides the plan's (the safety limits a --force apply went over). */
  extraDiagnostics?: DiagnosticFields[];
  /** The run's Connect requests (else the result's, when it ran). */
  requests?: RequestCost;
}

export function applyResultJson(input: ApplyResultInput): ApplyResultJson {
  const { plan, result } = input;
  const outcomes = new Map<string, Omit<ApplyResultOperation, 'address' | 'action' | 'item_id' | 'version'>>();
  for (const d of result?.done ?? []) outcomes.set(d.address, { outcome: 'done' });
  for (const f of result?.failed ?? []) outcomes.set(f.address, { outcome: 'failed', error: f.error });
  for (const s of result?.skipped ?? []) outcomes.set(s.address, { outcome: 'skipped', reason: s.reason });
  const operations: ApplyResultOperation[] = [];
  // In plan order (by address): stable whatever order the operations ran in.
  for (const c of plan.changes) {
    const o = outcomes.get(c.address);
    if (!o) continue;
    const done = o.outcome === 'done' ? input.details?.get(c.address) : undefined;
    const itemId = done?.itemId ?? c.itemId;
    operations.push({
      address: c.address,
      action: c.action,
      outcome: o.outcome,
      ...(itemId ? { item_id: itemId } : {}),
      ...(done?.version !== undefined && c.action !== 'delete' ? { version: done.version } : {}),
      ...(o.error !== undefined ? { error: o.error } : {}),
      ...(o.reason !== undefined ? { reason: o.reason } : {}),
    });
  }
  const doneByAction = { create: 0, update: 0, replace: 0, delete: 0, forget: 0 };
  const requests = input.requests ?? result?.requests;
  for (const d of result?.done ?? []) if (d.action !== 'noop') doneByAction[d.action] += 1;
  return {
    format_version: APPLY_RESULT_FORMAT_VERSION,
    opsync_version: VERSION,
    command: input.command,
    connect_host: plan.connectHost,
    status: input.status,
    plan: { has_changes: hasChanges(plan), summary: planned(plan).summary, ...(input.savedPlan !== undefined ? { saved_plan: input.savedPlan } : {}) },
    operations,
    totals: {
      operations: plan.changes.filter((c) => c.action !== 'noop').length,
      done: result?.done.length ?? 0,
      failed: result?.failed.length ?? 0,
      skipped: result?.skipped.length ?? 0,
      done_by_action: doneByAction,
    },
    state: { lineage: input.state.lineage, serial: input.state.serial },
    elapsed_ms: Math.round(result?.elapsedMs ?? 0),
    diagnostics: [...plan.diagnostics.map(diagnosticFields), ...(input.extraDiagnostics ?? [])],
    ...(requests ? { requests: requestsJson(requests) } : {}),
    ...(result?.pacing
      ? {
          pacing: {
            writes_per_second: result.pacing.perSecond,
            source: result.pacing.source,
            estimated_writes: result.pacing.estimatedWrites,
            estimated_seconds: Math.round(result.pacing.estimatedMs / 100) / 10,
          },
        }
      : {}),
  };
}

/** Pretty-printed, as the JSON plan is; C1 controls escaped as in the event stream. */
export function renderApplyResultJson(input: ApplyResultInput): string {
  return `${escapeJsonControls(JSON.stringify(applyResultJson(input), null, 2))}\n`;
}
