// `removed:` blocks: a resource that left the manifests and that a `removed:` block names is forgotten (dropped
// from the state) instead of deleted; its item stays in Connect as it is. No request is needed to plan it, and
// apply sends none. A protected resource can be forgotten: forgetting deletes nothing.

import type { RemovedBlock } from '../manifest/types.js';
import type { StateFile, StateResource } from '../state/types.js';
import type { PlanDiagnostic, ResourceChange } from './types.js';

export function planForget(st: StateResource): ResourceChange {
  return {
    address: st.address,
    action: 'forget',
    vault: { id: st.vaultId, name: st.vaultName },
    title: st.title,
    category: st.category,
    itemId: st.itemId,
    reasons: ['named by a removed: block'],
    changes: [],
    ...(st.protect ? { protect: true } : {}),
  };
}

/**
 * A `removed:` entry for an address the state does not manage (after `moved` blocks) forgets nothing: a
 * warning, so a typo does not pass silently while the resource it meant is deleted.
 */
export function removedWarnings(
  removed: readonly RemovedBlock[],
  resources: Readonly<Record<string, StateResource>>,
  state: Pick<StateFile, 'pending'>,
): PlanDiagnostic[] {
  const out: PlanDiagnostic[] = [];
  for (const r of removed) {
    if (resources[r.from]) continue;
    const pending = state.pending[r.from] ? '; only an interrupted create is recorded for it: `opsync state rm` drops that' : '';
    out.push({ severity: 'warning', address: r.from, message: `a removed: block names it, but it is not in the state, so there is nothing to forget${pending}`, pos: r.pos });
  }
  return out;
}
