// `opsync apply` on a terminal: the plan to review with the plan view's keys, a question only an explicit
// `yes` answers (as Terraform's: Enter, a stray y or any other answer never applies), then live progress
// (a bar with done/total, rate, elapsed and ETA, the operations running and just finished). Ctrl-C during
// apply aborts the signal: no new operation starts, running ones finish, and `opsync apply` again finishes.
// When the view closes, the caller prints the record of every operation (record.ts).

import { Box, Text, type Key } from 'ink';
import { useEffect, useReducer, useRef, useState } from 'react';
import type { ApplyEvent, ApplyResult, OperationStatus } from '../../apply/types.js';
import { hasChanges, type ChangeAction, type Plan } from '../../plan/types.js';
import { noColorRequested, type Style } from '../color.js';
import { actionMarker, renderApplyEvent, renderProgressBar, verbs } from '../progress.js';
import { createRateMeter, formatCount, formatDuration, type RateMeter } from '../rate.js';
import { inline } from '../sanitize.js';
import { styled, useTerminalSize } from './browser.js';
import { useLatestInput } from './input.js';
import { resultLines, type ApplyRecord, type Declined } from './record.js';
import { Lines, navLine, ReviewBody, useReview } from './review.js';
import { textWidth, truncate, wrapLine } from './wrap.js';

export type Execute = (onEvent: (e: ApplyEvent) => void, signal: AbortSignal) => Promise<ApplyResult>;

export interface ApplyOutcome extends ApplyRecord {
  approved: boolean;
  declined?: Declined;
  result?: ApplyResult;
  /** The last event of each operation that got one, in the plan's order (the record printed after). */
  events?: ApplyEvent[];
  /** execute rejected (a bug or an environment failure, not a failed operation). */
  error?: Error;
}

export interface ApplyViewProps {
  plan: Plan;
  execute: Execute;
  color?: boolean;
  /** Skip the question (--auto-approve). */
  autoApprove?: boolean;
  /** Total lines to use (default: the terminal's rows). */
  height?: number;
  /** Columns (default: the terminal's). */
  width?: number;
  /** Called once, when the view is done (aborted, finished or failed); the caller closes the interface. */
  onFinish?: (outcome: ApplyOutcome) => void;
  /** The clock of elapsed time, rate and ETA (tests give their own). */
  now?: () => number;
  /**
   * Keys typed while the plan was being made, acted on as the review opens; an answer typed ahead is kept
   * in the answer line, but only an Enter pressed once the plan is on screen submits it.
   */
  typedAhead?: readonly [string, Key][];
}

type Phase = 'review' | 'applying' | 'finished';

interface Op {
  address: string;
  action: ChangeAction;
  status: OperationStatus;
  last?: ApplyEvent;
}

/** Only this answer approves (trimmed, any case), as Terraform's "Only 'yes' will be accepted to approve." */
export const APPROVAL = 'yes';

export function isApproval(answer: string): boolean {
  return answer.trim().toLowerCase() === APPROVAL;
}

/** Operation statuses, keyed by address, updated in place as events arrive (thousands of them). */
function useOperations(plan: Plan, onFinished: (finished: number, total: number) => void) {
  const ref = useRef<{ list: Op[]; byAddress: Map<string, Op>; finished: Op[] } | null>(null);
  if (!ref.current) {
    const list = plan.changes.filter((c) => c.action !== 'noop').map((c): Op => ({ address: c.address, action: c.action, status: 'pending' }));
    ref.current = { list, byAddress: new Map(list.map((o) => [o.address, o])), finished: [] };
  }
  const [, bump] = useReducer((n: number) => n + 1, 0);
  const ops = ref.current;
  const onEvent = (e: ApplyEvent) => {
    let op = ops.byAddress.get(e.address);
    if (!op) {
      op = { address: e.address, action: e.action, status: 'pending' };
      ops.list.push(op);
      ops.byAddress.set(e.address, op);
    }
    op.last = e;
    op.status = e.type === 'start' ? 'running' : e.type;
    if (e.type !== 'start') {
      ops.finished.push(op);
      onFinished(ops.finished.length, ops.list.length);
    }
    bump();
  };
  return { ops: ops.list, finished: ops.finished, onEvent };
}

function counts(ops: Op[]): Record<OperationStatus, number> {
  const n: Record<OperationStatus, number> = { pending: 0, running: 0, done: 0, failed: 0, skipped: 0 };
  for (const o of ops) n[o.status] += 1;
  return n;
}

const OP_STYLE: Record<OperationStatus, Style> = { pending: 'comment', running: 'change', done: 'add', failed: 'error', skipped: 'warning' };

function opLine(o: Op): string {
  if (o.last && o.status !== 'running') return renderApplyEvent(o.last);
  return `${actionMarker(o.action)} ${inline(o.address)}: ${verbs(o.action).ing}...`;
}

/** What the progress view lists: the operations just finished (newest last), then those running. */
function opsWindow(finished: Op[], ops: Op[], height: number): Op[] {
  const running = ops.filter((o) => o.status === 'running');
  if (running.length >= height) return running.slice(0, height);
  return [...finished.slice(Math.max(0, finished.length - (height - running.length))), ...running];
}

export function ApplyView({
  plan,
  execute,
  color = !noColorRequested(),
  autoApprove = false,
  height,
  width,
  onFinish,
  now: clock = Date.now,
  typedAhead,
}: ApplyViewProps) {
  const nothingToDo = !hasChanges(plan);
  const [phase, setPhaseState] = useState<Phase>(nothingToDo ? 'finished' : autoApprove ? 'applying' : 'review');
  // Keys can arrive several per render ("yes" and Enter in one read): they must see the phase and the
  // answer the previous key left, not the ones last rendered.
  const phaseRef = useRef(phase);
  const setPhase = (p: Phase) => {
    phaseRef.current = p;
    setPhaseState(p);
  };
  const answer = useRef('');
  const [outcome, setOutcome] = useState<ApplyOutcome | null>(nothingToDo ? { approved: false, declined: 'nothing-to-do' } : null);
  const [interrupting, setInterrupting] = useState(false);
  const [, redraw] = useReducer((n: number) => n + 1, 0); // elapsed time, rate and ETA move while nothing else happens
  const startedAt = useRef(0);
  const controller = useRef<AbortController | null>(null);
  const meter = useRef<RateMeter | null>(null);
  const size = useTerminalSize(height, width);
  const question = wrapLine(
    `${plan.mode === 'destroy' ? 'Destroy these items' : 'Apply these changes'} in ${inline(plan.connectHost)}? Only '${APPROVAL}' will be accepted to approve.`,
    size.width,
    '  ',
  );
  // Below the list: a blank line, the key hint, the question and the answer line.
  const review = useReview(plan, { height: size.height, width: size.width, footerLines: 3 + question.length, mode: 'apply' });
  const { ops, finished, onEvent } = useOperations(plan, (n, total) => meter.current?.update(n, total));

  const start = () => {
    if (controller.current) return;
    const ac = new AbortController();
    controller.current = ac;
    startedAt.current = clock();
    meter.current = createRateMeter(ops.length, { now: clock });
    redraw();
    setPhase('applying');
    const events = () => ops.filter((o) => o.last && o.last.type !== 'start').map((o) => o.last!);
    execute(onEvent, ac.signal).then(
      (result) => {
        setOutcome({ approved: true, result, events: events() });
        setPhase('finished');
      },
      (err: unknown) => {
        setOutcome({ approved: true, events: events(), error: err instanceof Error ? err : new Error(String(err)) });
        setPhase('finished');
      },
    );
  };

  const decline = (declined: Declined) => {
    setOutcome({ approved: false, declined });
    setPhase('finished');
    phaseRef.current = 'finished';
  };

  useEffect(() => {
    if (phase === 'applying' && !controller.current) start();
  }, [phase]); // eslint-disable-line react-hooks/exhaustive-deps

  useEffect(() => {
    if (phase !== 'applying') return;
    const t = setInterval(redraw, 250);
    return () => clearInterval(t);
  }, [phase]);

  // Tell the caller once the final frame is on screen.
  const told = useRef(false);
  useEffect(() => {
    if (phase === 'finished' && outcome && !told.current) {
      told.current = true;
      onFinish?.(outcome);
    }
  }, [phase, outcome]); // eslint-disable-line react-hooks/exhaustive-deps

  const onKey = (input: string, key: Key, replaying = false) => {
    const phase = phaseRef.current;
    if (phase === 'review') {
      const a = answer.current;
      if (a && !(key.ctrl && input === 'c')) {
        // An answer is being typed: every printable key is part of it.
        if (key.return) {
          if (replaying) return; // typed before the plan was on screen: wait for an Enter after it
          if (isApproval(a)) start();
          else decline('not-yes');
        } else if (key.escape) answer.current = '';
        else if (key.backspace || key.delete) answer.current = a.slice(0, -1);
        else if (input && !key.ctrl && !key.meta && !key.tab && !key.upArrow && !key.downArrow) answer.current = a + input;
        redraw();
        return;
      }
      const r = review.handleKey(input, key);
      if (r === 'quit') return decline('aborted');
      if (r === 'handled') return;
      // A key the browser does not use starts the answer (y of yes); Enter alone never answers.
      if (input && !key.ctrl && !key.meta && !key.return && !key.escape && input !== ' ') {
        answer.current = input;
        redraw();
      }
      return;
    }
    if (phase === 'applying' && key.ctrl && input === 'c' && controller.current && !controller.current.signal.aborted) {
      controller.current.abort();
      setInterrupting(true);
    }
  };
  useLatestInput((input, key) => onKey(input, key));
  const replay = useRef(onKey);
  replay.current = onKey;
  useEffect(() => {
    for (const [i, k] of typedAhead ?? []) replay.current(i, k, true);
  }, []); // eslint-disable-line react-hooks/exhaustive-deps

  if (phase === 'review') {
    const a = answer.current;
    const hint = !a
      ? `(type ${APPROVAL}, then Enter, to apply · q aborts · ? keys)`
      : isApproval(a)
        ? '(Enter applies · Esc clears)'
        : APPROVAL.startsWith(a.toLowerCase())
          ? '(Esc clears)'
          : `(Enter cancels: only '${APPROVAL}' approves · Esc clears)`;
    const prompt = `Enter a value: ${truncate(inline(a), Math.max(8, size.width - 20))}█ `;
    return (
      <Box flexDirection="column">
        <Lines lines={review.header} color={color} />
        <ReviewBody review={review} color={color} empty="Nothing to change." />
        <Text> </Text>
        <Text wrap="truncate-end">{navLine(review.browser, review, 'Enter expand · e/c all · / filter · ? keys · q abort')}</Text>
        <Lines lines={question.map((text) => ({ text, style: 'heading' as const }))} color={color} />
        <Text wrap="truncate-end">
          {prompt}
          <Text {...styled(a && !APPROVAL.startsWith(a.toLowerCase()) ? 'warning' : 'comment', color)}>{truncate(hint, Math.max(1, size.width - textWidth(prompt)))}</Text>
        </Text>
      </Box>
    );
  }

  if (phase === 'finished' && outcome) {
    // Seen for a moment only: the caller erases the frame and prints the record of every operation.
    if (!outcome.approved) {
      return (
        <Text>
          {outcome.declined === 'nothing-to-do'
            ? 'No changes. Nothing to apply.'
            : outcome.declined === 'not-yes'
              ? "Apply cancelled: only 'yes' approves. Nothing was changed."
              : 'Apply aborted: nothing was changed.'}
        </Text>
      );
    }
    if (outcome.error) return <Text {...styled('error', color)}>{`Apply stopped by an error: ${inline(outcome.error.message)}`}</Text>;
    if (outcome.result) {
      const lines = resultLines(plan, outcome.result).flatMap((l) => wrapLine(l.text, size.width).map((text) => ({ text, style: l.style })));
      return <Lines lines={lines} color={color} />;
    }
  }

  const n = counts(ops);
  const elapsed = meter.current ? Math.max(0, clock() - startedAt.current) : 0;
  const bar = meter.current ? `${renderProgressBar(meter.current.snapshot())} · ${formatDuration(elapsed)} elapsed` : '';
  const head = wrapLine(
    `Applying: ${formatCount(n.done)}/${formatCount(ops.length)} done · ${formatCount(n.failed)} failed · ${formatCount(n.running)} running · ${formatCount(n.pending)} pending${
      n.skipped ? ` · ${formatCount(n.skipped)} skipped` : ''
    }`,
    size.width,
    '  ',
  );
  const note = wrapLine(
    interrupting
      ? `Interrupting: no new operations start; waiting for ${n.running} running to finish and saving the state. Then \`opsync ${plan.mode === 'destroy' ? 'destroy' : 'apply'}\` again finishes the job.`
      : 'Ctrl-C stops starting new operations (running ones finish and are saved); the record of every operation is printed at the end.',
    size.width,
    '  ',
  );
  const barLines = wrapLine(bar, size.width, '  ');
  const windowHeight = Math.max(1, size.height - head.length - barLines.length - note.length - 1);
  const shown = opsWindow(finished, ops, windowHeight);
  return (
    <Box flexDirection="column">
      <Lines lines={head.map((text) => ({ text, style: 'heading' as const }))} color={color} />
      <Lines lines={barLines.map((text) => ({ text, style: n.failed ? 'warning' : 'add' }))} color={color} />
      <Lines lines={note.map((text) => ({ text, style: interrupting ? 'warning' : 'comment' }))} color={color} />
      <Text> </Text>
      {shown.map((o) => (
        <Text key={o.address} wrap="truncate-end" {...styled(OP_STYLE[o.status], color)}>
          {truncate(opLine(o), size.width)}
        </Text>
      ))}
    </Box>
  );
}
