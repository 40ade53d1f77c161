// DATE and MONTH_YEAR field values as real Connect takes and gives them (ledger row 15).
//
// DATE: Connect (>= 1.5.2) validates the value and stores the date as unix seconds; it answers the value as a
// string holding that number. It takes `YYYY-MM-DD` (parsed in Connect's own time zone: terraform-provider-
// onepassword's util/date.go works around the shift by sending seconds at 12:01 UTC) or a number of seconds.
// opsync server runs "in UTC": `YYYY-MM-DD` becomes midnight UTC of that day. A string of digits is taken as
// seconds and kept as given (without leading zeros).
//
// MONTH_YEAR: `YYYYMM` or `YYYY/MM` (month 01-12); anything else, `01/2027` included, is a 400 with Connect's
// text. The value is kept as sent (no source shows Connect rewriting it).
import { CONNECT_MESSAGES } from './compat.js';

const ISO_DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const SECONDS = /^-?\d{1,15}$/;
const MONTH_YEAR = /^(\d{4})\/?(\d{2})$/;

/** The stored (and answered) form of a DATE value, or undefined when it is not a date Connect takes. */
export function dateToSeconds(value: string): string | undefined {
  const v = value.trim();
  if (SECONDS.test(v)) return String(Number(v));
  const m = ISO_DATE.exec(v);
  if (!m) return undefined;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const ms = Date.UTC(y, mo - 1, d);
  const back = new Date(ms);
  // Date.UTC rolls 2027-02-31 over into March: such a day does not exist.
  if (back.getUTCFullYear() !== y || back.getUTCMonth() !== mo - 1 || back.getUTCDate() !== d) return undefined;
  return String(Math.floor(ms / 1000));
}

/** True when `value` is a MONTH_YEAR value Connect takes. */
export function isMonthYear(value: string): boolean {
  const m = MONTH_YEAR.exec(value);
  if (!m) return false;
  const month = Number(m[2]);
  return month >= 1 && month <= 12;
}

export class DateValueError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DateValueError';
  }
}

/**
 * Checks the DATE and MONTH_YEAR values of `fields` (types already upper-case) and rewrites DATE values to
 * seconds, in place. Empty values are left alone (a template's empty field). Throws DateValueError with
 * Connect's text and the field's place (never its value).
 */
export function normalizeDateFields(fields: { type?: string; value?: string }[] | undefined): void {
  (fields ?? []).forEach((f, i) => {
    if (typeof f.value !== 'string' || f.value === '') return;
    if (f.type === 'DATE') {
      const seconds = dateToSeconds(f.value);
      if (seconds === undefined) throw new DateValueError(`${CONNECT_MESSAGES.dateFormat} (/fields/${i}/value)`);
      f.value = seconds;
    } else if (f.type === 'MONTH_YEAR') {
      if (!isMonthYear(f.value)) throw new DateValueError(`${CONNECT_MESSAGES.monthYearFormat} (/fields/${i}/value)`);
    }
  });
}
