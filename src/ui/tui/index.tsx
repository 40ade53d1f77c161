// Entry points for the terminal interface (call them only on a TTY; without one, use the text renderers).
// Each view is drawn in place; when it closes its frame is erased and the record is printed instead (the
// diagnostics on stderr, the summary or the per-operation record on stdout: record.ts), so what stays on the
// normal screen reads like the text mode's output.

import { render, type Instance, type Key } from 'ink';
import type { ApplyResult } from '../../apply/types.js';
import { UserError } from '../../errors.js';
import type { Plan } from '../../plan/types.js';
import { colorEnabled, paint } from '../color.js';
import { ApplyView, type ApplyOutcome, type Execute } from './ApplyView.js';
import { PlanView } from './PlanView.js';
import { createProgressStore, PlanningView } from './PlanningView.js';
import { applyExitLines, isQuietPlan, planExitLines, type ExitLine } from './record.js';

export { ApplyView, PlanView, PlanningView };
export type { ApplyOutcome, ApplyViewProps, Execute } from './ApplyView.js';
export type { PlanViewProps } from './PlanView.js';

export interface TuiOptions {
  /** false for --no-color; NO_COLOR always turns colour off. */
  color?: boolean;
  /** Where the record goes once the view is closed (default: process.stdout and process.stderr). */
  out?: (text: string) => void;
  err?: (text: string) => void;
}

/** Keys typed while the last plan was being made, for the view that shows it. */
let typedAhead: [string, Key][] = [];

function takeTypedAhead(): [string, Key][] {
  const keys = typedAhead;
  typedAhead = [];
  return keys;
}

/**
 * Close an Ink app leaving nothing behind: let a pending (throttled) frame be drawn, erase it, unmount
 * (whose last frame is then the same and is not drawn again). `get` is read after the first wait, so a view
 * may ask to close while it is still being mounted.
 */
async function closeApp(get: () => Instance): Promise<void> {
  await new Promise((r) => setTimeout(r, 50));
  const app = get();
  const exited = app.waitUntilExit();
  app.clear();
  app.unmount();
  await exited;
}

function writeLines(lines: ExitLine[], opts: TuiOptions, color: boolean): void {
  const out = opts.out ?? ((t: string) => void process.stdout.write(t));
  const err = opts.err ?? ((t: string) => void process.stderr.write(t));
  // Colour only on stdout (stderr output is escaped as a whole by the commands' writer).
  for (const l of lines) (l.stream === 'out' ? out : err)(`${l.stream === 'out' ? paint(l.text, l.style, color) : l.text}\n`);
}

/**
 * While a plan is made: an Ink view of `refreshing 1,200/3,000 items (40%)` (after a short delay) that keeps
 * the keys typed meanwhile for the view that opens next. `clear()` closes it (call it whatever happens, before
 * anything else is printed); Ctrl-C stops the plan (makePlan rejects at its next progress report with a
 * UserError): nothing is changed yet.
 */
export function planningProgress(opts: TuiOptions & { delayMs?: number } = {}): {
  onProgress: (done: number, total: number) => void;
  clear(): Promise<void>;
} {
  const color = colorEnabled(opts.color, true);
  const store = createProgressStore();
  const keys: [string, Key][] = [];
  typedAhead = keys;
  let closed: Promise<void> | undefined;
  const clear = () => (closed ??= closeApp(() => app));
  // Ctrl-C: the next progress report stops the plan with one line (the command's cleanup runs: the state lock
  // is released); a plan stuck on a request is ended as without the view, by the signal's default action.
  let interrupted = false;
  const interrupt = () => {
    if (interrupted) return;
    interrupted = true;
    void clear();
    setTimeout(() => {
      (opts.err ?? ((t: string) => void process.stderr.write(t)))('opsync: interrupted while planning; nothing was changed.\n');
      process.kill(process.pid, 'SIGINT');
    }, 3000).unref();
  };
  const onKey = (input: string, key: Key) => {
    keys.push([input, key]);
    store.typed(keys.length);
  };
  const app = render(<PlanningView store={store} color={color} delayMs={opts.delayMs} onKey={onKey} onInterrupt={interrupt} />, {
    exitOnCtrlC: false,
  });
  const onProgress = (done: number, total: number) => {
    if (interrupted) throw new UserError('interrupted while planning; nothing was changed');
    store.progress(done, total);
  };
  return { onProgress, clear };
}

/**
 * Browse a plan until q / Esc / Ctrl-C, then print its diagnostics (stderr) and summary line (stdout). A plan
 * with nothing to do opens no view: its summary line (and any warning) is printed at once.
 */
export async function runPlanTui(plan: Plan, opts: TuiOptions = {}): Promise<void> {
  const color = colorEnabled(opts.color, true);
  const keys = takeTypedAhead();
  if (isQuietPlan(plan)) return writeLines(planExitLines(plan), opts, color);
  let closing: Promise<void> | undefined;
  const app: Instance = render(<PlanView plan={plan} color={color} typedAhead={keys} onQuit={() => void (closing ??= closeApp(() => app))} />, {
    exitOnCtrlC: false,
  });
  await app.waitUntilExit();
  writeLines(planExitLines(plan), opts, color);
}

/**
 * Show the plan and ask; only `yes` (then Enter) runs `execute` with live progress; anything else resolves
 * { approved: false } without calling it. Ctrl-C during apply aborts the signal given to execute (which stops
 * starting operations and still resolves with its result). The record (one line per operation, the summary)
 * is printed once the view is closed. Rejects if execute rejects.
 */
export async function runApplyTui(
  plan: Plan,
  execute: Execute,
  opts: TuiOptions & { autoApprove?: boolean } = {},
): Promise<{ approved: boolean; result?: ApplyResult }> {
  const color = colorEnabled(opts.color, true);
  const keys = takeTypedAhead();
  let outcome: ApplyOutcome = { approved: false, declined: 'aborted' };
  let closing: Promise<void> | undefined;
  const app: Instance = render(
    <ApplyView
      plan={plan}
      execute={execute}
      color={color}
      autoApprove={opts.autoApprove}
      typedAhead={keys}
      onFinish={(o) => {
        outcome = o;
        closing ??= closeApp(() => app);
      }}
    />,
    { exitOnCtrlC: false },
  );
  await app.waitUntilExit();
  writeLines(applyExitLines(plan, outcome), opts, color);
  if (outcome.error) throw outcome.error;
  return outcome.result ? { approved: outcome.approved, result: outcome.result } : { approved: outcome.approved };
}
