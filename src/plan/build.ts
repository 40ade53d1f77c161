// Building a Plan, in stages: `moved` blocks rename state addresses (moves.ts); the live view refreshes what
// the plan needs at the floor (refresh.ts: one vault list, an item list only where a vault moved or a title is
// looked up, a GET only where the fast path cannot tell); each manifest resource is resolved, digested and
// judged (desired.ts, compare.ts); each resource that left the manifests is deleted (delete.ts). Prints nothing.

import type { ConnectClient } from '../connect/client.js';
import type { Manifest } from '../manifest/types.js';
import type { StateFile } from '../state/types.js';
import { assemblePlan } from './assemble.js';
import { planDelete } from './delete.js';
import { planDesired } from './desired.js';
import { removedWarnings } from './forget.js';
import { buildGraph, describeCycle, findCycle } from './graph.js';
import { applyMoves } from './moves.js';
import { createLiveView, type LiveView } from './refresh.js';
import { retiredWarnings } from './replace.js';
import { createResolver } from './resolve.js';
import { clockFromEnv, dueSkippedWarning } from './rotation.js';
import { checkVaults, unknownVaultError } from './unknownVault.js';
import { checkSelection } from './select.js';
import type { PlanScope } from './scope.js';
import { type Plan, type PlanDiagnostic, type ResourceChange } from './types.js';

export interface PlanContext {
  client: ConnectClient;
  env: NodeJS.ProcessEnv;
  /** Digest key (see digest.ts). */
  key: Buffer;
  connectHost: string;
  /** Called with the live view once the plan is made (which vaults were listed): for tests and benchmarks. */
  onLiveView?: (live: LiveView) => void;
  /** Called with (0, total) first, then as each resource is refreshed and judged: progress for a terminal. */
  onProgress?: (done: number, total: number) => void;
  /** Called as each resource is refreshed and judged, with its change (undefined: it has an error): `--json-stream`. */
  onResource?: (address: string, change: ResourceChange | undefined, done: number, total: number) => void;
  /** The clock rotation policies are judged by (default: OPSYNC_NOW from env, a testing aid, else real time). */
  now?: () => Date;
}

export interface PlanRequest {
  manifest: Manifest;
  state: StateFile;
  /** Addresses, or vault prefixes ("Production"), to limit the plan to. */
  targets?: string[];
  /** "ADDRESS" (every generated field) or "ADDRESS:FIELD". */
  rotate?: string[];
  /** Addresses to replace (create-before-destroy) although nothing requires it. */
  replace?: string[];
  mode?: 'normal' | 'destroy';
  /** false (--no-rotate-due): rotations whose policy is due are left out of this plan, with a warning. Default true. */
  rotateDue?: boolean;
}

export function inTargets(address: string, targets: readonly string[]): boolean {
  return targets.length === 0 || targets.some((t) => address === t || address.startsWith(t.endsWith('/') ? t : `${t}/`));
}

export async function makePlan(ctx: PlanContext, req: PlanRequest): Promise<Plan> {
  const { client } = ctx;
  const targets = req.targets ?? [];
  const rotate = req.rotate ?? [];
  const mode = req.mode ?? 'normal';
  const diagnostics: PlanDiagnostic[] = [];
  const error = (message: string, address?: string, pos?: PlanDiagnostic['pos']) =>
    diagnostics.push({ severity: 'error', message, ...(address ? { address } : {}), ...(pos ? { pos } : {}) });

  const { resources, movedFrom } = applyMoves(req.state.resources, req.manifest.moved, error);

  // A target, rotation or replacement that names nothing is an error with the closest names, and then nothing
  // is planned or refreshed (select.ts).
  const unselected = checkSelection({ items: req.manifest.items, resources, targets, rotate, replace: req.replace });
  for (const message of unselected) error(message);

  const desired = mode === 'destroy' || unselected.length > 0 ? [] : req.manifest.items.filter((i) => inTargets(i.address, targets));
  const desiredByAddress = new Map(req.manifest.items.map((i) => [i.address, i]));

  // Over every manifest item (a dependency may be outside --target), with vaults and items as the state knows
  // them, so a reference by id is an edge too.
  const graph = buildGraph(mode === 'destroy' ? [] : req.manifest.items, {
    vaultIds: new Map(Object.values(resources).map((r) => [r.address, r.vaultId])),
    itemIds: new Map(Object.values(resources).map((r) => [r.address, r.itemId])),
  });
  const cycle = findCycle(graph);
  if (cycle) {
    const { message, pos } = describeCycle(cycle);
    error(message, cycle[0].from, pos);
  }

  const live = createLiveView(client, req.state);
  const scope: PlanScope = {
    client,
    key: ctx.key,
    live,
    resolver: createResolver(client, ctx.env, live.vaults),
    state: req.state,
    resources,
    movedFrom,
    desiredByAddress,
    removed: new Set((req.manifest.removed ?? []).map((r) => r.from)),
    managedIds: new Map(Object.values(resources).map((r) => [r.itemId, r.address])),
    rotate,
    rotation: { now: (ctx.now ?? clockFromEnv(ctx.env))(), policies: req.manifest.rotation ?? {}, include: req.rotateDue !== false, skipped: [] },
    replace: req.replace ?? [],
    mode,
    graph: cycle ? buildGraph([]) : graph,
    planned: new Map(),
    resolved: new Map(),
    error,
  };

  const desiredSet = new Set(desired.map((d) => d.address));
  const leaving = (unselected.length > 0 ? [] : Object.values(resources)).filter(
    (r) => inTargets(r.address, targets) && (mode === 'destroy' || !desiredByAddress.has(r.address)) && !desiredSet.has(r.address),
  );
  // A vault the token cannot see is one error at its `vault:` line, its items unplanned; and while one is
  // unknown, nothing is deleted from a vault no found manifest vault is: it is likely the vault meant.
  const vaults = mode === 'destroy' || unselected.length > 0 || req.manifest.items.length === 0 ? undefined : await checkVaults(live, req.manifest.items);
  const deletes = vaults?.unknown.size ? leaving.filter((r) => vaults.found.has(r.vaultId)) : leaving;
  for (const [name, items] of vaults?.unknown ?? []) {
    if (deletes.length === leaving.length && !items.some((i) => desiredSet.has(i.address))) continue; // not targeted: no matter
    const { message, pos } = await unknownVaultError(live, name, items);
    error(message, undefined, pos);
  }
  diagnostics.push(...removedWarnings(req.manifest.removed ?? [], resources, req.state));
  for (const [address] of Object.entries(req.state.pending)) {
    if (!desiredByAddress.has(address)) {
      diagnostics.push({ severity: 'warning', address, message: `an interrupted create was recorded, but the resource left the manifests; check the vault for an item titled "${req.state.pending[address].title}"` });
    }
  }
  diagnostics.push(...retiredWarnings(deletes));
  if (req.state.connectMovedFrom && req.state.connect) {
    diagnostics.push({
      severity: 'warning',
      message: `the state was re-pointed from ${req.state.connectMovedFrom} to ${req.state.connect} (opsync state set-connect): items are matched by the ids it holds, as before; the next apply stops saying this`,
    });
  }

  const total = desired.length + deletes.length;
  let done = 0;
  const counted = (address: string, p: Promise<ResourceChange | undefined>) =>
    ctx.onProgress || ctx.onResource ? p.then((r) => (++done, ctx.onProgress?.(done, total), ctx.onResource?.(address, r, done, total), r)) : p;
  ctx.onProgress?.(0, total);
  // Every resource's promise is registered before any starts: a dependent waits for what it references,
  // wherever it is declared.
  const start = new Map<string, (change: Promise<ResourceChange | undefined>) => void>();
  for (const d of cycle ? [] : desired) scope.planned.set(d.address, new Promise((resolve) => start.set(d.address, resolve)));
  for (const d of cycle ? [] : desired) start.get(d.address)!(counted(d.address, planDesired(scope, d)));
  const results = await Promise.all([...scope.planned.values(), ...deletes.map((st) => counted(st.address, planDelete(scope, st)))]);
  const changes = results.filter((c): c is ResourceChange => c !== undefined).sort((a, b) => (a.address < b.address ? -1 : a.address > b.address ? 1 : 0));
  ctx.onLiveView?.(live);
  const skipped = scope.rotation?.skipped ?? [];
  if (skipped.length > 0) diagnostics.push(dueSkippedWarning(skipped));

  return assemblePlan({ connectHost: ctx.connectHost, state: req.state, manifestFiles: req.manifest.files, targets, rotate, replace: req.replace ?? [], mode, changes, diagnostics });
}
