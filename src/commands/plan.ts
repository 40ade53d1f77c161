// `opsync validate`, `opsync plan`, `opsync show`: read-only flows.

import { UserError } from '../errors.js';
import type { Manifest, VaultDefaults } from '../manifest/types.js';
import { renderValidateJson } from '../ui/validateJson.js';
import { makePlan } from '../plan/build.js';
import { makeRefreshOnlyPlan } from '../plan/refreshOnly.js';
import { checkSafety, type SafetyLimits } from '../plan/safety.js';
import { budgetWarnings, type Budget } from '../plan/budget.js';
import { hasChanges, type Plan } from '../plan/types.js';
import { openConnection, type ConnectionFlags } from '../session.js';
import { currentState, type StateTarget } from '../state/open.js';
import { appendStepSummary, writeMarkdownParts } from '../ui/github.js';
import { renderPlanJson } from '../ui/json.js';
import { renderPlanMarkdown, renderPlanMarkdownParts, shellWord } from '../ui/markdown.js';
import { inline } from '../ui/sanitize.js';
import { renderPlanText } from '../ui/text.js';
import { refreshProgress } from '../ui/status.js';
import { writePlanFile } from '../plan/planFile.js';
import { checkBackend, loadOrFail, printDiagnostics, type IO, type LoadFlags } from './common.js';
import type { VariableInputs } from '../manifest/expand/index.js';
import { manifestDiagnostics, refreshedEvents, streamPlan, withEventStream, type MachineFlags } from './machine.js';
import { planStarted } from '../ui/events.js';

export type PlanFormat = 'text' | 'json' | 'markdown';
export const PLAN_FORMATS: PlanFormat[] = ['text', 'json', 'markdown'];

/** How plan, apply, destroy and refresh load their manifests. */
export function loadFlags(flags: PlanFlags, events: PlanFlags['events']): LoadFlags {
  return {
    ...(flags.vaultDefaults ? { vaultDefaults: flags.vaultDefaults } : {}),
    ...(flags.variables ? { variables: flags.variables } : {}),
    ...(events ? { onDiagnostics: manifestDiagnostics(events) } : {}),
  };
}

export interface PlanFlags extends ConnectionFlags, StateTarget {
  /** ${var.NAME} values and opsync.yaml's declarations. */
  variables?: VariableInputs;
  /** Safety limits; a plan over them gets a warning (apply refuses it). */
  safety: SafetyLimits;
  /** opsync.yaml `budget:`: a plan whose apply would pass it gets a warning; apply paces its writes under it. */
  budget?: Budget;
  vaultDefaults?: Record<string, VaultDefaults>;
  out?: string;
  format?: PlanFormat;
  detailedExitcode?: boolean;
  target: string[];
  rotate: string[];
  /** --replace: addresses to replace (create-before-destroy) although nothing requires it. */
  replace?: string[];
  /** false (--no-rotate-due): leave out the rotations whose policy is due, for this run. */
  rotateDue?: boolean;
  /** --refresh-only: report only drift (live changed outside opsync since the state recorded it), never a proposal. */
  refreshOnly?: boolean;
  /** --split-dir: also write the Markdown plan's parts to DIR/plan.1.md, plan.2.md, ... (implies --format markdown). */
  splitDir?: string;
  /** --json-stream: events on stdout instead of the plan (machine.ts). */
  jsonStream?: MachineFlags['jsonStream'];
  events?: MachineFlags['events'];
}

/**
 * Schema and meaning only: {env:} variables and {file:} sources are not looked at (validate needs no secrets),
 * unless `checkSources` (--check-sources), which checks them as plan does.
 */
export function validateCommand(
  paths: string[],
  io: IO,
  vaultDefaults: Record<string, VaultDefaults> = {},
  checkSources = false,
  /** json: one result document on stdout (schemas/validate-output.schema.json), invalid manifests included. */
  format: 'text' | 'json' = 'text',
  variables?: VariableInputs,
): number {
  const uncheckedOf = (m: Manifest) => (checkSources ? 0 : m.items.reduce((n, i) => n + i.fields.filter((f) => f.source.kind === 'env' || f.source.kind === 'file').length, 0));
  // With --format json the document is written whether or not the manifests are valid (loadOrFail then exits 1).
  const manifest = loadOrFail(paths, io, {
    vaultDefaults,
    checkSources,
    ...(variables ? { variables } : {}),
    onDiagnostics: (diagnostics, m) => {
      if (format === 'json') io.out(renderValidateJson({ files: m.files, items: m.items.length, uncheckedSources: uncheckedOf(m), diagnostics }));
    },
  });
  const unchecked = uncheckedOf(manifest);
  const note = unchecked > 0 ? ` (${unchecked} env/file source(s) not checked: --check-sources checks them)` : '';
  io.err(`${manifest.items.length} item(s) in ${manifest.files.length} file(s): valid${note}.\n`);
  return 0;
}

export function renderPlan(plan: Plan, format: PlanFormat, io: IO): string {
  switch (format) {
    case 'json':
      return renderPlanJson(plan);
    case 'markdown':
      return renderPlanMarkdown(plan);
    default:
      return renderPlanText(plan, { color: io.color });
  }
}

/**
 * Show a plan where it belongs: the Ink interface on a terminal, else the chosen format on stdout. Markdown on
 * stdout is one comment (part 1 when it needs several); `splitDir` gets every part, the job summary too.
 */
export async function showPlan(plan: Plan, format: PlanFormat | undefined, io: IO, opts: Pick<PlanFlags, 'splitDir' | 'out'> = {}): Promise<void> {
  let parts: string[] | undefined;
  const markdown = () =>
    (parts ??= renderPlanMarkdownParts(plan, {
      commit: io.env.GITHUB_SHA || undefined,
      applyCommand: opts.out ? `opsync apply ${shellWord(opts.out)}` : undefined,
    }));
  if (!format && io.interactive) {
    const { runPlanTui } = await import('../ui/tui/index.js'); // loaded only when drawn
    await runPlanTui(plan, { color: io.color, out: io.out, err: io.err }); // diagnostics printed again after it
  } else {
    const text = format === 'markdown' ? markdown()[0] : renderPlan(plan, format ?? 'text', io);
    io.out(text.endsWith('\n') ? text : `${text}\n`);
  }
  if (format === 'markdown' && opts.splitDir) {
    const files = writeMarkdownParts(opts.splitDir, markdown());
    const range = files.length === 1 ? inline(files[0]) : `${inline(files[0])} to ${inline(files.at(-1)!)} (${files.length} parts, one comment each)`;
    io.err(`Wrote the Markdown plan to ${range}.\n`);
  }
  if (format && format !== 'text') {
    printDiagnostics(io, plan.diagnostics);
  }
  if (io.env.GITHUB_ACTIONS === 'true') appendStepSummary(markdown(), io.env);
}

export function planExitCode(plan: Plan, detailed: boolean | undefined): number {
  if (plan.diagnostics.some((d) => d.severity === 'error')) return 1;
  return detailed && hasChanges(plan) ? 2 : 0;
}

export function planCommand(paths: string[], flags: PlanFlags, io: IO, mode: 'normal' | 'destroy' = 'normal'): Promise<number> {
  if (flags.refreshOnly) checkRefreshOnlyFlags(flags);
  return withEventStream('plan', flags, io, (events) => planRun(paths, { ...flags, events }, io, mode));
}

/**
 * --refresh-only reports and proposes nothing, so what would shape or keep a proposal is refused, in one line,
 * before anything is read. A saved plan is refused rather than made unappliable: there is nothing in it to apply
 * (`opsync refresh` is what records live in the state).
 */
export function checkRefreshOnlyFlags(flags: Pick<PlanFlags, 'out' | 'rotate' | 'replace' | 'jsonStream'>): void {
  const refuse = (what: string) => new UserError(`--refresh-only ${what}`);
  if (flags.out !== undefined) {
    throw refuse('plans cannot be saved or applied (they report drift and propose nothing): drop --out; `opsync refresh` records live in the state, `opsync plan --out` saves what apply would change');
  }
  if (flags.rotate.length > 0) throw refuse('proposes no change: drop --rotate (`opsync plan --rotate` shows a rotation)');
  if (flags.replace?.length) throw refuse('proposes no change: drop --replace (`opsync plan --replace` shows a replace)');
  if (flags.jsonStream) throw refuse('writes no event stream: use --format json for one document');
}

async function planRun(paths: string[], flags: PlanFlags, io: IO, mode: 'normal' | 'destroy'): Promise<number> {
  const { events } = flags;
  const manifest = loadOrFail(paths, io, loadFlags(flags, events));
  const state = await currentState(flags);
  const conn = await openConnection(flags, io.env, io.err);
  try {
    checkBackend(state, flags.state, conn.backend);
    events?.emit('plan_started', planStarted('plan', { connectHost: conn.backend, mode, targets: flags.target }));
    // `refreshing 1,200/3,000 items`: in the Ink interface on a terminal (which keeps the keys typed meanwhile for
    // the plan view), else on a terminal's stderr only; erased before the plan (clear() may return a promise).
    const tui = !flags.format && !events && io.interactive;
    const refresh = tui ? (await import('../ui/tui/index.js')).planningProgress({ color: io.color, err: io.err }) : refreshProgress();
    const ctx = { client: conn.client, env: io.env, key: conn.key, connectHost: conn.backend, onProgress: refresh.onProgress, ...refreshedEvents(events) };
    const plan = await (
      flags.refreshOnly
        ? makeRefreshOnlyPlan(ctx, { manifest, state, targets: flags.target })
        : makePlan(ctx, { manifest, state, targets: flags.target, rotate: flags.rotate, replace: flags.replace, mode, rotateDue: flags.rotateDue })
    ).finally(() => refresh.clear());
    // A refresh-only plan deletes nothing: no safety limit applies.
    for (const v of flags.refreshOnly ? [] : checkSafety(plan, Object.keys(state.resources).length, flags.safety)) {
      plan.diagnostics.push({ severity: 'warning', kind: 'safety', message: `${v.message}: apply will refuse this plan without --force` });
    }
    const planned = conn.client.cost;
    plan.diagnostics.push(...budgetWarnings(plan, flags.budget, planned.reads));
    // Signed with the digest key, so apply refuses any edit of it. Saved without what planning cost (that is
    // not what applying it costs); shown with it, as every plan ends.
    if (flags.out) writePlanFile(flags.out, plan, conn.key);
    if (events) streamPlan(events, plan, io, flags.out);
    else await showPlan({ ...plan, requests: planned }, flags.format, io, flags);
    if (flags.out) io.err(`Saved the plan to ${flags.out}; apply exactly it with \`opsync apply ${flags.out}\`.\n`);
    return planExitCode(plan, flags.detailedExitcode);
  } finally {
    await conn.close();
  }
}

export function showCommand(plan: Plan, json: boolean, io: IO): number {
  const text = json ? renderPlanJson(plan) : renderPlanText(plan, { color: io.color });
  io.out(text.endsWith('\n') ? text : `${text}\n`);
  return 0;
}

/** --split-dir writes Markdown: it implies --format markdown and refuses another format. */
export function withSplitDir(format: PlanFormat | undefined, splitDir: string | undefined): PlanFormat | undefined {
  if (splitDir === undefined) return format;
  if (splitDir.trim() === '') throw new UserError('--split-dir needs a folder, e.g. --split-dir plan-comments');
  if (format && format !== 'markdown') throw new UserError(`--split-dir writes the Markdown plan's parts: use it with --format markdown, not --format ${format}`);
  return 'markdown';
}

export function parseFormat(value: string | undefined): PlanFormat | undefined {
  if (value === undefined) return undefined;
  if (!(PLAN_FORMATS as string[]).includes(value)) throw new UserError(`--format must be one of ${PLAN_FORMATS.join(', ')} (got "${value}")`);
  return value as PlanFormat;
}
