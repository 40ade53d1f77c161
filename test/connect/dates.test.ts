import { describe, expect, it } from 'vitest';
import { dateSeconds, monthYear, sameValue } from '../../src/connect/dates.js';

describe('DATE and MONTH_YEAR values as real Connect keeps them', () => {
  it('reads a DATE as unix seconds, from seconds or YYYY-MM-DD', () => {
    expect(dateSeconds('2027-01-31')).toBe(Date.UTC(2027, 0, 31) / 1000);
    expect(dateSeconds('1801353600')).toBe(1801353600);
    expect(dateSeconds('2027-02-30')).toBeUndefined();
    expect(dateSeconds('31/01/2027')).toBeUndefined();
  });
  it('takes a live DATE in seconds, midnight in any time zone, for the manifest\'s date', () => {
    const utc = Date.UTC(2027, 0, 31) / 1000;
    expect(sameValue('DATE', String(utc), '2027-01-31')).toBe(true);
    expect(sameValue('DATE', String(utc - 5 * 3600), '2027-01-31')).toBe(true); // Connect in UTC+5
    expect(sameValue('DATE', String(utc + 86400), '2027-01-31')).toBe(false);
    expect(sameValue('STRING', String(utc), '2027-01-31')).toBe(false);
  });
  it('reads MONTH_YEAR in both of real Connect\'s forms', () => {
    expect(monthYear('2027/01')).toBe('202701');
    expect(monthYear('202701')).toBe('202701');
    expect(monthYear('01/2027')).toBeUndefined();
    expect(monthYear('2027/13')).toBeUndefined();
    expect(sameValue('MONTH_YEAR', '202701', '2027/01')).toBe(true);
  });
});
