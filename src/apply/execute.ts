// Carrying out a Plan. Each operation is checked against the live version it was planned on, values are
// resolved again and must match the plan's digest, and the state is journaled after every completed operation
// (store.change: durable when awaited; a create's result with store.note, committed lazily). A create is
// recorded as pending, durably, before it is sent (its record declared ahead of it, pending.ts), so a crash at
// any moment converges on the next apply.

import type { ConnectClient } from '../connect/client.js';
import { ConnectError } from '../connect/errors.js';
import type { FullItem } from '../connect/types.js';
import type { DesiredItem } from '../manifest/types.js';
import { KNOWN_AFTER_APPLY } from '../plan/dependencies.js';
import { desiredDigest, fieldDigests } from '../plan/digest.js';
import { createBody, diffItem, liveFieldsOf } from '../plan/diff.js';
import { notOurCreate } from '../plan/recovery.js';
import { recordVaultVersions } from '../plan/refresh.js';
import { createResolver, ResolveError } from '../plan/resolve.js';
import { clockFromEnv, generatedAtToRecord, generatedByBody } from '../plan/rotation.js';
import { changesStateOnly, type Plan, type ResourceChange } from '../plan/types.js';
import type { StateHandle } from '../state/handle.js';
import type { StateChange } from '../state/journal.js';
import type { RetiredItem, StateResource } from '../state/types.js';
import { copiedValues } from './copied.js';
import { applyReplace, type ReplaceCreate } from './replace.js';
import { PendingAhead } from './pending.js';
import { interleave, runInGraphOrder } from './schedule.js';
import type { ApplyOptions, ApplyResult } from './types.js';

export interface ApplyContext {
  client: ConnectClient;
  env: NodeJS.ProcessEnv;
  key: Buffer;
  store: StateHandle;
  /** The clock for the generation times the state records (default: OPSYNC_NOW from env, else real time). */
  now?: () => Date;
}

export class StalePlanError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StalePlanError';
  }
}

/** Refuse a plan made against another state than the one now on disk. */
export function checkPlanFresh(plan: Plan, store: Pick<StateHandle, 'state' | 'name'>): void {
  const s = store.state;
  const fresh = s.serial === 0 && plan.state.serial === 0;
  if (!fresh && (s.lineage !== plan.state.lineage || s.serial !== plan.state.serial)) {
    throw new StalePlanError(
      s.lineage !== plan.state.lineage
        ? `the plan was made against another state (lineage ${plan.state.lineage}, this state is ${s.lineage}); plan again`
        : `the state changed since the plan was made (serial ${plan.state.serial}, now ${s.serial}); plan again`,
    );
  }
  if (plan.diagnostics.some((d) => d.severity === 'error')) throw new StalePlanError('the plan has errors; fix them and plan again');
}

class OpError extends Error {}

function describe(err: unknown): string {
  if (err instanceof ConnectError || err instanceof OpError) return err.message;
  if (err instanceof ResolveError) return err.detail; // shown after the address already
  return err instanceof Error ? err.message : String(err);
}

export async function applyPlan(ctx: ApplyContext, plan: Plan, opts: ApplyOptions): Promise<ApplyResult> {
  const started = Date.now();
  const { client, store } = ctx;
  checkPlanFresh(plan, store);
  if (store.state.serial === 0 && store.state.lineage !== plan.state.lineage) {
    await store.update((s) => {
      s.lineage = plan.state.lineage;
    });
  }
  const vaultList = client.listVaults();
  vaultList.catch(() => undefined);
  const resolver = createResolver(client, ctx.env, () => vaultList);
  const result: ApplyResult = { done: [], failed: [], skipped: [], interrupted: false, elapsedMs: 0 };
  const emit = opts.onEvent ?? (() => undefined);
  const now = ctx.now ?? clockFromEnv(ctx.env);

  /** The values each change wrote (set by valuesFor), for the field digests of its state entry. */
  const written = new WeakMap<ResourceChange, ReadonlyMap<string, string>>();
  /**
   * `generated`: the fields this write had Connect generate (create, rotation, a replace's regenerated ones), whose
   * generation time is now; the others keep theirs.
   */
  const record = (change: ResourceChange, item: FullItem, desired: DesiredItem, digest?: string, retired?: RetiredItem[], generated?: ReadonlySet<string>) =>
    store.change(resourceRecord(change, item, desired, digest, retired, generated));
  function resourceRecord(change: ResourceChange, item: FullItem, desired: DesiredItem, digest = change.desiredDigest, retired?: RetiredItem[], generated: ReadonlySet<string> = new Set()): StateChange {
    const prev = store.state.resources[change.movedFrom ?? change.address];
    const generatedAt = generatedAtToRecord(desired, prev, generated, now());
    const rotations: Record<string, string> = {};
    for (const f of desired.fields) if (f.source.kind === 'generate') rotations[f.key] = f.source.rotate ?? '';
    // Field digests: of a write, from Connect's answer (generated values) and the values written; of a noop, as
    // the plan saw live (accepting a generated value changed by hand); of a state-only noop, as recorded.
    const values = written.get(change);
    const fields =
      values && item.fields
        ? fieldDigests(desired, values, liveFieldsOf(desired, item), ctx.key)
        : (change.fieldDigests ?? prev?.fields ?? {});
    const entry: StateResource = {
      address: change.address,
      vaultId: item.vault.id,
      vaultName: change.vault.name,
      itemId: item.id,
      title: item.title,
      category: item.category,
      version: item.version,
      digest: digest ?? '',
      ...(Object.keys(fields).length ? { fields } : {}),
      ...(Object.keys(rotations).length ? { rotations } : {}),
      ...(generatedAt ? { generatedAt } : {}),
      ...(desired.protect ? { protect: true } : {}),
      ...(retired?.length ? { retired } : {}),
      updatedAt: new Date().toISOString(),
    };
    return { op: 'resource', resource: entry, ...(change.movedFrom ? { movedFrom: change.movedFrom } : {}) };
  }

  const copied = copiedValues({ client, store, resolver, changes: plan.changes, fail: (m) => new OpError(m) });
  /**
   * The values to write, which must be the ones planned: fields `(known after apply)` aside, copied from what
   * this apply just wrote. The state records the digest of what is written, so the next plan is a no-op.
   */
  const valuesFor = async (change: ResourceChange) => {
    const desired = change.desired!;
    const { values, after } = await copied.valuesOf(change);
    const masked = after.size === 0 ? values : new Map([...values].map(([k, v]) => [k, after.has(k) ? KNOWN_AFTER_APPLY : v]));
    if (desiredDigest(desired, masked, ctx.key) !== change.desiredDigest) {
      throw new OpError('desired values changed since the plan was made (environment, files or references differ); plan again');
    }
    written.set(change, values);
    return { desired, values, digest: after.size === 0 ? change.desiredDigest : desiredDigest(desired, values, ctx.key) };
  };

  const liveAtPlannedVersion = async (change: ResourceChange): Promise<FullItem> => {
    let live = await client.getItem(change.vault.id!, change.itemId!);
    // An older version than planned is a read that lags a write (eventual consistency), not a change.
    if (live.version < change.plannedVersion!) live = (await client.getItemSettled(change.vault.id!, change.itemId!, change.plannedVersion!)) ?? live;
    if (live.version !== change.plannedVersion) {
      throw new OpError(`item changed since the plan was made (live version ${live.version}, planned on ${change.plannedVersion}); plan again`);
    }
    return live;
  };

  /**
   * Create, recorded as pending first. If the answer was lost (reset, timeout), find what Connect created instead
   * of sending it twice; if Connect refused it, nothing was created and the pending record goes.
   */
  const create = async (change: ResourceChange, desired: DesiredItem, values: Map<string, string>, replace?: ReplaceCreate): Promise<FullItem> => {
    const vaultId = change.vault.id!;
    // The create of a replace (src/apply/replace.ts) sends its own body and says which item it replaces.
    const title = replace?.body.title ?? desired.title;
    await pending.declare(change, title, replace?.replaces);
    // Read after the wait: a record declared ahead was made before this create's turn, never after its request.
    const startedAt = store.state.pending[change.address]?.startedAt ?? new Date().toISOString();
    pending.sent(change);
    try {
      return await client.createItem(vaultId, replace?.body ?? createBody(desired, values));
    } catch (err) {
      if (!(err instanceof ConnectError) || !err.ambiguous) {
        // Refused: a later apply must not take a same-titled item for the one this create made.
        await store.change({ op: 'settle', address: change.address });
        throw err;
      }
      const managed = new Set(Object.values(store.state.resources).map((r) => r.itemId));
      // A title filter right after a create may not show it yet: look again for a while before giving up.
      const found = (await client.findItemsByTitleSettled(vaultId, title)).filter((s) => !managed.has(s.id));
      if (found.length !== 1) throw err;
      const item = await client.getItem(vaultId, found[0].id);
      // Somebody else's item of that title is left alone; the pending record stays for the next plan to explain.
      if (notOurCreate(item, startedAt)) throw err;
      return item;
    }
  };

  const forget = (address: string) => store.change({ op: 'forget', address });

  // Deletes first (a title may be freed for a create), then everything else in graph order: a resource after
  // those it copies values from (src/apply/schedule.ts), independent ones in parallel; each phase bounded. Within
  // a phase, in turns across vaults: writes started together go to different vaults (Connect locks a vault per write).
  const byVault = (c: ResourceChange) => c.vault.id ?? c.vault.name;
  const phases = [plan.changes.filter((c) => c.action === 'delete'), plan.changes.filter((c) => c.action !== 'delete')].map((p) => interleave(p, byVault));
  // Plain creates that wait for nothing start in that order: their pending records are declared ahead (pending.ts).
  const line = phases[1].filter((c) => c.action === 'create' && !(c.refs ?? []).length);
  const pending = new PendingAhead(store, line, Math.max(32, 4 * opts.parallelism));

  async function run(change: ResourceChange): Promise<void> {
    switch (change.action) {
      case 'noop': {
        const st = store.state.resources[change.movedFrom ?? change.address];
        if (st && !change.adopt && st.version === change.plannedVersion && st.digest === change.desiredDigest && !changesStateOnly(change)) return;
        // State-only: live already matches; record what the plan saw, without another request.
        const seen = { id: change.itemId!, version: change.plannedVersion!, title: change.title, category: change.category, vault: { id: change.vault.id! } };
        await record(change, seen as FullItem, change.desired!);
        return;
      }
      case 'create': {
        const { desired, values, digest } = await valuesFor(change);
        const created = await create(change, desired, values);
        // Not awaited, and committed lazily: the pending record, durable before the request went out, covers a
        // crash until this one is (a later group commit, or the flush at the end); so a create waits for no fsync
        // of its own (its pending record was declared ahead, pending.ts) and shares one with many others.
        void store.note(resourceRecord(change, created, desired, digest, undefined, new Set(desired.fields.filter((f) => f.source.kind === 'generate').map((f) => f.key))));
        return;
      }
      case 'update': {
        const live = await liveAtPlannedVersion(change);
        const { desired, values, digest } = await valuesFor(change);
        const diff = diffItem(desired, values, live, { rotate: new Set(change.rotate ?? []) });
        if (diff.recreate) throw new OpError('the item now needs to be recreated; plan again');
        const method = diff.needsPut ? 'put' : 'patch';
        const updated =
          diff.changes.length === 0
            ? live
            : method === 'put'
              ? await client.replaceItem(change.vault.id!, live.id, diff.put)
              : await client.patchItem(change.vault.id!, live.id, diff.ops);
        // Real Connect answers a PUT with the version from before it: a write is one version on, whatever it says.
        const version = diff.changes.length === 0 ? live.version : Math.max(updated.version, live.version + 1);
        await record(change, { ...updated, version }, desired, digest, undefined, method === 'put' && diff.changes.length > 0 ? generatedByBody(desired, diff.put.fields) : undefined);
        return;
      }
      case 'replace':
        // Create-before-destroy, carrying over what opsync does not hold (src/apply/replace.ts).
        return applyReplace({ client, liveAtPlannedVersion, valuesFor, create, record }, change);
      case 'delete': {
        if (!change.forgetOnly) {
          await liveAtPlannedVersion(change).catch((err: unknown) => {
            if (err instanceof ConnectError && err.status === 404) return undefined;
            throw err;
          });
          await deleteItem(change);
        }
        await forget(change.address);
        return;
      }
      case 'forget':
        // A removed: block: only the state entry goes; nothing is sent, the item stays as it is.
        await forget(change.address);
        return;
    }
  }

  async function deleteItem(change: ResourceChange): Promise<void> {
    try {
      await client.deleteItem(change.vault.id!, change.itemId!);
    } catch (err) {
      if (!(err instanceof ConnectError && err.status === 404)) throw err;
    }
  }

  const visible = (c: ResourceChange) => c.action !== 'noop';
  for (const phase of phases) {
    await runInGraphOrder(
      phase.map((change) => ({ address: change.address, after: (change.refs ?? []).map((r) => r.on), change })),
      {
        parallelism: opts.parallelism,
        stop: () => {
          if (!opts.signal?.aborted) return undefined;
          result.interrupted = true;
          return 'interrupted';
        },
        skip: ({ change }, reason) => {
          if (!visible(change)) return;
          result.skipped.push({ address: change.address, action: change.action, reason });
          emit({ type: 'skipped', address: change.address, action: change.action, reason });
        },
        run: async ({ change }) => {
          if (visible(change)) emit({ type: 'start', address: change.address, action: change.action });
          await run(change);
          if (visible(change)) {
            result.done.push({ address: change.address, action: change.action });
            emit({ type: 'done', address: change.address, action: change.action, itemId: store.state.resources[change.address]?.itemId, version: store.state.resources[change.address]?.version });
          }
        },
        failed: ({ change }, err) => {
          const error = describe(err);
          result.failed.push({ address: change.address, action: change.action, error });
          emit({ type: 'failed', address: change.address, action: change.action, error });
        },
      },
    );
  }
  // Each vault the plan touched: its contentVersion, where the state now matches live, so that the next plan
  // of an unmoved vault costs no item list (src/plan/refresh.ts). Skipped when interrupted: it only saves requests.
  await pending.settleUnsent();
  await store.flush(); // every record durable (creates do not wait for theirs) before the apply says it is done
  if (!result.interrupted) await recordVaultVersions(client, store, plan.changes);
  result.elapsedMs = Date.now() - started;
  return result;
}
