// A Plan is plain data: serialisable, renderable, replayable. The engine builds it; renderers only show it;
// apply carries it out. It never holds a secret value: sensitive attributes carry markers, not values, and
// what apply needs to resolve values again is the desired spec (value *sources*) plus keyed digests.

import type { RequestCost } from '../connect/cost.js';
import type { JsonPatchOp } from '../connect/types.js';
import type { DesiredItem, SourcePos } from '../manifest/types.js';
import type { DueRotation } from './rotation.js';

export const PLAN_FORMAT_VERSION = 1;

/**
 * `forget`: a resource a `removed:` block names leaves the state; its item stays in Connect untouched (no
 * request is sent for it).
 */
export type ChangeAction = 'create' | 'update' | 'replace' | 'delete' | 'forget' | 'noop';

/** One attribute that differs, in words a reviewer reads. */
export interface AttrChange {
  /**
   * Human path: "title", "category", "tags", "urls", "section <key>", "field <label>" or
   * "field <section>.<label>".
   */
  path: string;
  kind: 'add' | 'remove' | 'change';
  /** When true, before/after are absent and `note` says what happens. */
  sensitive: boolean;
  before?: unknown;
  after?: unknown;
  /** e.g. "sensitive value changed", "generated on create", "rotated", "value not managed". */
  note?: string;
}

export interface ResourceChange {
  address: string;
  action: ChangeAction;
  vault: { id?: string; name: string };
  /** Desired title (live title for delete). */
  title: string;
  category: string;
  /** update only: how the change is sent. */
  method?: 'patch' | 'put';
  /** Live item the change acts on (absent for create). */
  itemId?: string;
  /** Live version the change was planned against; apply refuses when it moved. */
  plannedVersion?: number;
  /** Why this action: "new resource", "manifest changed", "drift", "rotation requested", "category changed", ... */
  reasons: string[];
  /** What differs between live and desired (for a noop: empty, or generated values changed outside opsync). */
  changes: AttrChange[];
  /** The RFC 6902 patch for a patch update, with sensitive values replaced by "(sensitive)". For review only. */
  patch?: JsonPatchOp[];
  /** Live changed outside opsync since the last apply. */
  drift?: {
    stateVersion: number;
    liveVersion: number;
    /** The item was deleted outside opsync. */
    liveMissing?: boolean;
    /** Drift only in ignored paths: tolerated. */
    ignored?: boolean;
  };
  /** Adopt the live item found by title (adopt: true), then act on it. */
  adopt?: boolean;
  /** Delete whose item is already gone: apply only forgets it. */
  forgetOnly?: boolean;
  /** The desired spec (value sources, never values) for create/update/replace/noop. */
  desired?: DesiredItem;
  /** Keyed digest of the desired spec with its resolved values; apply re-resolves and must match. */
  desiredDigest?: string;
  protect?: boolean;
  /** The manifest turned `protect` on or off since the state last recorded it: apply records it (state only). */
  protectChanged?: boolean;
  /** The address this resource had in state before a `moved` block renamed it. */
  movedFrom?: string;
  /** Generated fields (by key) that this change regenerates. */
  rotate?: string[];
  /**
   * Those of `rotate` regenerated because their rotation policy is due (src/plan/rotation.ts), not because
   * --rotate or a changed rotate key asked: each with its policy and when it was generated.
   */
  rotateDue?: DueRotation[];
  /**
   * noop only: keyed digests (src/plan/digest.ts fieldDigests, never values) of the managed field values the item
   * holds as planned, generated ones read from live, by field key; apply records them in the state.
   */
  fieldDigests?: Record<string, string>;
  /**
   * Values this change copies from other resources of the same plan (`ref:` to a managed item): apply writes
   * it after them. Fields of mode 'after' are `(known after apply)`: read from the dependency once it is written.
   */
  refs?: RefUse[];
  /** replace only: how the item is replaced, create-before-destroy (src/plan/replace.ts). */
  replace?: ReplaceDetail;
}

/**
 * A replace: the resource moves to a new item, then the old one is deleted. `create`: the new item is created
 * (carrying over the live values of generated and unmanaged fields), recorded with the old one as retired, then
 * the old one deleted. `finish`: an interrupted replace already made the new item, which is `itemId` (updated
 * if the manifest says so, adopted when the state does not record it yet): only the old ones are deleted.
 */
export interface ReplaceDetail {
  stage: 'create' | 'finish';
  /** The items deleted once the resource is on its new item; `gone`: already deleted when planned (only forgotten). */
  retire: { itemId: string; vaultId: string; gone?: boolean }[];
}

/** How one field of a change gets a value from another resource of the plan (see src/plan/dependencies.ts). */
export interface RefUse {
  /** The field key of this change. */
  field: string;
  /** The address it depends on. */
  on: string;
  /** The referenced field's key in that resource's manifest, when declared there. */
  onField?: string;
  mode: 'manifest' | 'after' | 'live';
}

export interface PlanDiagnostic {
  severity: 'error' | 'warning';
  /** `safety`: the plan is over a safety limit (src/plan/safety.ts), so apply refuses it without --force. */
  kind?: 'safety';
  address?: string;
  message: string;
  pos?: SourcePos;
}

export interface PlanSummary {
  create: number;
  update: number;
  replace: number;
  delete: number;
  /** Resources a `removed:` block drops from the state, their items left in Connect. */
  forget: number;
  noop: number;
  drifted: number;
  /** Addresses a `moved:` block renames (whatever else happens to the item). */
  move: number;
  /** `protect` turned on or off, recorded in the state (`protectChanged`). */
  protect: number;
  /** Generated fields rotated because their rotation policy is due (`rotateDue`); absent in plans saved before it. */
  rotateDue?: number;
}

export type PlanMode = 'normal' | 'destroy' | 'refresh-only';

export interface Plan {
  formatVersion: typeof PLAN_FORMAT_VERSION;
  opsyncVersion: string;
  createdAt: string;
  connectHost: string;
  /** The state the plan was made against; apply refuses if it moved. */
  state: { lineage: string; serial: number };
  manifests: string[];
  targets: string[];
  rotate: string[];
  /** --replace addresses (absent in plans saved before it existed). */
  replace?: string[];
  /**
   * 'destroy' plans delete every managed resource. 'refresh-only' (plan --refresh-only, src/plan/refreshOnly.ts)
   * only reports drift: every change is a noop, `drift` set where live changed outside opsync since the state
   * recorded it, before/after as recorded and as live; it is never saved or applied.
   */
  mode: PlanMode;
  changes: ResourceChange[];
  diagnostics: PlanDiagnostic[];
  summary: PlanSummary;
  /**
   * The Connect requests making this plan sent (src/connect/cost.ts), set by the command that made it; absent in
   * a saved plan (it is what planning cost then, not what applying it costs).
   */
  requests?: RequestCost;
}

/** A noop whose item stays as it is but whose state entry changes: a moved address, a protect flag. */
export function changesStateOnly(c: ResourceChange): boolean {
  return c.action === 'noop' && (c.movedFrom !== undefined || c.protectChanged === true);
}

export function hasChanges(plan: Plan): boolean {
  return plan.changes.some((c) => c.action !== 'noop' || changesStateOnly(c) || (c.drift !== undefined && !c.drift.ignored));
}

export function summarise(changes: ResourceChange[]): PlanSummary {
  const s: PlanSummary = { create: 0, update: 0, replace: 0, delete: 0, forget: 0, noop: 0, drifted: 0, move: 0, protect: 0, rotateDue: 0 };
  for (const c of changes) {
    s[c.action] += 1;
    if (c.drift) s.drifted += 1;
    if (c.movedFrom !== undefined) s.move += 1;
    if (c.protectChanged) s.protect += 1;
    if (c.rotateDue?.length) s.rotateDue = (s.rotateDue ?? 0) + c.rotateDue.length;
  }
  return s;
}
