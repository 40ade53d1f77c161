// Judging one managed item against its live copy: drift, manifest change, rotation, and the action that follows.

import type { FullItem } from '../connect/types.js';
import type { DesiredItem } from '../manifest/types.js';
import type { StateResource } from '../state/types.js';
import { diffItem } from './diff.js';
import { UNCREATABLE_CATEGORIES, type PlanScope } from './scope.js';
import type { ResourceChange } from './types.js';

export function compare(
  scope: Pick<PlanScope, 'error'>,
  d: DesiredItem,
  base: ResourceChange,
  values: Map<string, string>,
  full: FullItem,
  st: StateResource | undefined,
  rotations: Set<string>,
  reasons: string[],
): ResourceChange {
  const { error } = scope;
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
