// `opsync plan --refresh-only` (Terraform's name): only drift, never a proposal. Each item the state manages is
// compared with what the state recorded of it when opsync last wrote or accepted it, not with the manifests, so
// an edit of the manifests that is not applied yet is no drift and never shows. A separate stage from makePlan
// (build.ts), with the same refresh at the floor: an item whose vault did not move, or whose live version is the
// recorded one, costs no request of its own; only a moved one is read (one GET), and only then are its manifest
// values resolved.
//
// What the state records, and so what is compared whatever the manifests say: the title, the category, the vault
// (by id; its name as recorded), whether the item still exists, and a keyed digest of every managed field's value,
// generated ones included (digest.ts). What it does not record (tags, urls, sections, field labels and types) is
// compared with the manifests only while they are exactly what was last applied (their digest is the state's):
// then every difference from them is drift. After an edit of the manifests such a difference could be either; it
// is named, not shown, and the item counts as drifted (its live version moved), never as tolerated.

import { sameValue } from '../connect/dates.js';
import type { Field, FullItem, Vault } from '../connect/types.js';
import type { DesiredField, DesiredItem, Manifest } from '../manifest/types.js';
import type { StateFile, StateResource } from '../state/types.js';
import { assemblePlan } from './assemble.js';
import { inTargets, type PlanContext } from './build.js';
import { diffItem, GENERATED_DRIFT_NOTE, liveFieldsOf } from './diff.js';
import { desiredDigest, fieldDigest, madeWithKey, type ResolvedValues } from './digest.js';
import { liveFieldSensitive } from './itemBody.js';
import { applyMoves } from './moves.js';
import { createLiveView, type LiveSummary } from './refresh.js';
import { createResolver, ResolveError } from './resolve.js';
import { checkSelection } from './select.js';
import { type AttrChange, type Plan, type PlanDiagnostic, type ResourceChange } from './types.js';

/** The note of a sensitive value changed outside opsync (never a value). */
export const VALUE_DRIFT_NOTE = 'changed outside opsync';

export interface RefreshOnlyRequest {
  manifest: Manifest;
  state: StateFile;
  /** Addresses, or vault prefixes, to limit the check to. */
  targets?: string[];
}

/** Live against the state for one item whose live version moved (compareWithState). */
export interface StateComparison {
  /** What changed outside opsync: `before` as the state recorded it (or as last applied), `after` live. */
  changes: AttrChange[];
  /**
   * Paths that differ from the manifests while the manifests differ from what was last applied too: drift, or an
   * edit not applied yet; the state cannot tell which, so they are named, never shown.
   */
  unattributed: string[];
  /** Why not everything could be compared, in words (absent when it could). */
  note?: string;
}

function fieldPath(f: { section?: string; label: string }): string {
  return f.section ? `field ${f.section}.${f.label}` : `field ${f.label}`;
}

/** A difference the diff (desired vs live) found, turned round: before as applied, after live. */
function turned(c: AttrChange): AttrChange {
  const kind = c.kind === 'add' ? 'remove' : c.kind === 'remove' ? 'add' : 'change';
  const note = kind === 'add' ? 'added outside opsync' : kind === 'remove' ? 'removed outside opsync' : c.sensitive ? VALUE_DRIFT_NOTE : undefined;
  if (c.sensitive) return { path: c.path, kind, sensitive: true, note: note ?? VALUE_DRIFT_NOTE };
  return {
    path: c.path,
    kind,
    sensitive: false,
    ...(c.after !== undefined ? { before: c.after } : {}),
    ...(c.before !== undefined ? { after: c.before } : {}),
    ...(note ? { note } : {}),
  };
}

/** DATE and MONTH_YEAR values come back from Connect in another form than written: their digests do not compare. */
const REWRITTEN_TYPES = new Set(['DATE', 'MONTH_YEAR']);

/**
 * What changed outside opsync in `live` since the state recorded `st`. Pure. `manifest`: the resource as the
 * manifests say it now, with its resolved values when they could be read (else only the digests compare).
 */
export function compareWithState(
  st: StateResource,
  live: FullItem,
  key: Buffer,
  manifest?: { item: DesiredItem; values?: ResolvedValues },
): StateComparison {
  const changes: AttrChange[] = [];
  const unattributed = new Set<string>();
  const d = manifest?.item;
  const values = manifest?.values;
  const ignored = (path: string) => d?.ignore.includes(path) === true;
  if (!ignored('title') && live.title !== st.title) changes.push({ path: 'title', kind: 'change', sensitive: false, before: st.title, after: live.title });
  if (!ignored('category') && live.category !== st.category) {
    changes.push({ path: 'category', kind: 'change', sensitive: false, before: st.category, after: live.category });
  }
  if (!d) return { changes, unattributed: [], note: 'not in the manifests: only its title, category and vault are compared with the state' };

  // The manifests are what was last applied: every difference from them is drift.
  const exact = values !== undefined && st.digest !== '' && desiredDigest(d, values, key) === st.digest;
  const liveFields = liveFieldsOf(d, live);
  const valuePaths = new Set(d.fields.map(fieldPath));
  for (const f of d.fields) {
    if (f.source.kind === 'unmanaged' || ignored(`fields.${f.key}`)) continue;
    const change = fieldDrift(f, liveFields.get(f.key), st.fields?.[f.key], values?.get(f.key), exact, key);
    if (change === 'unknown') unattributed.add(fieldPath(f));
    else if (change) changes.push(change);
  }
  // Tags, urls, sections, labels, types, fields added by hand: the state holds none of them, only the manifests do.
  const diff = diffItem(d, values ?? new Map(), live, { rotate: new Set() });
  for (const c of diff.changes) {
    if (c.path === 'title' || c.path === 'category' || valuePaths.has(c.path)) continue;
    if (exact) changes.push(turned(c));
    else unattributed.add(c.path);
  }
  const note =
    exact || unattributed.size === 0
      ? undefined
      : values === undefined
        ? 'its manifest values could not be read: only what the state records is compared'
        : 'the manifests changed since the last apply too: only what the state records is compared';
  return { changes, unattributed: [...unattributed], ...(note ? { note } : {}) };
}

/** One managed field: its change outside opsync, none (undefined), or 'unknown' (the state cannot tell). */
function fieldDrift(
  f: DesiredField,
  lf: Field | undefined,
  recorded: string | undefined,
  want: string | undefined,
  exact: boolean,
  key: Buffer,
): AttrChange | 'unknown' | undefined {
  const path = fieldPath(f);
  const comparable = recorded !== undefined && madeWithKey(recorded, key);
  if (!lf) {
    // Not found under its manifest label: removed or relabelled by hand, or relabelled in the manifests.
    if (!exact) return 'unknown';
    return { path, kind: 'remove', sensitive: f.sensitive, note: 'removed outside opsync' };
  }
  const liveValue = lf.value ?? '';
  if (f.source.kind === 'generate') {
    // Known only by its digest; without one (a state from before digests, another key) nothing can be said.
    return comparable && fieldDigest(liveValue, key) !== recorded ? { path, kind: 'change', sensitive: true, note: GENERATED_DRIFT_NOTE } : undefined;
  }
  // The manifest's value is the one last applied (the whole spec is, or this field's digest says so): compared as
  // values of the field's type; else the live value's digest against the recorded one.
  const applied = want !== undefined && (exact || (comparable && fieldDigest(want, key) === recorded));
  let drifted: boolean;
  if (applied) drifted = !sameValue(f.type, liveValue, want);
  else if (comparable && !REWRITTEN_TYPES.has(f.type)) drifted = fieldDigest(liveValue, key) !== recorded;
  else return want !== undefined && !sameValue(f.type, liveValue, want) ? 'unknown' : undefined;
  if (!drifted) return undefined;
  if (f.sensitive || liveFieldSensitive(lf)) return { path, kind: 'change', sensitive: true, note: VALUE_DRIFT_NOTE };
  return { path, kind: 'change', sensitive: false, ...(applied ? { before: want } : {}), after: liveValue };
}

/**
 * The refresh-only plan: one noop change per managed resource checked, with `drift` when live changed outside
 * opsync since the state recorded it. Prints nothing; sends only reads.
 */
export async function makeRefreshOnlyPlan(ctx: PlanContext, req: RefreshOnlyRequest): Promise<Plan> {
  const { client, key } = ctx;
  const targets = req.targets ?? [];
  const diagnostics: PlanDiagnostic[] = [];
  const error = (message: string, address?: string) => diagnostics.push({ severity: 'error', message, ...(address ? { address } : {}) });

  const unselected = checkSelection({ items: req.manifest.items, resources: req.state.resources, targets });
  for (const message of unselected) error(message);

  // The manifest resource of a state address: by a `moved` block's new address when one renames it (an edit
  // not applied yet, so the check reports under the address the state knows).
  const desiredByAddress = new Map(req.manifest.items.map((i) => [i.address, i]));
  const { movedFrom } = applyMoves(req.state.resources, req.manifest.moved, () => undefined);
  const movedTo = new Map([...movedFrom].map(([to, from]) => [from, to]));
  const manifestOf = (address: string) => desiredByAddress.get(movedTo.get(address) ?? address);

  const selected =
    unselected.length > 0
      ? []
      : Object.values(req.state.resources).filter((r) => inTargets(r.address, targets) || (movedTo.has(r.address) && inTargets(movedTo.get(r.address)!, targets)));

  const live = createLiveView(client, req.state);
  const resolver = createResolver(client, ctx.env, live.vaults);
  const vaultsById = selected.length ? new Map((await live.vaults()).map((v) => [v.id, v])) : new Map<string, Vault>();

  // A vault the state names that the token cannot see: one error, its items not checked. (Deleted by hand, or
  // the token lost access: the state cannot tell, and a drift check must not guess.)
  const missingVaults = new Map<string, StateResource[]>();
  for (const r of selected) if (!vaultsById.has(r.vaultId)) missingVaults.set(r.vaultId, [...(missingVaults.get(r.vaultId) ?? []), r]);
  for (const [id, rs] of missingVaults) {
    error(`vault ${recordedVaultName(req.state, rs[0])} (${id}) not found, or this token cannot see it: its ${rs.length} managed item(s) were not checked for drift`);
  }
  const checked = selected.filter((r) => vaultsById.has(r.vaultId));

  const listingFailed = new Set<string>();
  const checkOne = async (r: StateResource): Promise<ResourceChange | undefined> => {
    const vault = vaultsById.get(r.vaultId)!;
    let summary: LiveSummary | undefined;
    try {
      summary = await live.summary(r.vaultId, r.itemId);
    } catch (err) {
      if (!listingFailed.has(r.vaultId)) error(`cannot list vault ${vault.name} (${vault.id}) to check its items: ${(err as Error).message}`);
      listingFailed.add(r.vaultId);
      return undefined;
    }
    return checkResource(r, vault, summary);
  };

  const checkResource = async (r: StateResource, vault: Vault, summary: LiveSummary | undefined): Promise<ResourceChange> => {
    const recordedVault = recordedVaultName(req.state, r);
    const renamed: AttrChange[] = vault.name !== recordedVault ? [{ path: 'vault', kind: 'change', sensitive: false, before: recordedVault, after: vault.name }] : [];
    const base: ResourceChange = {
      address: r.address,
      action: 'noop',
      vault: { id: vault.id, name: vault.name },
      title: summary?.title ?? r.title,
      category: r.category,
      itemId: r.itemId,
      reasons: renamed.length ? ['vault renamed outside opsync'] : [],
      changes: renamed,
      ...(r.protect ? { protect: true } : {}),
    };
    const inSync = (version: number): ResourceChange => ({
      ...base,
      plannedVersion: version,
      ...(renamed.length ? { drift: { stateVersion: r.version, liveVersion: version } } : {}),
    });
    if (summary && summary.version === r.version) return inSync(summary.version);
    // As a plan reads it: a listing that lags opsync's own last write is read again until it shows it.
    const full = summary && summary.version >= r.version ? await client.getItem(r.vaultId, r.itemId) : await client.getItemSettled(r.vaultId, r.itemId, r.version);
    if (!full) {
      return { ...base, title: r.title, reasons: [...base.reasons, 'item was deleted outside opsync'], drift: { stateVersion: r.version, liveVersion: 0, liveMissing: true } };
    }
    if (full.version === r.version) return inSync(full.version);

    const d = manifestOf(r.address);
    let values: ResolvedValues | undefined;
    let unreadable: string | undefined;
    if (d) {
      try {
        values = await resolver.values(d);
      } catch (err) {
        if (!(err instanceof ResolveError)) throw err;
        unreadable = err.detail;
      }
    }
    const cmp = compareWithState(r, full, key, d ? { item: d, ...(values ? { values } : {}) } : undefined);
    const changes = [...renamed, ...cmp.changes];
    const reasons = [...base.reasons];
    if (cmp.changes.length > 0) reasons.push('drift: changed outside opsync');
    if (cmp.unattributed.length > 0) reasons.push(`differs from the manifests in ${cmp.unattributed.join(', ')}: drift or an edit not applied yet`);
    if (cmp.note) reasons.push(unreadable ? `${cmp.note} (${unreadable})` : cmp.note);
    // Tolerated (as a plan tolerates it) only when everything compared and nothing differs: a version moved in
    // ignored paths or unmanaged fields. An item not in the manifests cannot be compared in full.
    const tolerated = changes.length === 0 && cmp.unattributed.length === 0 && d !== undefined;
    return {
      ...base,
      title: full.title,
      category: full.category,
      plannedVersion: full.version,
      reasons,
      changes,
      drift: { stateVersion: r.version, liveVersion: full.version, ...(tolerated ? { ignored: true } : {}) },
    };
  };

  const total = checked.length;
  let done = 0;
  ctx.onProgress?.(0, total);
  const results = await Promise.all(
    checked.map((r) =>
      checkOne(r).then((c) => {
        done += 1;
        ctx.onProgress?.(done, total);
        ctx.onResource?.(r.address, c, done, total);
        return c;
      }),
    ),
  );
  const changes = results.filter((c): c is ResourceChange => c !== undefined).sort((a, b) => (a.address < b.address ? -1 : a.address > b.address ? 1 : 0));
  ctx.onLiveView?.(live);

  return assemblePlan({ connectHost: ctx.connectHost, state: req.state, manifestFiles: req.manifest.files, targets, rotate: [], replace: [], mode: 'refresh-only', changes, diagnostics });
}

/**
 * The vault's name as opsync last saw it: the state's record of the vault (updated by every apply and refresh
 * that finds it in step), else the name recorded with the resource.
 */
function recordedVaultName(state: StateFile, r: StateResource): string {
  return state.vaults?.[r.vaultId]?.name ?? r.vaultName;
}
