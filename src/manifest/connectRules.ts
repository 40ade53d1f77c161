// What real 1Password Connect refuses in an item, caught at validate instead of as a 400 in the middle of an
// apply (docs/connect-fidelity.md rows 1, 9, 15). Only what the manifest itself says is checked here; values
// that come from the environment or files are checked by Connect when they are sent.

import type { DesiredField } from './types.js';
import { dateSeconds, monthYear } from '../connect/dates.js';

/** Why real Connect would refuse this field, or undefined. */
export function fieldProblem(f: Pick<DesiredField, 'key' | 'type' | 'source'>): string | undefined {
  if (f.type === 'TOTP') return `field "${f.key}": type TOTP is refused by real Connect (it answers 400 "unsupported field type: totp"); write type: OTP`;
  if (f.source.kind !== 'literal') return undefined;
  const v = f.source.value;
  if (f.type === 'DATE' && dateSeconds(v) === undefined) return `field "${f.key}": a DATE is written YYYY-MM-DD (e.g. 2027-01-31), or as unix seconds`;
  if (f.type === 'MONTH_YEAR' && monthYear(v) === undefined) return `field "${f.key}": a MONTH_YEAR is written YYYYMM or YYYY/MM (e.g. 2027/01)`;
  return undefined;
}

/** A PASSWORD item needs its password: real Connect refuses one without a concealed PASSWORD field (row 8). */
export function categoryProblem(category: string, fields: readonly Pick<DesiredField, 'purpose' | 'type'>[]): string | undefined {
  if (category !== 'PASSWORD') return undefined;
  const pw = fields.find((f) => f.purpose === 'PASSWORD');
  if (!pw) return 'a PASSWORD item needs a field with purpose: PASSWORD (real Connect refuses one without it)';
  if (pw.type !== 'CONCEALED') return `the PASSWORD field of a PASSWORD item must be type CONCEALED, not ${pw.type} (real Connect refuses it)`;
  return undefined;
}

/** Real Connect takes at most one USERNAME and one PASSWORD purpose field per item. */
export function purposeProblems(fields: readonly Pick<DesiredField, 'key' | 'purpose'>[]): { key: string; message: string }[] {
  const out: { key: string; message: string }[] = [];
  for (const purpose of ['USERNAME', 'PASSWORD'] as const) {
    let first: string | undefined;
    for (const f of fields) {
      if (f.purpose !== purpose) continue;
      if (first === undefined) first = f.key;
      else out.push({ key: f.key, message: `field "${f.key}": only one field may have purpose ${purpose} (real Connect refuses a second; "${first}" has it)` });
    }
  }
  // By purpose, then in field order, as before.
  return out;
}
