// Pacing writes to stay under a service account's write budget (opsync.yaml `budget.writesPerHour`, or
// `apply --max-writes-per-second`): a token bucket every write attempt of a client takes a token from before it
// is sent, retries included, whichever vault or operation it is for. The clock and the sleep are injected, so
// unit tests never wait for real.

import { setTimeout as sleep } from 'node:timers/promises';

export interface PacingClock {
  /** Milliseconds, monotonic. */
  now(): number;
  sleep(ms: number): Promise<void>;
}

export const REAL_CLOCK: PacingClock = { now: () => performance.now(), sleep: (ms) => sleep(ms) };

/** What the transport asks before each write it sends. */
export interface WritePacer {
  take(): Promise<void>;
}

/**
 * A token bucket of `capacity` tokens (default 1: no burst, writes evenly spaced), refilled at `perSecond`.
 * A take with no token left reserves the next one (the count goes below zero) and sleeps until it is due, so
 * concurrent takers are served in the order they asked, each one interval after the other.
 */
export class TokenBucket implements WritePacer {
  private tokens: number;
  private last: number;
  private readonly intervalMs: number;

  constructor(
    readonly perSecond: number,
    private readonly capacity = 1,
    private readonly clock: PacingClock = REAL_CLOCK,
  ) {
    if (!(perSecond > 0) || !Number.isFinite(perSecond)) throw new RangeError(`write pacing must be a positive number of writes a second, got ${perSecond}`);
    if (!(capacity >= 1)) throw new RangeError(`token bucket capacity must be at least 1, got ${capacity}`);
    this.intervalMs = 1000 / perSecond;
    this.tokens = capacity;
    this.last = clock.now();
  }

  /** Milliseconds a take made now would wait (0 with a token in hand). */
  waitMs(): number {
    const tokens = this.refilled(this.clock.now());
    return tokens >= 1 ? 0 : (1 - tokens) * this.intervalMs;
  }

  async take(): Promise<void> {
    const now = this.clock.now();
    this.tokens = this.refilled(now) - 1;
    this.last = now;
    if (this.tokens < 0) await this.clock.sleep(-this.tokens * this.intervalMs);
  }

  private refilled(now: number): number {
    return Math.min(this.capacity, this.tokens + (now - this.last) / this.intervalMs);
  }
}

/** writesPerHour as a pace in writes a second. */
export function perSecondOfHourly(writesPerHour: number): number {
  return writesPerHour / 3600;
}

/**
 * How long `writes` writes take at `perSecond` from a full bucket of one token: the first goes at once, each
 * other one interval later. In milliseconds.
 */
export function pacedDurationMs(writes: number, perSecond: number): number {
  return writes <= 1 ? 0 : ((writes - 1) / perSecond) * 1000;
}

/** `0.33/s`, `5/s`, `12.5/s`: two significant digits below 10 a second. */
export function formatPace(perSecond: number): string {
  const n = perSecond < 10 ? Number(perSecond.toPrecision(2)) : Math.round(perSecond * 10) / 10;
  return `${n}/s`;
}

/** `about 1 h 12 min`, `about 4 min`, `about 12 s`, `under a second`: how long, for a person. */
export function aboutDuration(ms: number): string {
  if (ms < 1000) return 'under a second';
  const s = Math.round(ms / 1000);
  if (s < 60) return `about ${s} s`;
  const min = Math.round(s / 60);
  if (min < 60) return `about ${min} min`;
  const h = Math.floor(min / 60);
  const rest = min % 60;
  return `about ${h} h${rest ? ` ${rest} min` : ''}`;
}
