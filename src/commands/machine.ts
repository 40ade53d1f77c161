// Machine-readable runs: `apply --format json` (one result document on stdout) and `--json-stream` (events as
// they happen, src/ui/events.ts) for plan, apply and destroy. stdout is then exactly that JSON; people's
// lines (diagnostics, progress, the question) go to stderr. Wiring only: the plan and the apply decide.

import type { ApplyEvent, ApplyResult } from '../apply/types.js';
import { StalePlanError } from '../apply/execute.js';
import { ConnectError } from '../connect/errors.js';
import type { RequestCost } from '../connect/cost.js';
import { UserError } from '../errors.js';
import type { Diagnostic } from '../manifest/types.js';
import { ResolveError } from '../plan/resolve.js';
import type { SafetyViolation } from '../plan/safety.js';
import { hasChanges, type Plan, type PlanDiagnostic } from '../plan/types.js';
import { StateError } from '../state/file.js';
import { BackendError, LockError, StateConflictError } from '../state/backend.js';
import { doneDetails, renderApplyResultJson, type ApplyResultJson } from '../ui/applyResult.js';
import { diagnosticFields, planned, type EventStream, type StreamCommand, createEventStream } from '../ui/events.js';
import { appendStepSummary } from '../ui/github.js';
import { renderPlanMarkdownParts, shellWord } from '../ui/markdown.js';
import { createApplyReporter, renderApplyResult, type ProgressMode } from '../ui/progress.js';
import { renderPlanText } from '../ui/text.js';
import { relative } from 'node:path';
import { ExitCode, printDiagnostics, type IO } from './common.js';
import type { PlanContext } from '../plan/build.js';

export interface MachineFlags {
  format?: string;
  jsonStream?: boolean;
  /** Set by withEventStream when --json-stream is given. */
  events?: EventStream;
  autoApprove?: boolean;
  progress?: ProgressMode;
}

/** The user's mistakes and Connect's refusals say what happened in one line; anything else is an internal error. */
export function errorMessage(err: unknown): string | undefined {
  if (
    err instanceof UserError ||
    err instanceof ConnectError ||
    err instanceof StateError ||
    err instanceof LockError ||
    err instanceof BackendError ||
    err instanceof StateConflictError ||
    err instanceof StalePlanError ||
    err instanceof ResolveError
  ) {
    return err.message;
  }
  return undefined;
}

/**
 * Runs `body` with an event stream on stdout when --json-stream is given: a run that stops on an error ends
 * with a `diagnostic` (its one line, as stderr says it) and a `summary` of status `errored`, then the error
 * goes on as without the stream.
 */
export async function withEventStream(command: StreamCommand, flags: MachineFlags, io: IO, body: (events?: EventStream) => Promise<number>): Promise<number> {
  if (!flags.jsonStream) return body(undefined);
  if (flags.format) {
    throw new UserError(`opsync ${command}: --json-stream and --format both write to stdout; pass one of them (the events carry no plan text)`);
  }
  const events = createEventStream(io.out);
  try {
    // Like Terraform's -json: no question on a stream. Refused before anything is read or sent.
    if (command !== 'plan' && command !== 'refresh' && !flags.autoApprove) {
      throw new UserError(`opsync ${command} --json-stream needs --auto-approve (the events are no place for a question); nothing was changed`);
    }
    return await body(events);
  } catch (err) {
    const message = errorMessage(err);
    if (message !== undefined) events.emit('diagnostic', { severity: 'error', message });
    else if (!(err instanceof ExitCode)) events.emit('diagnostic', { severity: 'error', message: 'internal error (see stderr)' });
    events.emit('summary', { command, status: 'errored' });
    throw err;
  }
}

/** Manifest problems as `diagnostic` events (positions relative to the working folder, as stderr shows them). */
export function manifestDiagnostics(events: EventStream | undefined): ((ds: readonly Diagnostic[]) => void) | undefined {
  if (!events) return undefined;
  return (ds) => {
    for (const d of ds) {
      const rel = d.file.startsWith('/') ? relative(process.cwd(), d.file) : '';
      const file = rel && !rel.startsWith('..') ? rel : d.file;
      events.emit('diagnostic', { severity: d.severity, message: d.message, pos: { file, line: d.line, col: d.col, ...(d.instance !== undefined ? { instance: d.instance } : {}) } });
    }
  };
}

/** makePlan's per-resource hook for `resource_refreshed` events. */
export function refreshedEvents(events: EventStream | undefined): Pick<PlanContext, 'onResource'> {
  if (!events) return {};
  return {
    onResource: (address, change, done, total) =>
      events.emit('resource_refreshed', { address, ...(change ? { action: change.action } : {}), drifted: change?.drift !== undefined, done, total }),
  };
}

/** The end of `plan --json-stream`: the plan's diagnostics, `planned`, `summary` (stdout holds only events). */
export function streamPlan(events: EventStream, plan: Plan, io: IO, out?: string): void {
  events.diagnostics(plan.diagnostics);
  printDiagnostics(io, plan.diagnostics);
  const p = planned(plan);
  events.emit('planned', p);
  const errored = plan.diagnostics.some((d) => d.severity === 'error');
  events.emit('summary', { command: 'plan', status: errored ? 'errored' : 'planned', has_changes: p.has_changes, plan: p.summary });
  stepSummary(plan, io, out);
}

/** Under GitHub Actions the Markdown plan (every part) goes to the job summary, as the other formats do. */
function stepSummary(plan: Plan, io: IO, out?: string): void {
  if (io.env.GITHUB_ACTIONS !== 'true') return;
  const parts = renderPlanMarkdownParts(plan, { commit: io.env.GITHUB_SHA || undefined, applyCommand: out ? `opsync apply ${shellWord(out)}` : undefined });
  appendStepSummary(parts, io.env);
}

export function isMachineRun(flags: MachineFlags): boolean {
  return flags.format === 'json' || flags.events !== undefined;
}

export interface MachineApply {
  command: 'apply' | 'destroy';
  /** The state's lineage and serial now (read after the apply for the result). */
  state: () => { lineage: string; serial: number };
  savedPlan?: string;
  /** Safety limits a --force apply goes over. */
  violations?: readonly SafetyViolation[];
  /** The run's Connect requests so far (src/connect/cost.ts), for the result document. */
  requests?: () => RequestCost;
}

type Execute = (onEvent: (e: ApplyEvent) => void, signal: AbortSignal) => Promise<ApplyResult>;

/**
 * `apply --format json` or `--json-stream` once the plan is made: approve (--auto-approve, or `yes` typed on a
 * terminal after the text plan on stderr), execute, and end with the result document or the `summary` event.
 */
export async function applyMachine(plan: Plan, execute: Execute, flags: MachineFlags, io: IO, run: MachineApply): Promise<number> {
  const { events } = flags;
  const { command } = run;
  const forced: PlanDiagnostic[] = (run.violations ?? []).map((v) => ({ severity: 'warning', message: `${v.message}; applying anyway (--force)` }));
  if (events) {
    events.diagnostics([...plan.diagnostics, ...forced]);
    events.emit('planned', planned(plan));
  }
  printDiagnostics(io, plan.diagnostics);
  stepSummary(plan, io);
  const finish = (status: ApplyResultJson['status'], result?: ApplyResult, details?: ReturnType<typeof doneDetails>['details']) => {
    const state = run.state();
    if (events) {
      events.emit('summary', {
        command,
        status,
        has_changes: hasChanges(plan),
        plan: planned(plan).summary,
        ...(result ? { operations: { done: result.done.length, failed: result.failed.length, skipped: result.skipped.length } } : {}),
        state: { lineage: state.lineage, serial: state.serial },
        ...(result ? { elapsed_ms: Math.round(result.elapsedMs) } : {}),
      });
    } else {
      const extraDiagnostics = forced.map(diagnosticFields);
      io.out(renderApplyResultJson({ command, plan, status, result, details, state, savedPlan: run.savedPlan, extraDiagnostics, requests: run.requests?.() }));
    }
    return status === 'applied' || status === 'no_changes' ? 0 : 1;
  };

  if (plan.diagnostics.some((d) => d.severity === 'error')) return finish('errored');
  if (!hasChanges(plan)) {
    const result = await execute(() => undefined, new AbortController().signal); // state-only refreshes, no requests
    return finish(result.failed.length > 0 ? 'failed' : 'no_changes', result);
  }
  if (!flags.autoApprove) {
    if (!io.ask) throw new UserError(`opsync ${command} needs --auto-approve when not run on a terminal; nothing was changed`);
    // stdout stays the result document: the plan to read and the question go to stderr.
    io.err(renderPlanText(plan, { color: false }));
    const what = command === 'destroy' ? 'Destroy these items' : 'Apply these changes';
    const answer = await io.ask(`\n${what} on ${plan.connectHost}?\n  Only 'yes' will be accepted to approve.\n\n  Enter a value: `);
    if (answer.trim() !== 'yes') {
      io.err(`Aborted: nothing was changed. Only 'yes', typed in full, approves.\n`);
      return finish('aborted');
    }
  }

  const controller = new AbortController();
  const onSignal = () => {
    if (controller.signal.aborted) return;
    io.err(`\nInterrupted: no new operations will start; waiting for running ones and saving state (\`opsync ${command}\` again finishes the job)...\n`);
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const details = doneDetails();
    // The stream reports each operation as an event; the result document leaves stderr the text progress.
    const reporter = events
      ? undefined
      : createApplyReporter({ total: plan.changes.filter((c) => c.action !== 'noop').length, mode: flags.progress, write: (line) => io.err(`${line}\n`) });
    const timer = reporter ? setInterval(() => reporter.tick(), 1000).unref() : undefined;
    let result: ApplyResult;
    try {
      result = await execute((e) => {
        details.onEvent(e);
        events?.apply(e);
        reporter?.onEvent(e);
      }, controller.signal);
    } finally {
      if (timer) clearInterval(timer);
    }
    reporter?.finish();
    if (!events) io.err(renderApplyResult(result, plan)); // people reading a CI log get the text apply's last lines
    return finish(result.interrupted ? 'interrupted' : result.failed.length > 0 ? 'failed' : 'applied', result, details.details);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

/**
 * The end of `refresh --json-stream`: the plan's diagnostics, an `apply_errored` per state update that failed,
 * and the `summary` (status applied: the state now has live's versions where live matches the manifests).
 */
export function refreshEvents(events: EventStream, plan: Plan, result: ApplyResult, state: { lineage: string; serial: number }): void {
  events.diagnostics(plan.diagnostics);
  for (const f of result.failed) events.emit('apply_errored', { address: f.address, action: f.action, error: f.error });
  const errored = plan.diagnostics.some((d) => d.severity === 'error');
  events.emit('summary', {
    command: 'refresh',
    status: errored ? 'errored' : result.failed.length > 0 ? 'failed' : 'applied',
    plan: planned(plan).summary,
    state: { lineage: state.lineage, serial: state.serial },
    elapsed_ms: Math.round(result.elapsedMs),
  });
}
