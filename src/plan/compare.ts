// Judging one managed item against its live copy: drift, manifest change, rotation, and the action that follows.

import type { FullItem } from '../connect/types.js';
import type { DesiredItem } from '../manifest/types.js';
import type { StateResource } from '../state/types.js';
import { diffItem, generatedDrift } from './diff.js';
import { fieldDigests } from './digest.js';
import { planReplace } from './replace.js';
import type { PlanScope } from './scope.js';
import type { ResourceChange } from './types.js';

export function compare(
  scope: Pick<PlanScope, 'error' | 'key'>,
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
  // Generated values are known only by the digests the state records: a live one with another digest was
  // changed outside opsync since it last wrote or accepted the item (only possible when live moved).
  const generated = st && full.version !== st.version ? generatedDrift(d, diff.liveFields, st.fields, rotations, scope.key) : [];
  const changes = [...diff.changes, ...generated];
  if (st && full.version !== st.version) {
    out.drift = { stateVersion: st.version, liveVersion: full.version, ...(changes.length === 0 ? { ignored: true } : {}) };
    if (changes.length > 0) out.reasons.push('drift: changed outside opsync');
  }
  if (st && st.digest !== base.desiredDigest) out.reasons.push(st.digest === '' ? 'imported: compared in full' : 'manifest changed');
  if (rotations.size > 0) {
    out.rotate = [...rotations];
    out.reasons.push('rotation requested');
  }
  // Create-before-destroy, carrying over the values opsync does not hold itself (replace.ts).
  if (diff.recreate) return planReplace(scope, d, { ...out, changes: diff.changes }, full, values, rotations, st, 'category');
  if (diff.changes.length === 0) {
    // Nothing to send (a changed generated value cannot be restored, only shown): apply records what the item
    // holds, as digests, and so accepts it.
    out.changes = generated;
    out.fieldDigests = fieldDigests(d, values, diff.liveFields, scope.key);
    return out;
  }
  out.action = 'update';
  out.changes = changes;
  out.method = diff.needsPut ? 'put' : 'patch';
  if (out.method === 'patch') out.patch = diff.redactedOps;
  return out;
}
