import { describe, expect, it } from 'vitest';
import { refreshProgress, renderRefreshProgress, terminalStatusLine } from '../../src/ui/status.js';

function fakeTerminal(isTTY = true, columns = 80) {
  const writes: string[] = [];
  return { writes, stream: { isTTY, columns, write: (t: string) => writes.push(t) } };
}
const ERASE = '\r\u001B[2K';

describe('terminalStatusLine', () => {
  it('draws nothing off a terminal or in CI', () => {
    expect(terminalStatusLine(fakeTerminal(false).stream, { ci: false })).toBeUndefined();
    expect(terminalStatusLine(fakeTerminal(true).stream, { ci: true })).toBeUndefined();
    const off = fakeTerminal(false);
    const r = refreshProgress(off.stream, { ci: false });
    expect(r.onProgress).toBeUndefined();
    r.clear();
    expect(off.writes).toEqual([]);
  });

  it('redraws in place, at most every interval, and never wider than the terminal', () => {
    let t = 0;
    const term = fakeTerminal(true, 20);
    const s = terminalStatusLine(term.stream, { ci: false, now: () => t, minIntervalMs: 100 })!;
    s.update('one');
    t += 50;
    s.update('dropped');
    t += 60;
    s.update('a status longer than the terminal');
    s.update('forced', true);
    s.clear();
    s.clear();
    expect(term.writes).toEqual([`${ERASE}one`, `${ERASE}a status longer tha`, `${ERASE}forced`, ERASE]);
  });
});

describe('refreshProgress', () => {
  it('draws nothing for a plan that is done within its delay', () => {
    let t = 0;
    const term = fakeTerminal();
    const r = refreshProgress(term.stream, { ci: false, now: () => t, delayMs: 250 });
    for (let i = 0; i <= 50; i++) {
      t += 4;
      r.onProgress!(i, 50);
    }
    r.clear();
    expect(term.writes).toEqual([]);
  });

  it('says how many items are refreshed, the first and last always drawn, and clears before the plan', () => {
    let t = 0;
    const term = fakeTerminal();
    const r = refreshProgress(term.stream, { ci: false, now: () => t, delayMs: 0 });
    r.onProgress!(0, 3000);
    for (let i = 1; i <= 3000; i++) {
      if (i % 100 === 0) t += 50;
      r.onProgress!(i, 3000);
    }
    r.clear();
    expect(term.writes[0]).toBe(`${ERASE}refreshing 0/3,000 items (0%)`);
    expect(term.writes).toContain(`${ERASE}refreshing 1,200/3,000 items (40%)`);
    expect(term.writes.at(-2)).toBe(`${ERASE}refreshing 3,000/3,000 items (100%)`);
    expect(term.writes.at(-1)).toBe(ERASE);
    expect(term.writes.length).toBeLessThan(20);
    expect(renderRefreshProgress(1, 1)).toBe('refreshing 1/1 item (100%)');
  });
});
