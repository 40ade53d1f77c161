// When and how long the Connect client waits before trying a request again.

export interface BackoffPolicy {
  /** First delay, before jitter. */
  baseMs: number;
  /** No delay (backoff or Retry-After) is ever longer than this. */
  maxMs: number;
}

/**
 * Jittered exponential backoff ("equal jitter"): the n-th retry (0-based) waits between half and all of
 * min(max, base * 2^n), so that concurrent clients spread out but never retry at once.
 */
export function backoffDelay(retry: number, policy: BackoffPolicy, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.maxMs, policy.baseMs * 2 ** Math.min(retry, 30));
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}

/**
 * A Retry-After header in milliseconds: delay-seconds or an HTTP-date (RFC 9110 §10.2.3).
 * Returns undefined when absent or unreadable; past dates give 0.
 */
export function parseRetryAfter(value: string | string[] | undefined, now: number = Date.now()): number | undefined {
  const v = (Array.isArray(value) ? value[0] : value)?.trim();
  if (!v) return undefined;
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  if (/^\d+\.\d+$/.test(v)) return Math.round(Number(v) * 1000); // lenient: fractional seconds
  if (!/[a-z]/i.test(v)) return undefined; // an HTTP-date names its month; "-5" is not a date
  const at = Date.parse(v);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - now);
}

/** The delay before the n-th retry: Connect's Retry-After when it gave one, otherwise backoff; capped either way. */
export function retryDelay(
  retry: number,
  policy: BackoffPolicy,
  retryAfterMs: number | undefined,
  random?: () => number,
): number {
  if (retryAfterMs !== undefined) return Math.min(policy.maxMs, retryAfterMs);
  return backoffDelay(retry, policy, random);
}

/** HTTP statuses worth retrying: rate limiting and transient server trouble. */
export const RETRYABLE_STATUSES: ReadonlySet<number> = new Set([409, 429, 500, 502, 503, 504]);

/**
 * 409 Conflict: real Connect refuses a write that overlaps another write to the same vault. Nothing was applied,
 * and the conflict clears as soon as the other write ends, so it is worth more tries than other failures.
 */
export const CONFLICT_RETRIES = 10;
/** The longest wait before retrying a conflict. */
export const CONFLICT_MAX_DELAY_MS = 2000;

/**
 * Statuses that say the request was not processed (a conflict, rate limited, server unavailable), so that retrying even a
 * POST or PATCH cannot apply it twice. A 500, 502 or 504 may come after the work was done (a gateway timing out
 * on a slow upstream), so for non-idempotent methods they are reported as ambiguous instead of retried.
 */
export const NOT_PROCESSED_STATUSES: ReadonlySet<number> = new Set([409, 429, 503]);

/** Methods that can be sent twice with the effect of once. */
export function isIdempotent(method: string): boolean {
  return method === 'GET' || method === 'HEAD' || method === 'PUT' || method === 'DELETE' || method === 'OPTIONS';
}
