// What apply reports as it goes, and what it ends with. Renderers (src/ui) show these; they decide nothing.
import type { RequestCost } from '../connect/cost.js';
import type { WritePacing } from '../plan/budget.js';
import type { ChangeAction } from '../plan/types.js';

export type OperationStatus = 'pending' | 'running' | 'done' | 'failed' | 'skipped';

export type ApplyEvent =
  | { type: 'start'; address: string; action: ChangeAction }
  | { type: 'done'; address: string; action: ChangeAction; itemId?: string; version?: number }
  | { type: 'failed'; address: string; action: ChangeAction; error: string }
  /** Not started: interrupted (Ctrl-C), or a dependency failed. */
  | { type: 'skipped'; address: string; action: ChangeAction; reason: string };

export interface ApplyResult {
  done: { address: string; action: ChangeAction }[];
  failed: { address: string; action: ChangeAction; error: string }[];
  skipped: { address: string; action: ChangeAction; reason: string }[];
  /** Stopped early by a signal: running operations finished, no new ones started. */
  interrupted: boolean;
  elapsedMs: number;
  /** The Connect requests of the whole run (planning included), set by the command once it is done. */
  requests?: RequestCost;
  /** Writes were paced (budget.writesPerHour or --max-writes-per-second): at this many a second. */
  pacing?: WritePacing;
}

export interface ApplyOptions {
  parallelism: number;
  /** Abort stops starting new operations; running ones finish and are recorded. */
  signal?: AbortSignal;
  onEvent?: (event: ApplyEvent) => void;
}
