// `moved` blocks rename state addresses before anything is compared.

import type { Manifest } from '../manifest/types.js';
import type { StateResource } from '../state/types.js';
import type { PlanScope } from './scope.js';

export function applyMoves(
  stateResources: Readonly<Record<string, StateResource>>,
  moved: Manifest['moved'],
  error: PlanScope['error'],
): { resources: Record<string, StateResource>; movedFrom: Map<string, string> } {
  const resources: Record<string, StateResource> = { ...stateResources };
  const movedFrom = new Map<string, string>();
  for (const m of moved) {
    if (!resources[m.from]) continue;
    if (resources[m.to]) {
      error(`moved: both ${m.from} and ${m.to} are in state; remove one with \`opsync state rm\``, m.to, m.pos);
      continue;
    }
    resources[m.to] = { ...resources[m.from], address: m.to };
    delete resources[m.from];
    movedFrom.set(m.to, m.from);
  }
  return { resources, movedFrom };
}
