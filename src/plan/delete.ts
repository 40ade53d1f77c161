// A managed resource that left the manifests (or every one, for destroy): delete it, or only forget it when
// its item is already gone. One that a `removed:` block names is forgotten instead, its item kept (forget.ts).

import type { StateResource } from '../state/types.js';
import { planForget } from './forget.js';
import type { LiveSummary } from './refresh.js';
import type { PlanScope } from './scope.js';
import type { ResourceChange } from './types.js';

export async function planDelete(scope: PlanScope, st: StateResource): Promise<ResourceChange | undefined> {
  const { error, mode } = scope;
  if (scope.removed?.has(st.address)) return planForget(st);
  const protect = st.protect || scope.desiredByAddress.get(st.address)?.protect;
  if (protect) {
    error(`would be deleted, but it is protected; set protect: false and apply first, or forget it with \`opsync state rm ${st.address}\``, st.address);
    return undefined;
  }
  let summary: LiveSummary | undefined;
  try {
    summary = await scope.live.summary(st.vaultId, st.itemId);
  } catch (err) {
    error(`cannot list vault ${st.vaultName} (${st.vaultId}) to delete it: ${(err as Error).message}`, st.address);
    return undefined;
  }
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
