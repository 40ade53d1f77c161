// `opsync apply`, `opsync destroy`, `opsync refresh`: the flows that write state, under its lock.

import { applyPlan, checkPlanFresh } from '../apply/execute.js';
import type { ApplyEvent, ApplyResult } from '../apply/types.js';
import { UserError } from '../errors.js';
import { makePlan } from '../plan/build.js';
import { checkSafety } from '../plan/safety.js';
import { budgetWarnings, writePacing } from '../plan/budget.js';
import { TokenBucket } from '../connect/pacing.js';
import type { RequestCost } from '../connect/cost.js';
import { pacingLine } from '../ui/requests.js';
import { changesStateOnly, hasChanges, type Plan } from '../plan/types.js';
import { openConnection, type Connection } from '../session.js';
import type { StateHandle } from '../state/handle.js';
import { openState } from '../state/open.js';
import { RemoteStore } from '../state/remote.js';
import { createApplyReporter, renderApplyResult, type ProgressMode } from '../ui/progress.js';
import { checkPlanAgainstState, checkPlanLive, readSavedPlan, restoreLiterals, verifyPlanSignature } from '../plan/planFile.js';
import { inline } from '../ui/sanitize.js';
import { refreshProgress } from '../ui/status.js';
import { checkBackend, isPlanFileArg, loadOrFail, printDiagnostics, type IO } from './common.js';
import { loadFlags, planExitCode, showPlan, type PlanFlags } from './plan.js';
import { applyMachine, isMachineRun, refreshedEvents, refreshEvents, withEventStream } from './machine.js';
import { planStarted } from '../ui/events.js';

export interface ApplyFlags extends PlanFlags {
  autoApprove?: boolean;
  /** Apply even over the safety limits. */
  force?: boolean;
  parallelism: number;
  lockTimeoutMs: number;
  /** How the text apply reports operations (--progress; default auto). */
  progress?: ProgressMode;
  /** --max-writes-per-second: this run's pace of writes, instead of budget.writesPerHour's. */
  maxWritesPerSecond?: number;
}

/** What apply and destroy plan: a refresh-only plan is never applied (plan --refresh-only). */
type ApplyMode = Exclude<Plan['mode'], 'refresh-only'>;

type Execute = (onEvent: (e: ApplyEvent) => void, signal: AbortSignal) => Promise<ApplyResult>;

async function withStateAndConnection<T>(
  flags: ApplyFlags,
  io: IO,
  command: string,
  body: (store: StateHandle, conn: Connection) => Promise<T>,
): Promise<T> {
  const conn = await openConnection(flags, io.env, io.err);
  try {
    const store = await openState(flags, { lockTimeoutMs: flags.lockTimeoutMs, command, env: io.env });
    if (store instanceof RemoteStore && store.backend.locking === false) {
      io.err(`warning: the state backend ${inline(store.name)} has no lock_address: this run is not locked against others on the same state\n`);
    }
    const stale = store.lockInfo.staleTakenOver;
    if (stale) io.err(`Took over the state lock ${inline(stale.id)} of ${inline(stale.command || 'a run')} (pid ${stale.pid ?? '?'}), which is no longer running on this host.\n`);
    let result: T;
    try {
      checkBackend(store.state, store.name, conn.backend);
      result = await body(store, conn);
    } catch (err) {
      // The run's own error is what the run ends with; a failed final write of the state (where the state
      // went, how to push it) is said before it.
      await Promise.resolve(store.close()).catch((e: unknown) => io.err(`opsync: error: ${inline((e as Error).message)}\n`));
      throw err;
    }
    await store.close();
    return result;
  } finally {
    await conn.close();
  }
}

function executor(plan: Plan, store: StateHandle, conn: Connection, flags: ApplyFlags, io: IO): Execute {
  return async (onEvent, signal) => {
    if (!store.state.connect || store.state.connectMovedFrom) {
      await store.update((s) => {
        s.connect = conn.backend;
        delete s.connectMovedFrom;
      });
      // The backend write bumped the serial: the plan was made on the state just before it.
      plan = { ...plan, state: { lineage: store.state.lineage, serial: store.state.serial } };
    }
    // Every write of the run, retries included, takes its turn in one bucket (src/connect/pacing.ts).
    const pacing = writePacing(plan, flags.budget, flags.maxWritesPerSecond);
    if (pacing && pacing.estimatedWrites > 0) {
      conn.client.paceWrites(new TokenBucket(pacing.perSecond));
      // Not over the Ink interface, which owns the terminal while it is drawn.
      if (pacing.estimatedWrites > 1 && !(io.interactive && !flags.format && !isMachineRun(flags))) io.err(`${pacingLine(pacing, flags.budget)}\n`);
    }
    const result = await applyPlan({ client: conn.client, env: io.env, key: conn.key, store }, plan, { parallelism: flags.parallelism, signal, onEvent });
    // The whole run's requests, planning included: what this apply cost.
    return { ...result, requests: conn.client.cost, ...(pacing && pacing.estimatedWrites > 0 ? { pacing } : {}) };
  };
}

/** Approve, execute and report; the interactive path on a terminal, the plain one elsewhere. */
async function approveAndRun(plan: Plan, execute: Execute, flags: ApplyFlags, io: IO, requests: () => RequestCost): Promise<number> {
  if (plan.diagnostics.some((d) => d.severity === 'error')) {
    await showPlan({ ...plan, requests: requests() }, flags.format, io, flags);
    return 1;
  }
  if (!hasChanges(plan)) {
    const result = await execute(() => undefined, new AbortController().signal); // state-only refreshes
    await showPlan({ ...plan, requests: result.requests ?? requests() }, flags.format, io, flags); // ends with the run's requests
    return 0;
  }
  if (io.interactive && !flags.format) {
    // Ink and React load only when an interface is drawn: every other run starts faster.
    const { runApplyTui } = await import('../ui/tui/index.js');
    const { approved, result } = await runApplyTui(plan, execute, { color: io.color, autoApprove: flags.autoApprove, out: io.out, err: io.err });
    if (!approved || !result) return 1; // the interface has said that nothing was changed
    return result.failed.length > 0 || result.interrupted ? 1 : 0;
  }
  await showPlan(plan, flags.format, io, flags);
  if (!flags.autoApprove) {
    // On a terminal with --format: the plan as asked, then a plain question instead of the Ink interface.
    // Like Terraform's, only "yes" typed in full approves: a stray key never applies.
    const command = plan.mode === 'destroy' ? 'destroy' : 'apply';
    if (!io.ask) {
      throw new UserError(`${command} needs --auto-approve when not run on a terminal; nothing was changed`);
    }
    const what = plan.mode === 'destroy' ? 'Destroy these items' : 'Apply these changes';
    const answer = await io.ask(`\n${what} on ${plan.connectHost}?\n  Only 'yes' will be accepted to approve.\n\n  Enter a value: `);
    if (answer.trim() !== 'yes') {
      io.err(`Aborted: nothing was changed. Only 'yes', typed in full, approves.\n`);
      return 1;
    }
  }
  const controller = new AbortController();
  const onSignal = () => {
    if (controller.signal.aborted) return;
    io.err('\nInterrupted: no new operations will start; waiting for running ones and saving state...\n');
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    // After a JSON or Markdown plan, stdout stays exactly that document: progress goes to stderr.
    const progress = !flags.format || flags.format === 'text' ? io.out : io.err;
    const reporter = createApplyReporter({
      total: plan.changes.filter((c) => c.action !== 'noop').length,
      mode: flags.progress,
      write: (line) => progress(`${line}\n`),
    });
    const timer = setInterval(() => reporter.tick(), 1000).unref(); // a stalled apply still reports, per interval
    let result: ApplyResult;
    try {
      result = await execute((e) => reporter.onEvent(e), controller.signal);
    } finally {
      clearInterval(timer);
    }
    reporter.finish();
    progress(`${renderApplyResult(result, plan)}\n`);
    return result.failed.length > 0 || result.interrupted ? 1 : 0;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

export function applyCommand(paths: string[], flags: ApplyFlags, io: IO, mode: ApplyMode = 'normal'): Promise<number> {
  // --json-stream: events on stdout as the run goes (machine.ts).
  return withEventStream(mode === 'destroy' ? 'destroy' : 'apply', flags, io, (events) => applyRun(paths, { ...flags, events }, io, mode));
}

async function applyRun(paths: string[], flags: ApplyFlags, io: IO, mode: ApplyMode): Promise<number> {
  const { events } = flags;
  const saved = mode === 'normal' && isPlanFileArg(paths) ? readSavedPlan(paths[0]) : undefined;
  const planFile = saved?.plan;
  if (planFile?.connectHost === 'local' && !flags.local) {
    throw new UserError(`${paths[0]} was planned against the embedded server: apply it with --local (or connect.host: local in opsync.yaml)`);
  }
  // destroy needs no manifests: the state knows every managed item, and whether it is protected.
  const manifest = planFile
    ? undefined
    : mode === 'destroy' && paths.length === 0
      ? { files: [], items: [], moved: [], removed: [] }
      : loadOrFail(paths, io, loadFlags(flags, events));
  return withStateAndConnection(flags, io, mode === 'destroy' ? 'opsync destroy' : 'opsync apply', async (store, conn) => {
    let plan: Plan;
    events?.emit('plan_started', planStarted(mode === 'destroy' ? 'destroy' : 'apply', { connectHost: conn.backend, mode, targets: planFile?.targets ?? flags.target, savedPlan: planFile ? paths[0] : undefined }));
    if (planFile) {
      if (planFile.connectHost !== conn.backend) {
        throw new UserError(`${paths[0]} was planned against ${planFile.connectHost}, not ${conn.backend}: apply it against ${planFile.connectHost} (OP_CONNECT_HOST or --connect-host), or plan again here`);
      }
      // A saved plan is input: signature, then freshness, then every change against the state and live,
      // all before anything is sent.
      verifyPlanSignature(saved!, conn.key);
      checkPlanFresh(planFile, store);
      const { liveMissing } = checkPlanAgainstState(saved!, store.state);
      await checkPlanLive(saved!, liveMissing, conn.client);
      plan = restoreLiterals(planFile, io.env, paths[0], flags.variables);
    } else {
      // In the Ink interface on a terminal (keys typed meanwhile kept for the review), else on a terminal's stderr
      // only; erased before the plan is shown.
      const tui = io.interactive && !isMachineRun(flags) && !flags.format;
      const refresh = tui ? (await import('../ui/tui/index.js')).planningProgress({ color: io.color, err: io.err }) : refreshProgress();
      plan = await makePlan(
        { client: conn.client, env: io.env, key: conn.key, connectHost: conn.backend, onProgress: refresh.onProgress, ...refreshedEvents(events) },
        { manifest: manifest!, state: store.state, targets: flags.target, rotate: flags.rotate, replace: flags.replace, mode, rotateDue: flags.rotateDue },
      ).finally(() => refresh.clear());
    }
    const violations = checkSafety(plan, Object.keys(store.state.resources).length, flags.safety);
    if (violations.length > 0 && !flags.force) {
      throw new UserError(
        `refusing to apply: ${violations.map((v) => v.message).join('; and ')}. Nothing was changed: review the plan (\`opsync plan\`), then pass --force to apply it anyway`,
      );
    }
    for (const v of violations) io.err(`warning: ${v.message}; applying anyway (--force)\n`);
    // A saved plan carries the warnings of when it was made.
    if (!planFile) plan.diagnostics.push(...budgetWarnings(plan, flags.budget, conn.client.cost.reads));
    if (isMachineRun(flags)) {
      // --format json: one result document on stdout; --json-stream: the events (machine.ts).
      const command = mode === 'destroy' ? 'destroy' : 'apply';
      return applyMachine(plan, executor(plan, store, conn, flags, io), flags, io, { command, state: () => store.state, savedPlan: planFile ? paths[0] : undefined, violations, requests: () => conn.client.cost });
    }
    return approveAndRun(plan, executor(plan, store, conn, flags, io), flags, io, () => conn.client.cost);
  });
}

/** Bring state versions up to date where live still matches the manifests; report drift, hide none. */
export function refreshCommand(paths: string[], flags: ApplyFlags, io: IO): Promise<number> {
  return withEventStream('refresh', flags, io, (events) => refreshRun(paths, { ...flags, events }, io));
}

async function refreshRun(paths: string[], flags: ApplyFlags, io: IO): Promise<number> {
  const { events } = flags;
  const out = events ? io.err : io.out; // --json-stream: stdout holds only the events, the report goes to stderr
  const manifest = loadOrFail(paths, io, loadFlags(flags, events));
  return withStateAndConnection(flags, io, 'opsync refresh', async (store, conn) => {
    events?.emit('plan_started', planStarted('refresh', { connectHost: conn.backend, targets: flags.target }));
    const plan = await makePlan(
      { client: conn.client, env: io.env, key: conn.key, connectHost: conn.backend, ...refreshedEvents(events) },
      { manifest, state: store.state, targets: flags.target, rotate: [] },
    );
    const refreshOnly: Plan = { ...plan, diagnostics: [], changes: plan.changes.filter((c) => c.action === 'noop' && !changesStateOnly(c)) };
    const result = await executor(refreshOnly, store, conn, flags, io)(() => undefined, new AbortController().signal);
    for (const f of result.failed) io.err(`error: ${inline(`${f.address}: ${f.error}`)}\n`);
    let drifted = 0;
    for (const c of plan.changes) {
      if (!c.drift) continue;
      drifted += 1;
      const what = c.drift.liveMissing
        ? 'deleted outside opsync'
        : c.drift.ignored
          ? `changed outside opsync (version ${c.drift.stateVersion} -> ${c.drift.liveVersion}), only in ignored paths or back to the manifest: state updated`
          : `changed outside opsync (version ${c.drift.stateVersion} -> ${c.drift.liveVersion}); the next apply reverts it`;
      out(`! ${c.address}: ${what}\n`);
    }
    printDiagnostics(io, plan.diagnostics);
    out(`Refresh: ${plan.changes.length} resource(s) checked, ${drifted} drifted.\n`);
    const code = planExitCode(plan, false) || (result.failed.length ? 1 : 0);
    if (events) refreshEvents(events, plan, result, store.state);
    return code;
  });
}
