// `opsync apply` on a terminal: the plan to review, "Apply these changes? (y/N)", then live progress per
// operation and a summary that stays on screen. Ctrl-C during apply aborts the signal: no new operation
// starts, running ones finish, and the summary lists what was left undone.

import { Box, Text, useApp } from 'ink';
import { useLatestInput } from './input.js';
import { useEffect, useReducer, useRef, useState } from 'react';
import type { ApplyEvent, ApplyResult, OperationStatus } from '../../apply/types.js';
import { hasChanges, type ChangeAction, type Plan } from '../../plan/types.js';
import { INK_COLOR, noColorRequested, type Style } from '../color.js';
import { actionMarker, formatElapsed, renderProgressBar, resultHeadline, verbs } from '../progress.js';
import { createRateMeter, type RateMeter } from '../rate.js';
import { inline } from '../sanitize.js';
import { BrowserFooter, PlanHeader } from './PlanView.js';
import { BrowserList, useListHeight, usePlanBrowser } from './browser.js';

export type Execute = (onEvent: (e: ApplyEvent) => void, signal: AbortSignal) => Promise<ApplyResult>;

export interface ApplyOutcome {
  approved: boolean;
  result?: ApplyResult;
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
  /** Called once, when the view is done (aborted, finished or failed); the view then exits its Ink app. */
  onFinish?: (outcome: ApplyOutcome) => void;
  /** The clock of elapsed time, rate and ETA (tests give their own). */
  now?: () => number;
}

type Phase = 'review' | 'applying' | 'finished';

interface Op {
  address: string;
  action: ChangeAction;
  status: OperationStatus;
  detail?: string;
}

/** Cap on names listed in the final summary (the full lists are in the ApplyResult). */
const LIST_CAP = 20;

const STATUS_STYLE: Record<OperationStatus, Style> = {
  pending: 'comment',
  running: 'change',
  done: 'add',
  failed: 'error',
  skipped: 'warning',
};

function ink(style: Style, color: boolean): { color?: string } {
  const c = color ? INK_COLOR[style] : undefined;
  return c ? { color: c } : {};
}

/** Operation statuses, keyed by address, updated in place as events arrive (thousands of them). */
function useOperations(plan: Plan, onFinished: (finished: number, total: number) => void) {
  const ref = useRef<{ list: Op[]; byAddress: Map<string, Op>; finished: number } | null>(null);
  if (!ref.current) {
    const list = plan.changes.filter((c) => c.action !== 'noop').map((c): Op => ({ address: c.address, action: c.action, status: 'pending' }));
    ref.current = { list, byAddress: new Map(list.map((o) => [o.address, o])), finished: 0 };
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
    if (e.type === 'start') op.status = 'running';
    else if (e.type === 'done') {
      op.status = 'done';
      const at = [e.itemId && `item ${inline(e.itemId)}`, e.version !== undefined && `version ${e.version}`].filter(Boolean);
      op.detail = at.length ? at.join(', ') : undefined;
    } else if (e.type === 'failed') {
      op.status = 'failed';
      op.detail = inline(e.error);
    } else {
      op.status = 'skipped';
      op.detail = inline(e.reason);
    }
    if (e.type !== 'start') onFinished((ops.finished += 1), ops.list.length);
    bump();
  };
  return { ops: ops.list, onEvent };
}

function counts(ops: Op[]): Record<OperationStatus, number> {
  const n: Record<OperationStatus, number> = { pending: 0, running: 0, done: 0, failed: 0, skipped: 0 };
  for (const o of ops) n[o.status] += 1;
  return n;
}

function opLine(o: Op): string {
  const a = actionMarker(o.action);
  const v = verbs(o.action);
  const what =
    o.status === 'pending'
      ? `${v.noun} pending`
      : o.status === 'running'
        ? `${v.ing}...`
        : o.status === 'done'
          ? `${v.ed}${o.detail ? ` (${o.detail})` : ''}`
          : o.status === 'failed'
            ? `${v.noun} failed: ${o.detail ?? ''}`
            : `${v.noun} skipped: ${o.detail ?? ''}`;
  return `${`[${o.status}]`.padEnd(10)}${a.padEnd(4)}${inline(o.address)}: ${what}`;
}

/** The window of operations to show: from just before the first unfinished one. */
function opsWindow(ops: Op[], height: number): { top: number; slice: Op[] } {
  let first = ops.findIndex((o) => o.status === 'running' || o.status === 'pending');
  if (first < 0) first = ops.length;
  const top = Math.max(0, Math.min(first - 2, ops.length - height));
  return { top, slice: ops.slice(top, top + height) };
}

function Summary({ result, plan, color }: { result: ApplyResult; plan: Plan; color: boolean }) {
  const lines: { text: string; style: Style }[] = [];
  const style: Style = result.interrupted || result.failed.length ? 'warning' : 'add';
  lines.push({ text: resultHeadline(result, plan), style });
  if (result.interrupted) {
    lines.push({ text: `interrupted: ${result.skipped.length} operation${result.skipped.length === 1 ? '' : 's'} not started`, style: 'warning' });
  }
  const list = (title: string, entries: { address: string; action: ChangeAction; why: string }[], s: Style) => {
    if (!entries.length) return;
    lines.push({ text: title, style: 'heading' });
    for (const e of entries.slice(0, LIST_CAP)) lines.push({ text: `  ${inline(e.address)} (${e.action}): ${inline(e.why)}`, style: s });
    if (entries.length > LIST_CAP) lines.push({ text: `  … and ${entries.length - LIST_CAP} more`, style: s });
  };
  list('Failed:', result.failed.map((f) => ({ ...f, why: f.error })), 'error');
  list('Left undone:', result.skipped.map((f) => ({ ...f, why: f.reason })), 'warning');
  return (
    <Box flexDirection="column">
      {lines.map((l, i) => (
        // The headline wraps (its counts matter more than one line); the lists under it stay one line each.
        <Text key={i} wrap={i === 0 ? 'wrap' : 'truncate-end'} bold={color && l.style === 'heading'} {...ink(l.style, color)}>
          {l.text}
        </Text>
      ))}
    </Box>
  );
}

export function ApplyView({ plan, execute, color = !noColorRequested(), autoApprove = false, height, onFinish, now: clock = Date.now }: ApplyViewProps) {
  const { exit } = useApp();
  const nothingToDo = !hasChanges(plan);
  const [phase, setPhaseState] = useState<Phase>(nothingToDo ? 'finished' : autoApprove ? 'applying' : 'review');
  // Keys can arrive several per render ("y" and Enter in one read): they must see the phase the previous
  // key left, not the one last rendered, or Enter after y would "abort" an apply already started.
  const phaseRef = useRef(phase);
  const setPhase = (p: Phase) => {
    phaseRef.current = p;
    setPhaseState(p);
  };
  const [outcome, setOutcome] = useState<ApplyOutcome | null>(nothingToDo ? { approved: false } : null);
  const [interrupting, setInterrupting] = useState(false);
  const [, redraw] = useReducer((n: number) => n + 1, 0); // elapsed time, rate and ETA move while nothing else happens
  const startedAt = useRef(0);
  const controller = useRef<AbortController | null>(null);
  const meter = useRef<RateMeter | null>(null);
  const listHeight = useListHeight(height, 6);
  const browser = usePlanBrowser(plan, listHeight);
  const { ops, onEvent } = useOperations(plan, (finished, total) => meter.current?.update(finished, total));

  const start = () => {
    if (controller.current) return;
    const ac = new AbortController();
    controller.current = ac;
    startedAt.current = clock();
    meter.current = createRateMeter(ops.length, { now: clock });
    redraw();
    setPhase('applying');
    execute(onEvent, ac.signal).then(
      (result) => {
        setOutcome({ approved: true, result });
        setPhase('finished');
      },
      (err: unknown) => {
        setOutcome({ approved: true, error: err instanceof Error ? err : new Error(String(err)) });
        setPhase('finished');
      },
    );
  };

  useEffect(() => {
    if (phase === 'applying' && !controller.current) start();
  }, [phase]); // eslint-disable-line react-hooks/exhaustive-deps

  useEffect(() => {
    if (phase !== 'applying') return;
    const t = setInterval(redraw, 250);
    return () => clearInterval(t);
  }, [phase]);

  // Tell the caller and leave once the final frame is on screen.
  useEffect(() => {
    if (phase === 'finished' && outcome) {
      onFinish?.(outcome);
      exit();
    }
  }, [phase, outcome]); // eslint-disable-line react-hooks/exhaustive-deps

  useLatestInput((input, key) => {
    const phase = phaseRef.current;
    if (phase === 'review') {
      if (input === 'y' || input === 'Y' || input.toLowerCase() === 'yes') return start();
      // Scrolling and expanding are not answers; anything else (Enter, n, Esc, Ctrl-C, ...) is a no.
      if (!(key.ctrl && input === 'c') && !key.return && browser.handleKey(input, key, { allowFilter: false, allowEnter: false, allowLetters: false })) return;
      setOutcome({ approved: false });
      setPhase('finished');
      return;
    }
    if (phase === 'applying' && key.ctrl && input === 'c' && controller.current && !controller.current.signal.aborted) {
      controller.current.abort();
      setInterrupting(true);
    }
  });

  if (phase === 'review') {
    return (
      <Box flexDirection="column">
        <PlanHeader plan={plan} color={color} />
        <BrowserList browser={browser} color={color} empty="Nothing to change." />
        <BrowserFooter browser={browser} help="↑↓ scroll · Tab/→ expand · ← collapse" />
        <Text> </Text>
        <Text bold={color}>Apply these changes? (y/N) </Text>
        <Text {...ink('comment', color)}>Only y applies; any other key aborts and changes nothing.</Text>
      </Box>
    );
  }

  if (phase === 'finished' && outcome) {
    if (!outcome.approved) {
      return <Text>{nothingToDo ? 'No changes. Nothing to apply.' : 'Apply aborted: nothing was changed.'}</Text>;
    }
    if (outcome.error) {
      return <Text {...ink('error', color)}>{`Apply stopped by an error: ${inline(outcome.error.message)}`}</Text>;
    }
    if (outcome.result) return <Summary result={outcome.result} plan={plan} color={color} />;
  }

  const n = counts(ops);
  const elapsed = formatElapsed(meter.current ? Math.max(0, clock() - startedAt.current) : 0);
  const bar = meter.current ? renderProgressBar(meter.current.snapshot()) : '';
  const { top, slice } = opsWindow(ops, listHeight);
  return (
    <Box flexDirection="column">
      <Text bold={color} wrap="truncate-end">
        {`Applying: ${n.done}/${ops.length} done · ${n.failed} failed · ${n.running} running · ${n.pending} pending${
          n.skipped ? ` · ${n.skipped} skipped` : ''
        } · ${elapsed}`}
      </Text>
      <Text wrap="truncate-end" {...ink(n.failed ? 'warning' : 'add', color)}>
        {bar}
      </Text>
      <Text wrap="truncate-end" {...ink(interrupting ? 'warning' : 'comment', color)}>
        {interrupting
          ? `Interrupting: no new operations start; waiting for ${n.running} running to finish...`
          : 'Ctrl-C stops starting new operations (running ones finish and are saved).'}
      </Text>
      {slice.map((o, i) => (
        <Text key={top + i} wrap="truncate-end" {...ink(STATUS_STYLE[o.status], color)}>
          {opLine(o)}
        </Text>
      ))}
    </Box>
  );
}
