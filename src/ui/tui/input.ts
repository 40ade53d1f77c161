// Keyboard input for the views.
// - The handler of the latest render is used: Ink re-subscribes handlers in a passive effect, which may run
//   after the next key arrives.
// - Text that arrives in one read ("y" and Enter typed fast, a pasted filter) reaches Ink as one string;
//   it is split back into single keys, so "y\r" is y then Enter, not an unknown key.

import { useInput, type Key } from 'ink';
import { useCallback, useRef } from 'react';

type Handler = (input: string, key: Key) => void;

function blank(key: Key): Key {
  const out = { ...key } as Record<string, unknown>;
  for (const k of Object.keys(out)) if (typeof out[k] === 'boolean') out[k] = false;
  return out as unknown as Key;
}

/** One key per character of plain text; anything else (arrows, Ctrl, Meta) passes through as is. */
export function splitKeys(input: string, key: Key): [string, Key][] {
  if (input.length <= 1 || key.ctrl || key.meta || input.includes('\u001b')) return [[input, key]];
  const none = blank(key);
  return [...input].map((ch): [string, Key] => {
    if (ch === '\r' || ch === '\n') return ['', { ...none, return: true }];
    if (ch === '\u007f' || ch === '\b') return ['', { ...none, backspace: true }];
    if (ch === '\t') return ['', { ...none, tab: true }];
    if (ch === '\u0003') return ['c', { ...none, ctrl: true }];
    return [ch, { ...none, shift: /[A-Z]/.test(ch) }];
  });
}

export function useLatestInput(handler: Handler): void {
  const ref = useRef(handler);
  ref.current = handler;
  useInput(
    useCallback((input: string, key: Key) => {
      for (const [i, k] of splitKeys(input, key)) ref.current(i, k);
    }, []),
  );
}
