// `moved` blocks rename state addresses before anything is compared. A rename never moves an item between
// vaults: a resource's vault is the vault id the state records, and an address names it by name only as a
// key, so a manifest resource whose vault resolves to another id is refused (crossVaultError, from desired.ts),
// whether a `moved` block or `opsync state mv` renamed it, and nothing is deleted or created for it.

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
      error(`moved from ${m.from}, but both addresses are in state; remove one with \`opsync state rm\``, m.to, m.pos);
      continue;
    }
    resources[m.to] = { ...resources[m.from], address: m.to };
    delete resources[m.from];
    movedFrom.set(m.to, m.from);
  }
  return { resources, movedFrom };
}

/**
 * Why a manifest resource cannot be planned in the vault it names: the state manages it in another (by id).
 * One rule, said the same way as `opsync state mv` says it: addresses move within a vault, items do not.
 */
export function crossVaultError(
  address: string,
  st: Pick<StateResource, 'vaultId' | 'vaultName'>,
  manifestVault: string,
  movedFrom: string | undefined,
): string {
  const how = movedFrom
    ? `the moved block from ${movedFrom} crosses vaults: rename within vault ${st.vaultName} (or to its new name), or move the item in 1Password, then \`opsync state rm ${movedFrom}\` and \`opsync import\` it`
    : `keep its address in vault ${st.vaultName}, or move the item in 1Password, then \`opsync state rm ${address}\` and \`opsync import\` it`;
  return `its item is managed in vault ${st.vaultName} (id ${st.vaultId}) but the manifest names vault "${manifestVault}"; moving items between vaults is not supported: ${how}`;
}
