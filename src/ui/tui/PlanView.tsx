// `opsync plan` on a terminal: the diagnostics in full, the summary, the changed items grouped by vault,
// expandable into their field-by-field diff, filterable, windowed so thousands of items stay responsive.

import { Text, type Key } from 'ink';
import { Box } from 'ink';
import { useEffect, useRef } from 'react';
import type { Plan } from '../../plan/types.js';
import { noColorRequested } from '../color.js';
import { inline } from '../sanitize.js';
import { useTerminalSize } from './browser.js';
import { useLatestInput } from './input.js';
import { Lines, navLine, ReviewBody, useReview } from './review.js';

export interface PlanViewProps {
  plan: Plan;
  /** Colour; default on unless NO_COLOR is set. */
  color?: boolean;
  /** Total lines to use (default: the terminal's rows). */
  height?: number;
  /** Columns (default: the terminal's). */
  width?: number;
  /** Called once, on q / Esc / Ctrl-C; the caller closes the interface. */
  onQuit?: () => void;
  /** Keys typed while the plan was being made, acted on as the view opens. */
  typedAhead?: readonly [string, Key][];
}

/** Lines below the list: a blank one and the key hint. */
const FOOTER = 2;

export function PlanView({ plan, color = !noColorRequested(), height, width, onQuit, typedAhead }: PlanViewProps) {
  const size = useTerminalSize(height, width);
  const review = useReview(plan, { height: size.height, width: size.width, footerLines: FOOTER, mode: 'plan' });
  const quitted = useRef(false);
  const onKey = (input: string, key: Key) => {
    if (quitted.current) return;
    if (review.handleKey(input, key) === 'quit') {
      quitted.current = true;
      onQuit?.();
    }
  };
  useLatestInput(onKey);
  const replay = useRef(onKey);
  replay.current = onKey;
  useEffect(() => {
    for (const [i, k] of typedAhead ?? []) replay.current(i, k);
  }, []); // eslint-disable-line react-hooks/exhaustive-deps

  const { browser } = review;
  const empty = browser.filter ? `No item matches "${inline(browser.filter)}".` : plan.mode === 'refresh-only' ? 'No drift.' : 'Nothing to change.';
  return (
    <Box flexDirection="column">
      <Lines lines={review.header} color={color} />
      <ReviewBody review={review} color={color} empty={empty} />
      <Text> </Text>
      <Text wrap="truncate-end">{navLine(browser, review, 'Enter expand · e/c all · / filter · ? keys · q quit')}</Text>
    </Box>
  );
}
