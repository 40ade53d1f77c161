// One status line redrawn in place on a terminal's stderr (plan refresh progress: `refreshing 1,200/3,000
// items`). Only on a TTY outside CI: in a pipe or a CI log a redrawn line is noise, so there it draws nothing.

import isInCi from 'is-in-ci';
import { formatCount, percent } from './rate.js';

export interface StatusStream {
  isTTY?: boolean;
  columns?: number;
  write(text: string): unknown;
}

export interface StatusLine {
  /** Draw `text` over the previous status (at most every minIntervalMs, unless `force`). */
  update(text: string, force?: boolean): void;
  /** Erase the status, so what follows starts on a clean line. */
  clear(): void;
}

export interface StatusOptions {
  /** Default: the is-in-ci rule (CI or CONTINUOUS_INTEGRATION set and not 0/false), as for Ink. */
  ci?: boolean;
  now?: () => number;
  /** Redraws closer than this are dropped (thousands of updates must not flood the terminal). */
  minIntervalMs?: number;
}

const ERASE_LINE = '\r\u001B[2K';

/** A status line on `stream`, or undefined where none should be drawn (not a TTY, or in CI). */
export function terminalStatusLine(stream: StatusStream = process.stderr, opts: StatusOptions = {}): StatusLine | undefined {
  if (!stream.isTTY || (opts.ci ?? isInCi)) return undefined;
  const now = opts.now ?? Date.now;
  const minIntervalMs = opts.minIntervalMs ?? 100;
  let drawn = false;
  let lastAt = -Infinity;
  return {
    update(text, force = false) {
      const t = now();
      if (!force && t - lastAt < minIntervalMs) return;
      lastAt = t;
      const width = Math.max(10, (stream.columns ?? 80) - 1); // never wrap: a wrapped line cannot be redrawn
      stream.write(`${ERASE_LINE}${text.length > width ? text.slice(0, width) : text}`);
      drawn = true;
    },
    clear() {
      if (drawn) stream.write(ERASE_LINE);
      drawn = false;
    },
  };
}

/** `refreshing 1,200/3,000 items (40%)` */
export function renderRefreshProgress(done: number, total: number): string {
  return `refreshing ${formatCount(done)}/${formatCount(total)} item${total === 1 ? '' : 's'} (${percent(done, total)}%)`;
}

/**
 * A plan's refresh progress on the terminal: an onProgress callback for makePlan and a clear() to call before
 * the plan is shown; both do nothing off a terminal.
 */
export function refreshProgress(
  stream: StatusStream = process.stderr,
  opts: StatusOptions & { delayMs?: number } = {},
): {
  onProgress?: (done: number, total: number) => void;
  clear(): void;
} {
  const line = terminalStatusLine(stream, opts);
  if (!line) return { clear: () => undefined };
  const now = opts.now ?? Date.now;
  const started = now();
  const delayMs = opts.delayMs ?? 250; // a plan faster than this draws nothing: no flicker on small plans
  let drawn = false;
  return {
    onProgress: (done, total) => {
      if (now() - started < delayMs) return;
      line.update(renderRefreshProgress(done, total), !drawn || done >= total);
      drawn = true;
    },
    clear: () => line.clear(),
  };
}
