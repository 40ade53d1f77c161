// Wrapping for the terminal views: a long line becomes several screen lines (never an unreadable `…`), and
// the views know how many lines each part takes, so the frame stays exactly as tall as the terminal allows.
// Text reaching here is already escaped (src/ui/sanitize.ts): no control characters, no ANSI.

/** Characters that take two columns (CJK, fullwidth forms, most emoji). */
const WIDE = /[\u1100-\u115F\u2E80-\u303E\u3041-\u33FF\u3400-\u4DBF\u4E00-\u9FFF\uA000-\uA4CF\uAC00-\uD7A3\uF900-\uFAFF\uFE30-\uFE4F\uFF00-\uFF60\uFFE0-\uFFE6]|[\u{1F300}-\u{1F64F}\u{1F900}-\u{1F9FF}\u{1FA70}-\u{1FAFF}\u{20000}-\u{3FFFD}]/u;
/** Combining marks and zero-width characters take none. */
const ZERO = /[\u0300-\u036F\u200B-\u200F\u20D0-\u20FF\uFE00-\uFE0F]/u;

function charWidth(ch: string): number {
  if (ZERO.test(ch)) return 0;
  return WIDE.test(ch) ? 2 : 1;
}

/** Columns a string takes on a terminal. */
export function textWidth(s: string): number {
  let w = 0;
  for (const ch of s) w += charWidth(ch);
  return w;
}

/**
 * `text` as lines of at most `width` columns: broken at spaces where possible, else inside a word; the
 * lines after the first start with `indent` (default: the text's own leading spaces and two more).
 */
export function wrapLine(text: string, width: number, indent?: string): string[] {
  const w = Math.max(8, width);
  if (textWidth(text) <= w) return [text];
  const cont = indent ?? `${/^ */.exec(text)?.[0] ?? ''}  `;
  const contWidth = textWidth(cont) >= w - 4 ? '' : cont;
  const out: string[] = [];
  let line = '';
  let lineWidth = 0;
  let lastSpace = -1; // index in `line` just after the last space, where a break can go
  const chars = [...text];
  for (const ch of chars) {
    const cw = charWidth(ch);
    if (lineWidth + cw > w) {
      const head = out.length === 0 ? '' : contWidth;
      if (lastSpace > head.length && ch !== ' ') {
        out.push(line.slice(0, lastSpace).trimEnd());
        line = contWidth + line.slice(lastSpace);
      } else {
        out.push(line.trimEnd());
        line = contWidth;
      }
      if (ch === ' ' && line === contWidth) {
        lineWidth = textWidth(line);
        lastSpace = -1;
        continue;
      }
      lineWidth = textWidth(line);
      lastSpace = -1;
    }
    line += ch;
    lineWidth += cw;
    if (ch === ' ') lastSpace = line.length;
  }
  if (line.trim() !== '' || out.length === 0) out.push(line);
  return out;
}

/** Several lines wrapped, each with its own continuation indent. */
export function wrapLines(lines: readonly string[], width: number): string[] {
  return lines.flatMap((l) => wrapLine(l, width));
}

/** Cut to `width` columns, ending in `…` when cut (for hints only: values and counts wrap). */
export function truncate(text: string, width: number): string {
  if (textWidth(text) <= width) return text;
  let out = '';
  let w = 0;
  for (const ch of text) {
    const cw = charWidth(ch);
    if (w + cw > width - 1) break;
    out += ch;
    w += cw;
  }
  return `${out}…`;
}
