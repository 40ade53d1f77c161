// `--json-stream`: a run as newline-delimited JSON events on stdout, written as they happen (like Terraform's
// `-json`), described by schemas/events.schema.json. One JSON object per line, each with `type` and
// `timestamp`. Events carry addresses, actions, counts, ids and messages; never a value (the plan's changes
// are not in them: `opsync plan --format json` or a saved plan has those).

import type { ApplyEvent } from '../apply/types.js';
import type { ChangeAction, Plan, PlanDiagnostic, PlanSummary } from '../plan/types.js';
import { hasChanges } from '../plan/types.js';
import { VERSION } from '../version.js';

/** Bumped in its minor part for added event types or fields, in its major part for anything a consumer could trip on. */
export const EVENTS_FORMAT_VERSION = '1.0';

export type StreamCommand = 'plan' | 'apply' | 'destroy' | 'refresh';

export interface DiagnosticFields {
  severity: 'error' | 'warning';
  message: string;
  address?: string;
  pos?: { file: string; line: number; col: number; instance?: string };
}

/** Every event and its fields, by type (see schemas/events.schema.json). */
export interface EventFields {
  plan_started: { command: StreamCommand; format_version: string; opsync_version: string; connect_host: string; mode: Plan['mode']; targets: string[]; saved_plan?: string };
  /** A resource refreshed and judged: `done` of `total` so far, and the action planned for it. */
  resource_refreshed: { address: string; action?: ChangeAction; drifted: boolean; done: number; total: number };
  planned: { has_changes: boolean; summary: PlanSummary; operations: number };
  apply_start: { address: string; action: ChangeAction };
  apply_complete: { address: string; action: ChangeAction; item_id?: string; version?: number };
  apply_errored: { address: string; action: ChangeAction; error: string };
  /** Not started: interrupted, or something it depends on failed. */
  apply_skipped: { address: string; action: ChangeAction; reason: string };
  diagnostic: DiagnosticFields;
  /** The run's end: how it went, its counts, and (after an apply) the state serial. */
  summary: {
    command: StreamCommand;
    status: RunStatus;
    has_changes?: boolean;
    plan?: PlanSummary;
    operations?: { done: number; failed: number; skipped: number };
    state?: { lineage: string; serial: number };
    elapsed_ms?: number;
  };
}

/**
 * planned: a plan made (nothing applied); applied: every operation done; failed: some failed; interrupted: by a
 * signal; no_changes: nothing to apply; aborted: not approved; errored: the run stopped on an error.
 */
export type RunStatus = 'planned' | 'applied' | 'failed' | 'interrupted' | 'no_changes' | 'aborted' | 'errored';

export type EventType = keyof EventFields;
export type StreamEvent = { [K in EventType]: { type: K; timestamp: string } & EventFields[K] }[EventType];

export interface EventStream {
  emit<K extends EventType>(type: K, fields: EventFields[K]): void;
  /** The plan's diagnostics, one event each. */
  diagnostics(diagnostics: readonly PlanDiagnostic[]): void;
  /** An apply operation's event. */
  apply(e: ApplyEvent): void;
}

/**
 * One line of JSON. JSON.stringify escapes C0 controls; C1 controls (a lone 0x9b is a terminal's CSI), DEL and
 * the Unicode line separators are escaped too, so that a title cannot act on a terminal reading the stream.
 */
export function jsonLine(value: unknown): string {
  return `${escapeJsonControls(JSON.stringify(value))}\n`;
}

/** JSON text with DEL, C1 controls and U+2028/9 written as \u escapes (only strings can hold them: still the same JSON). */
export function escapeJsonControls(json: string): string {
  return json.replace(/[\u007f-\u009f\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

export function diagnosticFields(d: PlanDiagnostic): DiagnosticFields {
  return {
    severity: d.severity,
    message: d.message,
    ...(d.address !== undefined ? { address: d.address } : {}),
    ...(d.pos ? { pos: { file: d.pos.file, line: d.pos.line, col: d.pos.col, ...(d.pos.instance !== undefined ? { instance: d.pos.instance } : {}) } } : {}),
  };
}

/** The events written to `write` (a line each, with its newline), stamped by `now`. */
export function createEventStream(write: (line: string) => void, now: () => Date = () => new Date()): EventStream {
  const emit = <K extends EventType>(type: K, fields: EventFields[K]) => write(jsonLine({ type, timestamp: now().toISOString(), ...fields }));
  return {
    emit,
    diagnostics(diagnostics) {
      for (const d of diagnostics) emit('diagnostic', diagnosticFields(d));
    },
    apply(e) {
      switch (e.type) {
        case 'start':
          return emit('apply_start', { address: e.address, action: e.action });
        case 'done':
          return emit('apply_complete', {
            address: e.address,
            action: e.action,
            ...(e.itemId ? { item_id: e.itemId } : {}),
            ...(e.version !== undefined ? { version: e.version } : {}),
          });
        case 'failed':
          return emit('apply_errored', { address: e.address, action: e.action, error: e.error });
        case 'skipped':
          return emit('apply_skipped', { address: e.address, action: e.action, reason: e.reason });
      }
    },
  };
}

/** `plan_started` of a plan about to be made, or of a saved plan being applied. */
export function planStarted(command: StreamCommand, fields: { connectHost: string; mode?: Plan['mode']; targets?: readonly string[]; savedPlan?: string }): EventFields['plan_started'] {
  return {
    command,
    format_version: EVENTS_FORMAT_VERSION,
    opsync_version: VERSION,
    connect_host: fields.connectHost,
    mode: fields.mode ?? 'normal',
    targets: [...(fields.targets ?? [])],
    ...(fields.savedPlan !== undefined ? { saved_plan: fields.savedPlan } : {}),
  };
}

/** `planned`: the plan's counts, and how many operations applying it would run. */
export function planned(plan: Plan): EventFields['planned'] {
  const { create, update, replace, delete: del, forget = 0, noop, drifted, move = 0, protect = 0 } = plan.summary;
  return {
    has_changes: hasChanges(plan),
    summary: { create, update, replace, delete: del, forget, noop, drifted, move, protect },
    operations: plan.changes.filter((c) => c.action !== 'noop').length,
  };
}
