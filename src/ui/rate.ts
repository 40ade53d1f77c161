// Rate and ETA of long work (apply operations, plan refresh): pure, on an injected clock, so tests never sleep.
//
// The rate is measured over a sliding window of recent samples (the last 10 s by default), so it follows the
// current speed (a server that slows down, a back-off) rather than the average since the start; until the
// window spans a second, the average since the start stands in. No rate (and no ETA) before anything is done.

export interface RateSnapshot {
  done: number;
  total: number;
  elapsedMs: number;
  /** Units per second; undefined until something is done and time has passed. */
  perSecond?: number;
  /** Time left at the current rate; undefined without a rate, 0 when everything is done. */
  etaMs?: number;
}

export interface RateMeter {
  /** Record how many units are done now (a count, not an increment), and the total if it has changed. */
  update(done: number, total?: number): void;
  snapshot(): RateSnapshot;
}

export interface RateOptions {
  now?: () => number;
  /** Width of the sliding window the rate is measured over. */
  windowMs?: number;
}

export function createRateMeter(total: number, opts: RateOptions = {}): RateMeter {
  const now = opts.now ?? Date.now;
  const windowMs = opts.windowMs ?? 10_000;
  const started = now();
  // Samples (time, done), oldest first; at most one per millisecond, trimmed to the window.
  const samples: { t: number; done: number }[] = [{ t: started, done: 0 }];
  let done = 0;
  return {
    update(n: number, newTotal?: number) {
      done = n;
      if (newTotal !== undefined) total = newTotal;
      const t = now();
      const last = samples[samples.length - 1];
      if (last.t === t) last.done = n;
      else samples.push({ t, done: n });
      // Keep one sample at or before the window's start, so the window is always covered.
      while (samples.length > 2 && samples[1].t <= t - windowMs) samples.shift();
    },
    snapshot(): RateSnapshot {
      const t = now();
      const elapsedMs = Math.max(0, t - started);
      const snap: RateSnapshot = { done, total, elapsedMs };
      if (done >= total) {
        if (elapsedMs > 0 && done > 0) snap.perSecond = (done * 1000) / elapsedMs;
        snap.etaMs = 0;
        return snap;
      }
      const first = samples[0];
      const span = t - first.t;
      // The window once it spans a second (from the start, it is the average since the start).
      const perSecond = span >= 1000 ? ((done - first.done) * 1000) / span : elapsedMs > 0 ? (done * 1000) / elapsedMs : 0;
      if (done > 0 && perSecond > 0) {
        snap.perSecond = perSecond;
        snap.etaMs = ((total - done) / perSecond) * 1000;
      }
      return snap;
    },
  };
}

/** `1,234` (grouped, as the figures of a progress line are read at a glance). */
export function formatCount(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

/** `37/s`, `4.2/s`, `0.3/s`: two significant figures below 10, whole numbers above. */
export function formatRate(perSecond: number | undefined): string {
  if (perSecond === undefined) return '-/s';
  if (perSecond >= 10) return `${formatCount(perSecond)}/s`;
  if (perSecond >= 1) return `${perSecond.toFixed(1)}/s`;
  return `${perSecond.toFixed(2)}/s`;
}

/** A duration to the second: `<1s`, `45s`, `2m05s`, `1h02m`. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return '<1s';
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  const m = Math.round(s / 60);
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}

/** `ETA 48s`, `ETA ?` before a rate is known, `ETA 0s` at the end. */
export function formatEta(etaMs: number | undefined): string {
  if (etaMs === undefined) return 'ETA ?';
  if (etaMs === 0) return 'ETA 0s';
  return `ETA ${formatDuration(etaMs)}`;
}

/** Whole percent, never 100 before the end: `40%`. */
export function percent(done: number, total: number): number {
  if (total <= 0) return 100;
  const p = Math.floor((done * 100) / total);
  return done < total ? Math.min(p, 99) : 100;
}
