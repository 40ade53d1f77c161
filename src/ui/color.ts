// Colour for terminal renderings: plain ANSI SGR codes, only when asked for, and never when NO_COLOR is set.

/** The styles a rendered line can carry; each renderer maps them to its own output (ANSI codes, Ink colours). */
export type Style =
  | 'plain'
  | 'add'
  | 'remove'
  | 'change'
  | 'replace'
  | 'forget'
  | 'drift'
  | 'comment'
  | 'hunk'
  | 'error'
  | 'warning'
  | 'heading';

/** NO_COLOR (https://no-color.org): present and not empty disables colour, whatever else asks for it. */
export function noColorRequested(env: NodeJS.ProcessEnv = process.env): boolean {
  return env.NO_COLOR !== undefined && env.NO_COLOR !== '';
}

/**
 * Whether to colour output: an explicit choice (e.g. --no-color gives false) wins, else colour on a TTY;
 * NO_COLOR always turns it off.
 */
export function colorEnabled(explicit: boolean | undefined, isTTY: boolean | undefined, env: NodeJS.ProcessEnv = process.env): boolean {
  if (noColorRequested(env)) return false;
  return explicit ?? isTTY === true;
}

const SGR: Record<Style, string> = {
  plain: '',
  add: '\u001b[32m',
  remove: '\u001b[31m',
  change: '\u001b[33m',
  replace: '\u001b[35m',
  forget: '\u001b[34m',
  drift: '\u001b[36m',
  comment: '\u001b[2m',
  hunk: '\u001b[36m',
  error: '\u001b[1;31m',
  warning: '\u001b[1;33m',
  heading: '\u001b[1m',
};

export function paint(text: string, style: Style, color: boolean): string {
  const code = SGR[style];
  return color && code !== '' ? `${code}${text}\u001b[0m` : text;
}

/** Ink colour names for the same styles (used only when colour is on). */
export const INK_COLOR: Record<Style, string | undefined> = {
  plain: undefined,
  add: 'green',
  remove: 'red',
  change: 'yellow',
  replace: 'magenta',
  forget: 'blue',
  drift: 'cyan',
  comment: 'gray',
  hunk: 'cyan',
  error: 'red',
  warning: 'yellow',
  heading: undefined,
};
