// Entry points for the terminal interface (call them only on a TTY; without one, use the text renderers).

import { render } from 'ink';
import type { ApplyResult } from '../../apply/types.js';
import type { Plan } from '../../plan/types.js';
import { colorEnabled } from '../color.js';
import { ApplyView, type ApplyOutcome, type Execute } from './ApplyView.js';
import { PlanView } from './PlanView.js';

export { ApplyView, PlanView };
export type { ApplyOutcome, ApplyViewProps, Execute } from './ApplyView.js';
export type { PlanViewProps } from './PlanView.js';

export interface TuiOptions {
  /** false for --no-color; NO_COLOR always turns colour off. */
  color?: boolean;
}

/** Browse a plan until q / Esc / Ctrl-C. */
export async function runPlanTui(plan: Plan, opts: TuiOptions = {}): Promise<void> {
  const color = colorEnabled(opts.color, true);
  const app = render(<PlanView plan={plan} color={color} />, { exitOnCtrlC: false });
  await app.waitUntilExit();
}

/**
 * Show the plan and ask "Apply these changes? (y/N)". y runs `execute` with live progress; anything else
 * resolves { approved: false } without calling it. Ctrl-C during apply aborts the signal given to execute
 * (which stops starting operations and still resolves with its result). Rejects if execute rejects.
 */
export async function runApplyTui(
  plan: Plan,
  execute: Execute,
  opts: TuiOptions & { autoApprove?: boolean } = {},
): Promise<{ approved: boolean; result?: ApplyResult }> {
  const color = colorEnabled(opts.color, true);
  let outcome: ApplyOutcome = { approved: false };
  const app = render(
    <ApplyView plan={plan} execute={execute} color={color} autoApprove={opts.autoApprove} onFinish={(o) => (outcome = o)} />,
    { exitOnCtrlC: false },
  );
  await app.waitUntilExit();
  if (outcome.error) throw outcome.error;
  return outcome.result ? { approved: outcome.approved, result: outcome.result } : { approved: outcome.approved };
}
