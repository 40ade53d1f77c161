// The one key map of the terminal views: `opsync plan` and the review of `opsync apply` read keys the same
// way; `?` shows this list (and the README's table says the same).

export interface KeyHelp {
  keys: string;
  what: string;
}

export const KEY_MAP: readonly KeyHelp[] = [
  { keys: '↑ ↓  k j', what: 'move between vaults and items' },
  { keys: 'PgUp PgDn', what: 'move a page' },
  { keys: 'Home End  g G', what: 'first, last' },
  { keys: 'Enter  Space', what: 'expand or collapse the item under the cursor (its field-by-field diff, long values wrapped), or its vault on a vault line' },
  { keys: '→ Tab  ←', what: 'expand; collapse (on a collapsed item, go to its vault line; there, collapse the vault)' },
  { keys: 'e  c', what: 'expand every item; collapse every item' },
  { keys: '/', what: 'filter by address or title; Enter keeps the filter, Esc clears it' },
  { keys: 'Esc', what: 'clear a kept filter; without one, quit (apply: abort)' },
  { keys: 'd', what: 'every diagnostic in full (also printed again on exit)' },
  { keys: '?', what: 'this help; ? or Esc closes it' },
  { keys: 'q  Ctrl-C', what: 'quit (apply: abort, nothing is changed)' },
  { keys: 'yes Enter', what: "apply only: type yes, then Enter, to approve. Only 'yes' is accepted: Enter alone, y or any other answer never applies" },
];

/** The help pane's lines; `indent` is where a wrapped line goes on (under the description). */
export function helpLines(mode: 'plan' | 'apply'): { text: string; indent?: string }[] {
  const keyWidth = Math.max(...KEY_MAP.map((k) => k.keys.length)) + 2;
  const lines: { text: string; indent?: string }[] = [
    { text: `Keys (the same in opsync plan and opsync apply)${mode === 'apply' ? '; while applying, Ctrl-C stops starting new operations' : ''}:` },
    { text: '' },
  ];
  for (const k of KEY_MAP) lines.push({ text: `  ${k.keys.padEnd(keyWidth)}${k.what}`, indent: ' '.repeat(2 + keyWidth) });
  return lines;
}
