// The plan as a documented, versioned machine format (schemas/plan-output.schema.json). Snake_case keys,
// one entry per resource (no-ops included), never a secret value: sensitive changes carry a note only,
// and the desired spec (value sources) is left out.

import { hasChanges, type AttrChange, type Plan, type PlanSummary, type ResourceChange } from '../plan/types.js';
import type { JsonPatchOp } from '../connect/types.js';
import { SENSITIVE_NOTE } from './present.js';
import { requestsJson, type RequestsJson } from './requests.js';

/** Bumped in its minor part for additions, in its major part for anything a consumer could trip on. */
export const PLAN_JSON_FORMAT_VERSION = '1.4';

export interface PlanJsonChange {
  path: string;
  kind: AttrChange['kind'];
  sensitive: boolean;
  before?: unknown;
  after?: unknown;
  note?: string;
}

export interface PlanJsonResourceChange {
  address: string;
  action: ResourceChange['action'];
  vault: { id?: string; name: string };
  title: string;
  category: string;
  method?: 'patch' | 'put';
  item_id?: string;
  planned_version?: number;
  reasons: string[];
  changes: PlanJsonChange[];
  drift?: { state_version: number; live_version: number; live_missing: boolean; ignored: boolean };
  patch?: JsonPatchOp[];
  adopt?: boolean;
  forget_only?: boolean;
  protect?: boolean;
  protect_changed?: boolean;
  moved_from?: string;
  rotate?: string[];
  /** Those of `rotate` regenerated because their rotation policy is due: when each was generated, and its policy. */
  rotate_due?: { field: string; every: string; generated_at: string; generated_at_recorded: boolean; due_at: string }[];
  /** Fields copied from other resources of this plan: applied after them; `known_after_apply` when they write it. */
  depends_on?: { field: string; on: string; known_after_apply: boolean }[];
}

export interface PlanJson {
  format_version: typeof PLAN_JSON_FORMAT_VERSION;
  opsync_version: string;
  created_at: string;
  connect_host: string;
  mode: Plan['mode'];
  has_changes: boolean;
  targets: string[];
  rotate: string[];
  summary: PlanJsonSummary;
  resource_changes: PlanJsonResourceChange[];
  diagnostics: {
    severity: 'error' | 'warning';
    address?: string;
    message: string;
    pos?: { file: string; line: number; col: number; instance?: string };
  }[];
  /** The Connect requests making the plan sent, by kind (absent for a saved plan shown again). */
  requests?: RequestsJson;
}

/** The summary's counts; `rotate_due`: generated fields rotated because their policy is due. */
export type PlanJsonSummary = Omit<PlanSummary, 'rotateDue'> & { rotate_due: number };

function changeToJson(c: AttrChange): PlanJsonChange {
  if (c.sensitive) return { path: c.path, kind: c.kind, sensitive: true, note: c.note ?? SENSITIVE_NOTE };
  const out: PlanJsonChange = { path: c.path, kind: c.kind, sensitive: false };
  if (c.before !== undefined) out.before = c.before;
  if (c.after !== undefined) out.after = c.after;
  if (c.note !== undefined) out.note = c.note;
  return out;
}

function resourceToJson(c: ResourceChange): PlanJsonResourceChange {
  const out: PlanJsonResourceChange = {
    address: c.address,
    action: c.action,
    vault: c.vault.id !== undefined ? { id: c.vault.id, name: c.vault.name } : { name: c.vault.name },
    title: c.title,
    category: c.category,
    reasons: [...c.reasons],
    changes: c.changes.map(changeToJson),
  };
  if (c.method) out.method = c.method;
  if (c.itemId) out.item_id = c.itemId;
  if (c.plannedVersion !== undefined) out.planned_version = c.plannedVersion;
  if (c.drift) {
    out.drift = {
      state_version: c.drift.stateVersion,
      live_version: c.drift.liveVersion,
      live_missing: c.drift.liveMissing === true,
      ignored: c.drift.ignored === true,
    };
  }
  if (c.patch) out.patch = c.patch;
  if (c.adopt) out.adopt = true;
  if (c.forgetOnly) out.forget_only = true;
  if (c.protect) out.protect = true;
  if (c.protectChanged) out.protect_changed = true;
  if (c.movedFrom) out.moved_from = c.movedFrom;
  if (c.rotate?.length) out.rotate = [...c.rotate];
  if (c.rotateDue?.length) {
    out.rotate_due = c.rotateDue.map((r) => ({ field: r.field, every: r.every, generated_at: r.generatedAt, generated_at_recorded: r.recorded, due_at: r.dueAt }));
  }
  if (c.refs?.length) out.depends_on = c.refs.map((r) => ({ field: r.field, on: r.on, known_after_apply: r.mode === 'after' }));
  return out;
}

/** Every count, zeros included (a saved plan made before moves, protect changes, forgets and due rotations were counted has none). */
function summaryToJson(s: PlanSummary): PlanJsonSummary {
  const { create, update, replace, delete: del, forget = 0, noop, drifted, move = 0, protect = 0, rotateDue = 0 } = s;
  return { create, update, replace, delete: del, forget, noop, drifted, move, protect, rotate_due: rotateDue };
}

export function planToJson(plan: Plan): PlanJson {
  return {
    format_version: PLAN_JSON_FORMAT_VERSION,
    opsync_version: plan.opsyncVersion,
    created_at: plan.createdAt,
    connect_host: plan.connectHost,
    mode: plan.mode,
    has_changes: hasChanges(plan),
    targets: [...plan.targets],
    rotate: [...plan.rotate],
    summary: summaryToJson(plan.summary),
    resource_changes: plan.changes.map(resourceToJson),
    diagnostics: plan.diagnostics.map((d) => ({
      severity: d.severity,
      ...(d.address !== undefined ? { address: d.address } : {}),
      message: d.message,
      ...(d.pos ? { pos: { file: d.pos.file, line: d.pos.line, col: d.pos.col, ...(d.pos.instance !== undefined ? { instance: d.pos.instance } : {}) } } : {}),
    })),
    ...(plan.requests ? { requests: requestsJson(plan.requests) } : {}),
  };
}

export function renderPlanJson(plan: Plan): string {
  return `${JSON.stringify(planToJson(plan), null, 2)}\n`;
}
