// `opsync plan` on a terminal: the summary, the changed items grouped by vault, expandable into their
// field-by-field diff, filterable, windowed so thousands of items stay responsive.

import { Box, Text, useApp } from 'ink';
import { useLatestInput } from './input.js';
import { hasChanges, type Plan } from '../../plan/types.js';
import { noColorRequested } from '../color.js';
import { summaryLine } from '../present.js';
import { inline } from '../sanitize.js';
import { BrowserList, useListHeight, usePlanBrowser, type Browser } from './browser.js';

export interface PlanViewProps {
  plan: Plan;
  /** Colour; default on unless NO_COLOR is set. */
  color?: boolean;
  /** Total lines to use (default: the terminal's rows). */
  height?: number;
  /** Called on q / Esc / Ctrl-C; the view also exits its Ink app. */
  onQuit?: () => void;
}

/** Lines around the list: header (2) and footer (2). */
const RESERVED = 4;

export function PlanHeader({ plan, color }: { plan: Plan; color: boolean }) {
  return (
    <Box flexDirection="column">
      <Text bold={color} wrap="truncate-end">
        {summaryLine(plan, hasChanges(plan))}
      </Text>
      <Text wrap="truncate-end" {...(color ? { color: 'gray' } : {})}>
        {`Connect ${inline(plan.connectHost)}${plan.mode === 'destroy' ? ' · destroy' : ''}${
          plan.diagnostics.length ? ` · ${plan.diagnostics.length} diagnostic${plan.diagnostics.length === 1 ? '' : 's'} (see opsync plan --format text)` : ''
        }`}
      </Text>
    </Box>
  );
}

export function BrowserFooter({ browser, help }: { browser: Browser; help: string }) {
  const pos = browser.count ? `${browser.selected + 1}/${browser.count}` : '0/0';
  if (browser.filtering) return <Text wrap="truncate-end">{`/${browser.filter}█  (Enter keep · Esc clear)`}</Text>;
  const filter = browser.filter ? ` · filter /${inline(browser.filter)}` : '';
  return <Text wrap="truncate-end">{`[${pos}]${filter} · ${help}`}</Text>;
}

export function PlanView({ plan, color = !noColorRequested(), height, onQuit }: PlanViewProps) {
  const { exit } = useApp();
  const browser = usePlanBrowser(plan, useListHeight(height, RESERVED));
  useLatestInput((input, key) => {
    if (key.ctrl && input === 'c') return quit();
    if (browser.handleKey(input, key)) return;
    if (input === 'q' || key.escape) quit();
  });
  function quit() {
    onQuit?.();
    exit();
  }
  const empty = browser.filter ? `No item matches "${inline(browser.filter)}".` : 'Nothing to change.';
  return (
    <Box flexDirection="column">
      <PlanHeader plan={plan} color={color} />
      <BrowserList browser={browser} color={color} empty={empty} />
      <Text> </Text>
      <BrowserFooter browser={browser} help="↑↓ move · Enter expand · / filter · q quit" />
    </Box>
  );
}
