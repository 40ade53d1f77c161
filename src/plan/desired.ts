// One manifest resource: resolve its values, digest them, and decide by the state and the live view whether it
// is unchanged (no request beyond the refresh), drifted or changed (one GET), or new (looked up by title).

import type { Vault } from '../connect/types.js';
import type { DesiredItem } from '../manifest/types.js';
import type { StateResource } from '../state/types.js';
import { compare } from './compare.js';
import { dependencyValues, markKnownAfterApply } from './dependencies.js';
import { createChanges } from './diff.js';
import { desiredDigest } from './digest.js';
import { crossVaultError } from './moves.js';
import { notOurCreate } from './recovery.js';
import { planReplaceFirst } from './replace.js';
import { ResolveError } from './resolve.js';
import { dueReasons, dueRotations, type DueRotation } from './rotation.js';
import { UNCREATABLE_CATEGORIES, type PlanScope } from './scope.js';
import type { ResourceChange } from './types.js';

/**
 * Fields to regenerate: asked for with --rotate, whose `rotate` key differs from the one in state, or whose
 * rotation policy is due (`due`). A field under a policy that writes no key has none to compare: turning
 * `rotate: "2026-11"` into `rotate: {every: 90d}` regenerates nothing until the policy is due.
 */
function rotationsFor(item: DesiredItem, st: StateResource | undefined, rotate: readonly string[], policies?: Readonly<Record<string, unknown>>, due: readonly DueRotation[] = []): Set<string> {
  const out = new Set<string>();
  for (const f of item.fields) {
    if (f.source.kind !== 'generate') continue;
    if (rotate.includes(item.address) || rotate.includes(`${item.address}:${f.key}`)) out.add(f.key);
    const keyed = f.source.rotate !== undefined || !policies?.[f.key];
    if (st && keyed && (f.source.rotate ?? '') !== (st.rotations?.[f.key] ?? '')) out.add(f.key);
  }
  for (const r of due) out.add(r.field);
  return out;
}

/** The due rotations of a managed resource that nothing else regenerates already (src/plan/rotation.ts). */
function dueFor(scope: PlanScope, d: DesiredItem): DueRotation[] {
  const st = scope.resources[d.address];
  const policies = scope.rotation?.policies[d.address];
  if (!scope.rotation || !st || !policies) return [];
  const requested = rotationsFor(d, st, scope.rotate, policies);
  return dueRotations(d, st, policies, scope.rotation.now).filter((r) => !requested.has(r.field));
}

const fieldPath = (f: { section?: string; label: string }) => (f.section ? `field ${f.section}.${f.label}` : `field ${f.label}`);

/**
 * A change that regenerates due fields says so: `rotateDue`, a reason per policy (instead of "rotation
 * requested" when nothing else asked), and a replace's note for each ("regenerated: rotation due").
 */
function withDue(d: DesiredItem, change: ResourceChange | undefined, due: readonly DueRotation[]): ResourceChange | undefined {
  if (!change?.rotate || due.length === 0) return change;
  const rotated = due.filter((r) => change.rotate!.includes(r.field));
  if (rotated.length === 0) return change;
  const requested = change.rotate.some((k) => !rotated.some((r) => r.field === k));
  const paths = new Set(d.fields.filter((f) => rotated.some((r) => r.field === f.key)).map(fieldPath));
  return {
    ...change,
    rotateDue: rotated,
    reasons: [...change.reasons.filter((r) => requested || r !== 'rotation requested'), ...dueReasons(d, rotated)],
    changes: change.changes.map((c) => (c.note === 'regenerated: --rotate' && paths.has(c.path) ? { ...c, note: 'regenerated: rotation due' } : c)),
  };
}

export async function planDesired(scope: PlanScope, d: DesiredItem): Promise<ResourceChange | undefined> {
  // What it copies from resources of this plan is resolved once they are planned (dependencies.ts).
  const deps = await dependencyValues(scope, d);
  if (!deps) return undefined;
  // Due rotations are planned as --rotate would plan them; with --no-rotate-due they are only listed (build.ts warns).
  const due = dueFor(scope, d);
  const include = scope.rotation?.include !== false;
  const change = withDue(d, await judge(scope, d, deps.overrides, include ? due : []), due);
  if (!include && change && change.action !== 'create') scope.rotation!.skipped.push(...due.map((r) => `${d.address}:${r.field}`));
  if (!change || deps.refs.length === 0) return change;
  change.refs = deps.refs;
  if (change.action === 'noop') return change;
  // A dependent changes because of what it copies: say so, rather than "manifest changed".
  const reasons = deps.reasons.length > 0 ? [...change.reasons.filter((r) => r !== 'manifest changed'), ...deps.reasons] : change.reasons;
  return { ...change, reasons, changes: markKnownAfterApply(change.changes, d, deps.refs) };
}

async function judge(scope: PlanScope, d: DesiredItem, overrides: ReadonlyMap<string, string>, due: readonly DueRotation[]): Promise<ResourceChange | undefined> {
  const { client, error, live, movedFrom } = scope;
  const vault = await live.findVault(d.vault);
  if (!vault) return undefined; // one error for the vault, at its `vault:` line (unknownVault.ts, from build.ts)
  const st = scope.resources[d.address];
  if (st && st.vaultId !== vault.id) {
    error(crossVaultError(d.address, st, d.vault, movedFrom.get(d.address)), d.address, d.pos);
    return undefined;
  }
  let values: Map<string, string>;
  try {
    values = await scope.resolver.values(d, overrides);
    scope.resolved.set(d.address, values);
  } catch (err) {
    if (err instanceof ResolveError) {
      error(err.detail, d.address, d.fields.find((f) => f.key === err.field)?.pos ?? d.pos);
      return undefined;
    }
    throw err;
  }
  const digest = desiredDigest(d, values, scope.key);
  const rotations = rotationsFor(d, st, scope.rotate, scope.rotation?.policies[d.address], due);
  const base: ResourceChange = {
    address: d.address,
    action: 'noop',
    vault: { id: vault.id, name: vault.name },
    title: d.title,
    category: d.category,
    reasons: [],
    changes: [],
    desired: d,
    desiredDigest: digest,
    ...(d.protect ? { protect: true } : {}),
    ...(movedFrom.has(d.address) ? { movedFrom: movedFrom.get(d.address) } : {}),
  };
  if (movedFrom.has(d.address)) base.reasons.push(`moved from ${movedFrom.get(d.address)}`);
  if (st && (st.protect === true) !== (d.protect === true)) {
    base.protectChanged = true;
    base.reasons.push(d.protect ? 'protect: true (recorded in state)' : 'protect removed (recorded in state)');
  }

  // An interrupted replace is finished, and --replace forces one, before the usual judgement (replace.ts).
  const replaced = await planReplaceFirst(scope, d, { vault, values, rotations, base, st });
  if (replaced !== undefined) return replaced ?? undefined;

  if (st) {
    const summary = await live.summary(vault.id, st.itemId);
    const unchanged = (version: number) => version === st.version && st.digest === digest && rotations.size === 0;
    if (summary && unchanged(summary.version)) return { ...base, itemId: st.itemId, plannedVersion: summary.version };
    // Missing from the list, or older than opsync's own last write: the list may lag (real Connect's reads are
    // eventually consistent), so the item is read until it shows that write, and only then judged.
    const full =
      summary && summary.version >= st.version
        ? await client.getItem(vault.id, st.itemId)
        : await client.getItemSettled(vault.id, st.itemId, st.version);
    if (full) {
      if (unchanged(full.version)) return { ...base, itemId: st.itemId, plannedVersion: full.version };
      return compare(scope, d, base, values, full, st, rotations, []);
    }
  }
  // No live item for this address: a new resource, one whose item is gone, or a create (or the create of a
  // replace) that was interrupted. Each goes by title, so none of them creates a second item of that title.
  return planByTitle(scope, d, vault, values, rotations, base, st);
}

async function planByTitle(
  scope: PlanScope,
  d: DesiredItem,
  vault: Vault,
  values: Map<string, string>,
  rotations: Set<string>,
  base: ResourceChange,
  st: StateResource | undefined,
): Promise<ResourceChange | undefined> {
  const { error, managedIds } = scope;
  const pending = scope.state.pending[d.address];
  const gone = st && !pending ? { drift: { stateVersion: st.version, liveVersion: 0, liveMissing: true } } : {};
  const newReason = st ? (pending ? 'its create was interrupted' : 'item was deleted outside opsync') : 'new resource';
  // A title check always reads the vault's listing: somebody else may have made an item of that title.
  let sameTitle = await scope.live.byTitle(vault.id, d.title);
  // An interrupted create may have made its item moments ago, and Connect's listings lag its writes: look
  // again, with backoff, before deciding that nothing was made (a create now would make a second one).
  if (pending && sameTitle.length === 0) sameTitle = await scope.client.findItemsByTitleSettled(vault.id, d.title);
  const unmanaged = sameTitle.filter((s) => !managedIds.has(s.id));
  if (unmanaged.length === 0) {
    const other = sameTitle.find((s) => managedIds.has(s.id));
    if (other && scope.desiredByAddress.has(managedIds.get(other.id)!)) {
      error(`title "${d.title}" is already used in vault ${vault.name} by ${managedIds.get(other.id)}`, d.address, d.pos);
      return undefined;
    }
    if (UNCREATABLE_CATEGORIES.has(d.category)) {
      error(
        `real Connect refuses to create ${d.category} items, and no item titled "${d.title}" exists in vault ${vault.name} to manage: ` +
          `make it in 1Password, then \`opsync import ${d.address} ${vault.name}/<id>\``,
        d.address,
        d.pos,
      );
      return undefined;
    }
    return { ...base, action: 'create', reasons: [...base.reasons, newReason], changes: createChanges(d), ...gone };
  }
  const importHint = (id: string) => `\`opsync import ${d.address} ${vault.name}/${id}\``;
  if (unmanaged.length > 1) {
    error(`${unmanaged.length} unmanaged items in vault ${vault.name} are titled "${d.title}"; import the right one with ${importHint('<id>')}`, d.address, d.pos);
    return undefined;
  }
  if (!pending && !d.adopt) {
    error(
      `an item titled "${d.title}" already exists in vault ${vault.name} (id ${unmanaged[0].id}) and opsync does not manage it; ` +
        `adopt it with ${importHint(unmanaged[0].id)} or \`adopt: true\``,
      d.address,
      d.pos,
    );
    return undefined;
  }
  const full = await scope.client.getItem(vault.id, unmanaged[0].id);
  if (pending && !d.adopt) {
    const why = notOurCreate(full, pending.startedAt);
    if (why) {
      error(
        `an interrupted create was recorded, but the item titled "${d.title}" in vault ${vault.name} (id ${full.id}) is not the one it made: ${why}; ` +
          `if it is yours, adopt it with ${importHint(full.id)}`,
        d.address,
        d.pos,
      );
      return undefined;
    }
  }
  const reason = pending ? 'recovering an interrupted create' : 'adopting an existing item';
  return { ...compare(scope, d, base, values, full, undefined, rotations, [reason]), adopt: true };
}
