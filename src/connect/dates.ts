// DATE and MONTH_YEAR values as real Connect keeps them: a DATE written as 2027-01-31 is answered as unix seconds
// (midnight in Connect's time zone), and MONTH_YEAR takes YYYYMM or YYYY/MM. Comparing them as strings would
// re-apply every such field on every plan, so they are compared as what they mean.

/** The most a time zone can shift midnight from UTC midnight (UTC-12 to UTC+14). */
const ZONE_SLACK_S = 14 * 3600;

/** A DATE value as unix seconds: digits are seconds already; YYYY-MM-DD is UTC midnight. */
export function dateSeconds(value: string): number | undefined {
  const v = value.trim();
  if (/^-?\d+$/.test(v)) return Number(v);
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(v);
  if (!m) return undefined;
  const ms = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
  const back = new Date(ms);
  if (back.getUTCFullYear() !== Number(m[1]) || back.getUTCMonth() !== Number(m[2]) - 1 || back.getUTCDate() !== Number(m[3])) return undefined;
  return ms / 1000;
}

/** YYYYMM for a MONTH_YEAR value in either of the forms real Connect takes; undefined for any other form. */
export function monthYear(value: string): string | undefined {
  const m = /^(\d{4})\/?(\d{2})$/.exec(value.trim());
  return m && Number(m[2]) >= 1 && Number(m[2]) <= 12 ? `${m[1]}${m[2]}` : undefined;
}

/** Whether a live value already says what the desired value of a field of this type says. */
export function sameValue(type: string | undefined, live: string, want: string): boolean {
  if (live === want) return true;
  if (type === 'DATE') {
    const a = dateSeconds(live);
    const b = dateSeconds(want);
    return a !== undefined && b !== undefined && Math.abs(a - b) <= ZONE_SLACK_S;
  }
  if (type === 'MONTH_YEAR') {
    const a = monthYear(live);
    return a !== undefined && a === monthYear(want);
  }
  return false;
}
