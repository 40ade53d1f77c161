import { describe, expect, it } from 'vitest';
import type { ApplyEvent } from '../../src/apply/types.js';
import type { ResourceChange } from '../../src/plan/types.js';
import {
  createApplyReporter,
  parseProgressMode,
  renderApplyEvent,
  renderApplyResult,
  renderProgressBar,
  renderProgressLine,
  resultHeadline,
  formatElapsed,
  type ProgressMode,
} from '../../src/ui/progress.js';

describe('renderApplyEvent', () => {
  it('reads like a log line per event', () => {
    expect(renderApplyEvent({ type: 'start', address: 'Production/db', action: 'update' })).toBe('~ Production/db: updating...');
    expect(renderApplyEvent({ type: 'done', address: 'Production/db', action: 'create', itemId: 'a'.repeat(26), version: 1 })).toBe(
      `+ Production/db: created (item ${'a'.repeat(26)}, version 1)`,
    );
    expect(renderApplyEvent({ type: 'done', address: 'Staging/x', action: 'delete' })).toBe('- Staging/x: deleted');
    expect(renderApplyEvent({ type: 'failed', address: 'Staging/x', action: 'replace', error: '409 conflict:\nversion moved' })).toBe(
      '-/+ Staging/x: replace failed: 409 conflict:\\nversion moved',
    );
    expect(renderApplyEvent({ type: 'skipped', address: 'Staging/y', action: 'create', reason: 'interrupted' })).toBe(
      '+ Staging/y: create skipped: interrupted',
    );
    expect(renderApplyEvent({ type: 'start', address: 'Staging/old', action: 'forget' })).toBe('. Staging/old: forgetting...');
    expect(renderApplyEvent({ type: 'done', address: 'Staging/old', action: 'forget' })).toBe('. Staging/old: forgotten');
  });
});

describe('renderApplyResult', () => {
  it('summarises a complete apply', () => {
    expect(
      renderApplyResult({
        done: [
          { address: 'a/1', action: 'create' },
          { address: 'a/2', action: 'update' },
          { address: 'a/3', action: 'update' },
        ],
        failed: [],
        skipped: [],
        interrupted: false,
        elapsedMs: 1234,
      }),
    ).toBe('Apply complete: 3 done, 0 failed, 0 skipped (1 created, 2 updated), in 1.2s.\n');
  });
  it('lists failures with reasons and what was left undone', () => {
    const out = renderApplyResult({
      done: [{ address: 'a/1', action: 'delete' }],
      failed: [{ address: 'a/2', action: 'update', error: 'item version moved (planned 3, live 4)' }],
      skipped: [{ address: 'a/3', action: 'create', reason: 'interrupted' }],
      interrupted: true,
      elapsedMs: 61_000,
    });
    expect(out).toBe(
      [
        'Apply interrupted: 1 done, 1 failed, 1 skipped (1 deleted), in 1m01s.',
        'interrupted: 1 operation not started',
        'Failed:',
        '  ~ a/2 (update): item version moved (planned 3, live 4)',
        'Left undone:',
        '  + a/3 (create): interrupted',
        '',
      ].join('\n'),
    );
  });
  it('counts forgets, and with the plan the moves and protect changes it carried out', () => {
    const change = (address: string, action: ResourceChange['action'], extra: Partial<ResourceChange> = {}): ResourceChange => ({
      address,
      action,
      vault: { name: 'V' },
      title: address,
      category: 'LOGIN',
      reasons: [],
      changes: [],
      ...extra,
    });
    const plan = {
      changes: [
        change('V/a', 'create'),
        change('V/b', 'noop', { movedFrom: 'V/old-b' }),
        change('V/c', 'update', { movedFrom: 'V/old-c' }),
        change('V/d', 'noop', { protectChanged: true }),
        change('V/e', 'forget'),
        change('V/f', 'noop'),
      ],
    };
    const done = [
      { address: 'V/a', action: 'create' as const },
      { address: 'V/c', action: 'update' as const },
      { address: 'V/e', action: 'forget' as const },
    ];
    const r = { done, failed: [], skipped: [], interrupted: false, elapsedMs: 5 };
    expect(renderApplyResult(r)).toBe('Apply complete: 3 done, 0 failed, 0 skipped (1 created, 1 updated, 1 forgotten), in 5ms.\n');
    expect(renderApplyResult(r, plan)).toBe(
      'Apply complete: 3 done, 0 failed, 0 skipped (1 created, 1 updated, 1 forgotten, 2 moved, 1 (un)protect recorded), in 5ms.\n',
    );
    // A move whose update failed did not happen; a state-only change of an interrupted apply may not have run.
    const failed = { ...r, done: done.filter((d) => d.address !== 'V/c'), failed: [{ address: 'V/c', action: 'update' as const, error: 'x' }] };
    expect(resultHeadline(failed, plan)).toBe('Apply failed: 2 done, 1 failed, 0 skipped (1 created, 1 forgotten, 1 moved, 1 (un)protect recorded), in 5ms.');
    expect(resultHeadline({ ...r, interrupted: true }, plan)).toBe('Apply interrupted: 3 done, 0 failed, 0 skipped (1 created, 1 updated, 1 forgotten, 1 moved), in 5ms.');
    // Only moves: no operation, still a line that says what was done.
    expect(resultHeadline({ ...r, done: [] }, { changes: [change('V/b', 'noop', { movedFrom: 'V/old-b' })] })).toBe(
      'Apply complete: 0 done, 0 failed, 0 skipped (1 moved), in 5ms.',
    );
  });
  it('formats elapsed time', () => {
    expect(formatElapsed(12)).toBe('12ms');
    expect(formatElapsed(59_949)).toBe('59.9s');
    expect(formatElapsed(125_000)).toBe('2m05s');
  });
});

describe('renderProgressLine', () => {
  it('says done/total, percent, rate, ETA and elapsed time; failures and skips only when any', () => {
    expect(renderProgressLine({ done: 1200, total: 3000, elapsedMs: 32_000, perSecond: 37.5, etaMs: 48_000 })).toBe(
      'progress: 1,200/3,000 (40%), 38/s, ETA 48s, 32s elapsed',
    );
    expect(renderProgressLine({ done: 0, total: 10_000, elapsedMs: 400 }, { failed: 0 })).toBe('progress: 0/10,000 (0%), -/s, ETA ?, <1s elapsed');
    expect(renderProgressLine({ done: 200, total: 200, elapsedMs: 4000, perSecond: 50, etaMs: 0 }, { failed: 2, skipped: 3 })).toBe(
      'progress: 200/200 (100%), 50/s, ETA 0s, 4s elapsed, 2 failed, 3 skipped',
    );
  });
});

describe('renderProgressBar', () => {
  it('fills in proportion and carries the same figures', () => {
    expect(renderProgressBar({ done: 1200, total: 3000, elapsedMs: 32_000, perSecond: 37.5, etaMs: 48_000 }, 10)).toBe(
      '████░░░░░░  40% 1,200/3,000 · 38/s · ETA 48s',
    );
    expect(renderProgressBar({ done: 0, total: 5, elapsedMs: 0 }, 10)).toBe('░░░░░░░░░░   0% 0/5 · -/s · ETA ?');
    expect(renderProgressBar({ done: 5, total: 5, elapsedMs: 1000, perSecond: 5, etaMs: 0 }, 10)).toBe('██████████ 100% 5/5 · 5.0/s · ETA 0s');
  });
});

describe('createApplyReporter', () => {
  function setup(total: number, mode?: ProgressMode) {
    let t = 0;
    const lines: string[] = [];
    const r = createApplyReporter({ total, mode, write: (l) => lines.push(l), now: () => t, intervalMs: 5000 });
    return { r, lines, advance: (ms: number) => void (t += ms) };
  }
  const ops = (n: number) => Array.from({ length: n }, (_, i) => `Vault/item-${String(i).padStart(5, '0')}`);
  function runAll(r: ReturnType<typeof setup>, addresses: string[], msEach: number, outcome: (i: number) => ApplyEvent['type'] = () => 'done') {
    addresses.forEach((address, i) => {
      r.r.onEvent({ type: 'start', address, action: 'create' });
      r.advance(msEach);
      const type = outcome(i);
      if (type === 'failed') r.r.onEvent({ type, address, action: 'create', error: '503 unavailable' });
      else if (type === 'skipped') r.r.onEvent({ type, address, action: 'create', reason: 'interrupted' });
      else r.r.onEvent({ type: 'done', address, action: 'create' });
    });
    r.r.finish();
  }

  it('auto: a line per event up to 50 operations, as before', () => {
    const s = setup(50);
    runAll(s, ops(50), 10);
    expect(s.lines).toHaveLength(100);
    expect(s.lines[0]).toBe('+ Vault/item-00000: creating...');
    expect(s.lines[1]).toBe('+ Vault/item-00000: created');
    expect(s.lines.some((l) => l.startsWith('progress:'))).toBe(false);
  });

  it('auto: above 50 operations, a progress line per interval and one at the end, not a line per item', () => {
    const s = setup(3000);
    runAll(s, ops(3000), 10); // 100/s: 30 s in all
    expect(s.lines).toEqual([
      'progress: 500/3,000 (16%), 100/s, ETA 25s, 5s elapsed',
      'progress: 1,000/3,000 (33%), 100/s, ETA 20s, 10s elapsed',
      'progress: 1,500/3,000 (50%), 100/s, ETA 15s, 15s elapsed',
      'progress: 2,000/3,000 (66%), 100/s, ETA 10s, 20s elapsed',
      'progress: 2,500/3,000 (83%), 100/s, ETA 5s, 25s elapsed',
      'progress: 3,000/3,000 (100%), 100/s, ETA 0s, 30s elapsed',
    ]);
  });

  it('interval: failures are printed as they happen, and counted', () => {
    const s = setup(100, 'interval');
    runAll(s, ops(100), 100, (i) => (i === 7 ? 'failed' : i >= 90 ? 'skipped' : 'done'));
    expect(s.lines).toEqual([
      '+ Vault/item-00007: create failed: 503 unavailable',
      'progress: 50/100 (50%), 10/s, ETA 5s, 5s elapsed, 1 failed',
      'progress: 100/100 (100%), 10/s, ETA 0s, 10s elapsed, 1 failed, 10 skipped',
    ]);
  });

  it('tick: a stalled apply still reports once per interval', () => {
    const s = setup(1000, 'interval');
    s.r.onEvent({ type: 'start', address: 'V/a', action: 'update' });
    s.advance(1000);
    s.r.onEvent({ type: 'done', address: 'V/a', action: 'update' });
    s.r.tick();
    expect(s.lines).toEqual([]);
    s.advance(4000);
    s.r.tick();
    s.advance(1000);
    s.r.tick();
    expect(s.lines).toEqual(['progress: 1/1,000 (0%), 0.20/s, ETA 1h23m, 5s elapsed']);
    s.advance(4000);
    s.r.tick();
    expect(s.lines).toHaveLength(2);
    s.r.finish(); // the last line already has the final figures
    expect(s.lines).toHaveLength(2);
  });

  it('items: every event however many; none: nothing', () => {
    const items = setup(500, 'items');
    runAll(items, ops(500), 1);
    expect(items.lines).toHaveLength(1000);
    const none = setup(500, 'none');
    runAll(none, ops(500), 100, (i) => (i === 3 ? 'failed' : 'done'));
    none.r.tick();
    expect(none.lines).toEqual([]);
  });

  it('parses --progress', () => {
    expect(parseProgressMode(undefined)).toBe('auto');
    expect(parseProgressMode('items')).toBe('items');
    expect(() => parseProgressMode('bar')).toThrow('--progress must be one of auto, items, interval, none (got "bar")');
  });
});
