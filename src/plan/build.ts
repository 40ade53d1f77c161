// Building a Plan: refresh live state (one item list per vault; a GET only where the fast path cannot tell),
// resolve desired values, diff, and decide one action per resource. Prints nothing.

import { relative } from 'node:path';
import type { ConnectClient } from '../connect/client.js';
import type { FullItem, ItemSummary, Vault } from '../connect/types.js';
import type { DesiredItem, Manifest } from '../manifest/types.js';
import type { StateFile, StateResource } from '../state/types.js';
import { VERSION } from '../version.js';
import { desiredDigest } from './digest.js';
import { createChanges, diffItem } from './diff.js';
import { notOurCreate } from './recovery.js';
import { createResolver, ResolveError } from './resolve.js';
import { PLAN_FORMAT_VERSION, summarise, type Plan, type PlanDiagnostic, type ResourceChange } from './types.js';

export interface PlanContext {
  client: ConnectClient;
  env: NodeJS.ProcessEnv;
  /** Digest key (see digest.ts). */
  key: Buffer;
  connectHost: string;
}

export interface PlanRequest {
  manifest: Manifest;
  state: StateFile;
  /** Addresses, or vault prefixes ("Production"), to limit the plan to. */
  targets?: string[];
  /** "ADDRESS" (every generated field) or "ADDRESS:FIELD". */
  rotate?: string[];
  mode?: 'normal' | 'destroy';
}

/** Categories real Connect can hold and return but refuses to create (CHANGELOG v1.2.0, v1.7.0). */
const UNCREATABLE_CATEGORIES: ReadonlySet<string> = new Set(['CUSTOM', 'DOCUMENT']);

export function inTargets(address: string, targets: readonly string[]): boolean {
  return targets.length === 0 || targets.some((t) => address === t || address.startsWith(t.endsWith('/') ? t : `${t}/`));
}

/** Fields to regenerate: asked for with --rotate, or whose `rotate` key differs from the one in state. */
function rotationsFor(item: DesiredItem, st: StateResource | undefined, rotate: readonly string[]): Set<string> {
  const out = new Set<string>();
  for (const f of item.fields) {
    if (f.source.kind !== 'generate') continue;
    if (rotate.includes(item.address) || rotate.includes(`${item.address}:${f.key}`)) out.add(f.key);
    if (st && (f.source.rotate ?? '') !== (st.rotations?.[f.key] ?? '')) out.add(f.key);
  }
  return out;
}

export async function makePlan(ctx: PlanContext, req: PlanRequest): Promise<Plan> {
  const { client } = ctx;
  const targets = req.targets ?? [];
  const rotate = req.rotate ?? [];
  const mode = req.mode ?? 'normal';
  const diagnostics: PlanDiagnostic[] = [];
  const error = (message: string, address?: string, pos?: PlanDiagnostic['pos']) =>
    diagnostics.push({ severity: 'error', message, ...(address ? { address } : {}), ...(pos ? { pos } : {}) });

  // `moved` blocks rename state addresses before anything is compared.
  const resources: Record<string, StateResource> = { ...req.state.resources };
  const movedFrom = new Map<string, string>();
  for (const m of req.manifest.moved) {
    if (!resources[m.from]) continue;
    if (resources[m.to]) {
      error(`moved: both ${m.from} and ${m.to} are in state; remove one with \`opsync state rm\``, m.to, m.pos);
      continue;
    }
    resources[m.to] = { ...resources[m.from], address: m.to };
    delete resources[m.from];
    movedFrom.set(m.to, m.from);
  }

  const desired = mode === 'destroy' ? [] : req.manifest.items.filter((i) => inTargets(i.address, targets));
  const desiredByAddress = new Map(req.manifest.items.map((i) => [i.address, i]));
  for (const r of rotate) {
    const address = r.includes(':') ? r.slice(0, r.lastIndexOf(':')) : r;
    if (!desiredByAddress.has(address)) error(`--rotate ${r}: no resource ${address} in the manifests`);
  }

  let vaultList: Promise<Vault[]> | undefined;
  const vaults = () => (vaultList ??= client.listVaults());
  const listings = new Map<string, Promise<ItemSummary[]>>();
  const listing = (vaultId: string) => {
    let p = listings.get(vaultId);
    if (!p) listings.set(vaultId, (p = client.listItems(vaultId)));
    return p;
  };
  const resolver = createResolver(client, ctx.env, vaults);
  const managedIds = new Map(Object.values(resources).map((r) => [r.itemId, r.address]));

  const findVault = async (ref: string): Promise<Vault | undefined> => {
    const all = await vaults();
    return all.find((v) => v.id === ref) ?? all.find((v) => v.name === ref);
  };

  async function planDesired(d: DesiredItem): Promise<ResourceChange | undefined> {
    const vault = await findVault(d.vault);
    if (!vault) {
      error(`vault "${d.vault}" not found, or this token cannot see it`, d.address, d.pos);
      return undefined;
    }
    const st = resources[d.address];
    if (st && st.vaultId !== vault.id) {
      error(`${d.address} is managed in vault ${st.vaultName} (${st.vaultId}) but the manifest now names vault "${d.vault}"; moving items between vaults is not supported: \`opsync state rm\` it and import it again`, d.address, d.pos);
      return undefined;
    }
    let values: Map<string, string>;
    try {
      values = await resolver.values(d);
    } catch (err) {
      if (err instanceof ResolveError) {
        error(err.message, d.address, d.fields.find((f) => f.key === err.field)?.pos ?? d.pos);
        return undefined;
      }
      throw err;
    }
    const digest = desiredDigest(d, values, ctx.key);
    const rotations = rotationsFor(d, st, rotate);
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
    const live = await listing(vault.id);

    const create = (reasons: string[]): ResourceChange => ({ ...base, action: 'create', reasons: [...base.reasons, ...reasons], changes: createChanges(d) });

    if (st) {
      const summary = live.find((s) => s.id === st.itemId);
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
        return compare(d, base, values, full, st, rotations, []);
      }
    }
    // No live item for this address: a new resource, one whose item is gone, or a create (or the create of a
    // replace) that was interrupted. Each goes by title, so none of them creates a second item of that title.
    return planByTitle(d, vault, live, values, rotations, base, create, st);
  }

  async function planByTitle(
    d: DesiredItem,
    vault: Vault,
    live: ItemSummary[],
    values: Map<string, string>,
    rotations: Set<string>,
    base: ResourceChange,
    create: (reasons: string[]) => ResourceChange,
    st: StateResource | undefined,
  ): Promise<ResourceChange | undefined> {
    const pending = req.state.pending[d.address];
    const gone = st && !pending ? { drift: { stateVersion: st.version, liveVersion: 0, liveMissing: true } } : {};
    const newReason = st ? (pending ? 'its create was interrupted' : 'item was deleted outside opsync') : 'new resource';
    const sameTitle = live.filter((s) => s.title === d.title);
    const unmanaged = sameTitle.filter((s) => !managedIds.has(s.id));
    if (unmanaged.length === 0) {
      const other = sameTitle.find((s) => managedIds.has(s.id));
      if (other && desiredByAddress.has(managedIds.get(other.id)!)) {
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
      return { ...create([newReason]), ...gone };
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
    const full = await client.getItem(vault.id, unmanaged[0].id);
    if (pending && !d.adopt) {
      const why = notOurCreate(full, pending.startedAt);
      if (why) {
        error(
          `an interrupted create of ${d.address} was recorded, but the item titled "${d.title}" in vault ${vault.name} (id ${full.id}) is not the one it made: ${why}; ` +
            `if it is yours, adopt it with ${importHint(full.id)}`,
          d.address,
          d.pos,
        );
        return undefined;
      }
    }
    const reason = pending ? 'recovering an interrupted create' : 'adopting an existing item';
    return { ...compare(d, base, values, full, undefined, rotations, [reason]), adopt: true };
  }

  function compare(
    d: DesiredItem,
    base: ResourceChange,
    values: Map<string, string>,
    full: FullItem,
    st: StateResource | undefined,
    rotations: Set<string>,
    reasons: string[],
  ): ResourceChange {
    const diff = diffItem(d, values, full, { rotate: rotations });
    const out: ResourceChange = { ...base, itemId: full.id, plannedVersion: full.version, reasons: [...base.reasons, ...reasons] };
    if (st && full.version !== st.version) {
      out.drift = { stateVersion: st.version, liveVersion: full.version, ...(diff.changes.length === 0 ? { ignored: true } : {}) };
      if (diff.changes.length > 0) out.reasons.push('drift: changed outside opsync');
    }
    if (st && st.digest !== base.desiredDigest) out.reasons.push(st.digest === '' ? 'imported: compared in full' : 'manifest changed');
    if (rotations.size > 0) {
      out.rotate = [...rotations];
      out.reasons.push('rotation requested');
    }
    if (diff.recreate) {
      out.action = 'replace';
      out.changes = diff.changes;
      out.reasons.push('category changed: the item is deleted and created again');
      if (d.protect) error(`${d.address} is protected but its category change would delete and recreate it`, d.address, d.pos);
      if (UNCREATABLE_CATEGORIES.has(d.category)) error(`${d.address}: a category change to ${d.category} would recreate the item, and real Connect refuses to create ${d.category} items`, d.address, d.pos);
      return out;
    }
    if (diff.changes.length === 0) return out;
    out.action = 'update';
    out.changes = diff.changes;
    out.method = diff.needsPut ? 'put' : 'patch';
    if (out.method === 'patch') out.patch = diff.redactedOps;
    return out;
  }

  async function planDelete(st: StateResource): Promise<ResourceChange | undefined> {
    const protect = st.protect || desiredByAddress.get(st.address)?.protect;
    if (protect) {
      error(`${st.address} is protected and would be deleted; set protect: false and apply first, or forget it with \`opsync state rm ${st.address}\``, st.address);
      return undefined;
    }
    let live: ItemSummary[];
    try {
      live = await listing(st.vaultId);
    } catch (err) {
      error(`cannot list vault ${st.vaultName} (${st.vaultId}) to delete ${st.address}: ${(err as Error).message}`, st.address);
      return undefined;
    }
    const summary = live.find((s) => s.id === st.itemId);
    const change: ResourceChange = {
      address: st.address,
      action: 'delete',
      vault: { id: st.vaultId, name: st.vaultName },
      title: summary?.title ?? st.title,
      category: st.category,
      itemId: st.itemId,
      reasons: [mode === 'destroy' ? 'destroy' : 'removed from the manifests'],
      changes: [],
    };
    if (!summary) {
      return { ...change, forgetOnly: true, reasons: ['already deleted outside opsync: only forgotten'], drift: { stateVersion: st.version, liveVersion: 0, liveMissing: true } };
    }
    change.plannedVersion = summary.version;
    if (summary.version !== st.version) change.drift = { stateVersion: st.version, liveVersion: summary.version };
    return change;
  }

  const desiredSet = new Set(desired.map((d) => d.address));
  const deletes = Object.values(resources).filter(
    (r) => inTargets(r.address, targets) && (mode === 'destroy' || !desiredByAddress.has(r.address)) && !desiredSet.has(r.address),
  );
  for (const [address] of Object.entries(req.state.pending)) {
    if (!desiredByAddress.has(address)) {
      diagnostics.push({ severity: 'warning', address, message: `an interrupted create of ${address} was recorded, but the resource left the manifests; check the vault for an item titled "${req.state.pending[address].title}"` });
    }
  }

  const results = await Promise.all([...desired.map(planDesired), ...deletes.map(planDelete)]);
  const changes = results.filter((c): c is ResourceChange => c !== undefined).sort((a, b) => (a.address < b.address ? -1 : a.address > b.address ? 1 : 0));

  return {
    formatVersion: PLAN_FORMAT_VERSION,
    opsyncVersion: VERSION,
    createdAt: new Date().toISOString(),
    connectHost: ctx.connectHost,
    state: { lineage: req.state.lineage, serial: req.state.serial },
    // Relative, so a plan saved in one checkout applies in another.
    manifests: req.manifest.files.map((f) => relative(process.cwd(), f) || f),
    targets,
    rotate,
    mode,
    changes,
    diagnostics,
    summary: summarise(changes),
  };
}
