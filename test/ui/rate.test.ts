import { describe, expect, it } from 'vitest';
import { createRateMeter, formatCount, formatDuration, formatEta, formatRate, percent } from '../../src/ui/rate.js';

/** A clock the test moves by hand: no sleeping, no timing flakes. */
function fakeClock(start = 1_000_000) {
  let t = start;
  return { now: () => t, advance: (ms: number) => void (t += ms) };
}

describe('createRateMeter', () => {
  it('has no rate and no ETA before anything is done', () => {
    const c = fakeClock();
    const m = createRateMeter(100, { now: c.now });
    expect(m.snapshot()).toEqual({ done: 0, total: 100, elapsedMs: 0 });
    c.advance(3000);
    expect(m.snapshot()).toEqual({ done: 0, total: 100, elapsedMs: 3000 });
  });

  it('measures the rate and the time left at it', () => {
    const c = fakeClock();
    const m = createRateMeter(1000, { now: c.now });
    for (let i = 1; i <= 40; i++) {
      c.advance(100); // 10 per second
      m.update(i);
    }
    const s = m.snapshot();
    expect(s.done).toBe(40);
    expect(s.elapsedMs).toBe(4000);
    expect(s.perSecond).toBeCloseTo(10, 6);
    expect(s.etaMs).toBeCloseTo(96_000, 0); // 960 left at 10/s
  });

  it('follows the current speed over its window, not the average since the start', () => {
    const c = fakeClock();
    const m = createRateMeter(10_000, { now: c.now, windowMs: 10_000 });
    let done = 0;
    for (let i = 0; i < 300; i++) {
      c.advance(100);
      m.update((done += 10)); // 100/s for 30 s
    }
    for (let i = 0; i < 200; i++) {
      c.advance(100);
      m.update((done += 1)); // then 10/s for 20 s: the server slowed down
    }
    const s = m.snapshot();
    expect(s.perSecond).toBeCloseTo(10, 0);
    expect(s.etaMs! / 1000).toBeCloseTo((10_000 - done) / 10, -1);
  });

  it('decays while nothing finishes, so a stall shows in the ETA', () => {
    const c = fakeClock();
    const m = createRateMeter(100, { now: c.now, windowMs: 10_000 });
    for (let i = 1; i <= 20; i++) {
      c.advance(100);
      m.update(i);
    }
    const before = m.snapshot().etaMs!;
    c.advance(8000);
    expect(m.snapshot().etaMs!).toBeGreaterThan(before * 3);
  });

  it('uses the average since the start until a second has passed', () => {
    const c = fakeClock();
    const m = createRateMeter(10, { now: c.now });
    c.advance(200);
    m.update(2);
    expect(m.snapshot().perSecond).toBeCloseTo(10, 6);
    expect(m.snapshot().etaMs).toBeCloseTo(800, 6);
  });

  it('ends at ETA 0 with the overall rate, and takes a new total', () => {
    const c = fakeClock();
    const m = createRateMeter(4, { now: c.now });
    c.advance(2000);
    m.update(4);
    expect(m.snapshot()).toEqual({ done: 4, total: 4, elapsedMs: 2000, perSecond: 2, etaMs: 0 });
    m.update(4, 8);
    expect(m.snapshot().total).toBe(8);
    expect(m.snapshot().etaMs).toBeGreaterThan(0);
  });
});

describe('formatting', () => {
  it('groups counts and rounds rates and durations for reading at a glance', () => {
    expect(formatCount(3000)).toBe('3,000');
    expect(formatCount(12)).toBe('12');
    expect(formatRate(1234.4)).toBe('1,234/s');
    expect(formatRate(37.4)).toBe('37/s');
    expect(formatRate(4.25)).toBe('4.3/s');
    expect(formatRate(0.333)).toBe('0.33/s');
    expect(formatRate(undefined)).toBe('-/s');
    expect(formatDuration(400)).toBe('<1s');
    expect(formatDuration(48_400)).toBe('48s');
    expect(formatDuration(125_000)).toBe('2m05s');
    expect(formatDuration(3_725_000)).toBe('1h02m');
    expect(formatEta(undefined)).toBe('ETA ?');
    expect(formatEta(0)).toBe('ETA 0s');
    expect(formatEta(61_000)).toBe('ETA 1m01s');
  });

  it('never says 100% before the end', () => {
    expect(percent(0, 10)).toBe(0);
    expect(percent(1200, 3000)).toBe(40);
    expect(percent(2999, 3000)).toBe(99);
    expect(percent(3000, 3000)).toBe(100);
    expect(percent(0, 0)).toBe(100);
  });
});
