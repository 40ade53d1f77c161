// Progress of long work, end to end: a text apply of hundreds of operations prints progress lines (done/total,
// rate, ETA), not a line per operation; --progress items asks for the per-operation log; a plan off a
// terminal prints no refresh progress (it is drawn only on a TTY's stderr).
import { describe, expect, it } from 'vitest';
import { useSeededProject } from './cli.js';

const SEED = `vaults:
  - name: Bulk
    description: many items
`;

function manifest(n: number, note = 'first'): string {
  const items = Array.from(
    { length: n },
    (_, i) => `  item-${String(i).padStart(3, '0')}:\n    title: Item ${i}\n    category: SECURE_NOTE\n    fields:\n      notes: { purpose: NOTES, value: ${note} }\n`,
  );
  return `vault: Bulk\nitems:\n${items.join('')}`;
}

const ctx = useSeededProject(SEED);

describe('progress of a long apply', () => {
  it('a 200-item text apply prints progress lines, not 200 per-item lines; --progress items prints each', async () => {
    ctx.write('m.yaml', manifest(200));
    let r = await ctx.cli(['apply', 'm.yaml', '--auto-approve']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const lines = r.stdout.split('\n');
    expect(lines.filter((l) => /^\+ Bulk\/item-\d+: (creating|created)/.test(l))).toEqual([]);
    const progress = lines.filter((l) => l.startsWith('progress: '));
    expect(progress.length).toBeGreaterThanOrEqual(1);
    expect(progress.length).toBeLessThan(20);
    for (const p of progress) expect(p).toMatch(/^progress: \d+\/200 \(\d+%\), (\d[\d.,]*|-)\/s, ETA (\S+), \S+ elapsed$/);
    expect(progress[progress.length - 1]).toMatch(/^progress: 200\/200 \(100%\), [\d.,]+\/s, ETA 0s, \S+ elapsed$/);
    expect(r.stdout).toMatch(/Apply complete: 200 done, 0 failed, 0 skipped \(200 created\)/);
    expect(Object.keys(ctx.state().resources)).toHaveLength(200);

    // The same size, with every operation asked for: a line as each starts and as each ends.
    ctx.write('m.yaml', manifest(200, 'second'));
    r = await ctx.cli(['apply', 'm.yaml', '--auto-approve', '--progress', 'items']);
    expect(r.code).toBe(0);
    const perItem = r.stdout.split('\n').filter((l) => /^~ Bulk\/item-\d+: (updating\.\.\.|updated)/.test(l));
    expect(perItem).toHaveLength(400);
    expect(r.stdout).not.toMatch(/^progress: /m);

    // A plan off a terminal draws no refresh progress.
    r = await ctx.cli(['plan', 'm.yaml']);
    expect(r.code).toBe(0);
    expect(r.stderr).not.toMatch(/refreshing/);
    expect(r.stdout).toContain('No changes');

    r = await ctx.cli(['apply', 'm.yaml', '--auto-approve', '--progress', 'sometimes']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('--progress must be one of auto, items, interval, none (got "sometimes")');
  }, 120_000);
});
