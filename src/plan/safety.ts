// Safety limits, after octoDNS: a plan that deletes or replaces too large a share of the managed items is
// refused by apply unless forced. Pure: the caller decides what a violation does.

import type { Plan } from './types.js';

export interface SafetyLimits {
  /** Largest share of the managed items a plan may delete, in percent. */
  maxDeletePercent: number;
  /** Largest share of the managed items a plan may replace (delete and create again), in percent. */
  maxReplacePercent: number;
  /** Fewer deletes (or replaces) than this never trip a limit. */
  minItems: number;
}

export const DEFAULT_SAFETY: SafetyLimits = { maxDeletePercent: 10, maxReplacePercent: 10, minItems: 3 };

export interface SafetyViolation {
  action: 'delete' | 'replace';
  count: number;
  managed: number;
  /** count / managed, in percent. */
  percent: number;
  limit: number;
  message: string;
}

const pct = (n: number) => `${Number.isInteger(n) ? n : n.toFixed(1)}%`;

/**
 * The limits a plan breaks. `managed` is the number of items in state when the plan was made. Destroy
 * plans are exempt (destroying is what was asked); deletes of items already gone only forget them, and
 * forgets (`removed:` blocks) delete nothing: neither counts.
 */
export function checkSafety(plan: Plan, managed: number, limits: SafetyLimits): SafetyViolation[] {
  if (plan.mode === 'destroy' || managed === 0) return [];
  const out: SafetyViolation[] = [];
  const counts = {
    delete: plan.changes.filter((c) => c.action === 'delete' && !c.forgetOnly).length,
    replace: plan.changes.filter((c) => c.action === 'replace').length,
  };
  for (const action of ['delete', 'replace'] as const) {
    const count = counts[action];
    const limit = action === 'delete' ? limits.maxDeletePercent : limits.maxReplacePercent;
    const percent = (count / managed) * 100;
    if (count < limits.minItems || percent <= limit) continue;
    const setting = action === 'delete' ? 'maxDeletePercent' : 'maxReplacePercent';
    out.push({
      action,
      count,
      managed,
      percent,
      limit,
      message:
        `the plan ${action}s ${count} of ${managed} managed item(s) (${pct(percent)}), over the ${action} limit of ${pct(limit)} ` +
        `by ${pct(percent - limit)} (safety.${setting} in opsync.yaml; only ${limits.minItems} or more ${action}s count)`,
    });
  }
  return out;
}
