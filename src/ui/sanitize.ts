// Values in a plan come partly from live items that anyone with vault access can edit: before a value reaches
// a terminal or a pull request it is stripped of control characters (an ESC could rewrite the screen) and of
// bidirectional overrides (which make text read differently from what it is), shown as \u escapes.

const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u200e\u200f\u2028-\u202e\u2066-\u2069]/g;
const CONTROL_AND_NEWLINE = /[\u0000-\u0008\u000a-\u001f\u007f-\u009f\u200e\u200f\u2028-\u202e\u2066-\u2069]/g;

function escapeChar(c: string): string {
  return `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;
}

/** One line of text: every control character (newline included) escaped. */
export function inline(s: string): string {
  return s.replace(CONTROL_AND_NEWLINE, (c) => (c === '\n' ? '\\n' : escapeChar(c)));
}

/** Text that may span lines (messages): newlines kept, other control characters escaped. */
export function multiline(s: string): string {
  return s.replace(/\r\n/g, '\n').replace(CONTROL, escapeChar);
}

const CONTROL_BUT_LINE_BREAKS = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\u200e\u200f\u2028-\u202e\u2066-\u2069]/g;

/**
 * Every control character escaped as `inline` escapes it, but CR and LF kept: for encodings that carry line
 * breaks safely themselves (GitHub workflow-command data turns them into %0D and %0A).
 */
export function controls(s: string): string {
  return s.replace(CONTROL_BUT_LINE_BREAKS, escapeChar);
}

/** A value as a reviewer reads it: strings quoted (JSON escapes), anything else as compact JSON. */
export function formatValue(v: unknown): string {
  if (v === undefined) return '(none)';
  const json = JSON.stringify(v);
  return inline(json === undefined ? String(v) : json);
}
