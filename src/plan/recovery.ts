// Recovering an interrupted create: a create whose answer never arrived (a crash, a reset, a timeout) may still
// have made the item. opsync adopts what it finds only when the item is, beyond reasonable doubt, its own: the one
// unmanaged item of that title in the vault, created while the create was in flight. Anything else — somebody
// else's item of the same title, one made long before or after — is never taken over: the user imports it.

import type { FullItem } from '../connect/types.js';

/** How much earlier than the pending record an item may say it was created (clocks of two machines differ). */
export const RECOVERY_CLOCK_SKEW_MS = 60_000;
/** How long after the pending record an in-flight create may still have landed (timeouts, slow proxies). */
export const RECOVERY_WINDOW_MS = 10 * 60_000;

/** Why `item` is not the one an interrupted create started at `startedAt` made, or undefined when it is. */
export function notOurCreate(item: Pick<FullItem, 'createdAt'>, startedAt: string): string | undefined {
  const started = Date.parse(startedAt);
  const created = item.createdAt ? Date.parse(item.createdAt) : NaN;
  if (Number.isNaN(started) || Number.isNaN(created)) return 'its creation time is unknown';
  if (created < started - RECOVERY_CLOCK_SKEW_MS) return `it was created at ${item.createdAt}, before opsync's create started (${startedAt})`;
  if (created > started + RECOVERY_WINDOW_MS) return `it was created at ${item.createdAt}, long after opsync's create started (${startedAt})`;
  return undefined;
}
