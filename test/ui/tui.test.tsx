import { afterEach, describe, expect, it, vi } from 'vitest';

// Ink renders nothing but the last frame when it believes it runs in CI (is-in-ci reads CI when
// Ink is first imported). These tests are about the interactive frames, so they run as on a desk.
vi.hoisted(() => {
  process.env.CI = 'false';
  process.env.CONTINUOUS_INTEGRATION = 'false';
});

import { render, cleanup } from 'ink-testing-library';
import type { ApplyEvent, ApplyResult } from '../../src/apply/types.js';
import type { Plan } from '../../src/plan/types.js';
import { ApplyView, PlanningView, PlanView, type ApplyOutcome } from '../../src/ui/tui/index.js';
import { createProgressStore } from '../../src/ui/tui/PlanningView.js';
import { applyExitLines, isQuietPlan, planExitLines } from '../../src/ui/tui/record.js';
import { KEY_MAP } from '../../src/ui/tui/keys.js';
import { textWidth, wrapLine } from '../../src/ui/tui/wrap.js';
import { render as inkRender, type Key } from 'ink';
import { EventEmitter } from 'node:events';
import type React from 'react';
import { bigPlan, fixturePlan, noChangePlan, SECRET } from './fixtures/plan.js';

const ENTER = '\r';
const DOWN = '\u001B[B';
const UP = '\u001B[A';
const ESC = '\u001B';
const CTRL_C = '\u0003';
const BACKSPACE = '\u007F';

/** Let Ink and React process what was written (not a timing assertion). */
const tick = (ms = 30) => new Promise((r) => setTimeout(r, ms));

async function type(stdin: { write(s: string): void }, ...keys: string[]) {
  for (const k of keys) {
    stdin.write(k);
    await tick();
  }
}

/** Wait until a condition holds, giving Ink ticks; fails with the last frame after many tries. */
async function until(cond: () => boolean, frame: () => string | undefined) {
  for (let i = 0; i < 200; i++) {
    if (cond()) return;
    await tick(10);
  }
  throw new Error(`condition not met; last frame:\n${frame()}`);
}

afterEach(() => cleanup());

/**
 * ink-testing-library draws at 100 columns; this renders at any width (a terminal of `columns`), in the same
 * debug mode (every frame written whole), for the views' wrapping at 160 columns.
 */
function renderAt(tree: React.ReactElement, columns: number) {
  class Out extends EventEmitter {
    columns = columns;
    last = '';
    write = (frame: string) => {
      this.last = frame;
    };
  }
  class In extends EventEmitter {
    isTTY = true;
    data: string | null = null;
    write = (d: string) => {
      this.data = d;
      this.emit('readable');
      this.emit('data', d);
    };
    read = () => {
      const d = this.data;
      this.data = null;
      return d;
    };
    setEncoding() {}
    setRawMode() {}
    resume() {}
    pause() {}
    ref() {}
    unref() {}
  }
  const stdout = new Out();
  const stdin = new In();
  const app = inkRender(tree, { stdout: stdout as never, stderr: new Out() as never, stdin: stdin as never, debug: true, exitOnCtrlC: false, patchConsole: false });
  wide.push(app);
  return { stdin, lastFrame: () => stdout.last };
}
const wide: { unmount(): void }[] = [];
afterEach(() => {
  for (const a of wide.splice(0)) a.unmount();
});

const LEFT = '\u001B[D';

/** The frame's text with wrapped lines joined, to find a sentence whatever the width. */
const flat = (f: string | undefined) => (f ?? '').split('\n').map((l) => l.trim()).join(' ');

/** A plan with an error (a broken ref) and a long value, to see that nothing is hidden. */
function errorPlan(): Plan {
  const plan = fixturePlan();
  plan.diagnostics.unshift({
    severity: 'error',
    address: 'Production/web',
    message: 'field "db": ref Production/db-primary field "pasword" does not exist; the item has username, password, host',
    pos: { file: 'manifests/production.yaml', line: 22, col: 9 },
  });
  return plan;
}

const LONG_URL = `https://example.com/${'very-long-path-segment/'.repeat(8)}end-of-the-url`;

function longValuePlan(): Plan {
  const plan = fixturePlan();
  const c = plan.changes.find((x) => x.address === 'Production/stripe-key')!;
  c.title = `Stripe API key for the payments service of the web shop, used by checkout and refunds ${'x'.repeat(40)}`;
  c.changes.push({ path: 'urls', kind: 'add', sensitive: false, after: [{ href: LONG_URL, primary: true }] });
  return plan;
}

describe('wrapLine', () => {
  it('breaks at spaces, indents the lines after the first, and never drops a character', () => {
    const text = '      ~ field notes: "a long value that does not fit on one line of forty columns at all"';
    const lines = wrapLine(text, 40);
    expect(lines.length).toBeGreaterThan(1);
    for (const l of lines) expect(textWidth(l)).toBeLessThanOrEqual(40);
    expect(lines.slice(1).every((l) => l.startsWith('        '))).toBe(true);
    expect(lines.map((l) => l.trim()).join(' ')).toBe(text.trim());
    // a word longer than the line is cut inside, not lost
    const url = wrapLine(`  + url ${LONG_URL}`, 40);
    expect(url.map((l) => l.trim()).join('')).toBe(`+ url${LONG_URL}`);
    expect(wrapLine('short', 40)).toEqual(['short']);
  });
});

describe('PlanView', () => {
  it('shows the summary and the items grouped by vault with markers', async () => {
    const { lastFrame } = render(<PlanView plan={fixturePlan()} color={false} height={40} />);
    await tick();
    const f = lastFrame() ?? '';
    // The summary wraps rather than lose a count.
    expect(flat(f)).toContain(
      'Plan: 2 to create, 3 to update, 1 to replace, 2 to delete, 2 to move, 1 to (un)protect, 1 to forget, 5 unchanged, 4 drifted.',
    );
    expect(f).toContain('▾ Production (5)');
    expect(f).toMatch(/> {3}Production\/api-gateway  "API gateway"  moved/);
    expect(f).toContain('▾ Staging (7)');
    expect(f).toMatch(/› \+ {3}Production\/stripe-key {2}"Stripe API key" {2}create/);
    expect(f).toMatch(/~ {3}Production\/db-primary .*update \(patch\), drift/);
    expect(f).toMatch(/-\/\+ Production\/tls-cert/);
    expect(f).toMatch(/- {3}Staging\/old-token/);
    expect(f).toMatch(/! {3}Staging\/cache .*drift \(ignored\)/);
    expect(f).not.toContain('Production/redis'); // unchanged: counted, not listed
    expect(f).not.toMatch(/\u001b\[/);
  });

  it('shows every diagnostic in full at the top, above the summary that refers to them', async () => {
    const { lastFrame } = render(<PlanView plan={errorPlan()} color={false} height={40} width={80} />);
    await tick();
    const lines = (lastFrame() ?? '').split('\n');
    expect(lines[0]).toBe('Error: Production/web: field "db": ref Production/db-primary field "pasword"');
    const f = flat(lastFrame());
    expect(f).toContain('Error: Production/web: field "db": ref Production/db-primary field "pasword" does not exist; the item has username, password, host at manifests/production.yaml:22:9');
    expect(f).toContain('Warning: Production/db-primary: field "legacy token" exists in Connect but not in the manifest: it will be removed at manifests/production.yaml:14:5');
    expect(f).toContain('Warning: Staging/ghost was deleted outside opsync; it is only forgotten from state');
    const summary = lines.findIndex((l) => l.startsWith('Plan incomplete: 1 error(s) above'));
    expect(summary).toBeGreaterThan(lines.findIndex((l) => l.startsWith('Warning: Staging/ghost')));
    expect(f).not.toContain('see opsync plan --format text');
    for (const l of lines) expect(textWidth(l)).toBeLessThanOrEqual(80);
  });

  it('says at the top that apply will refuse a plan over the safety limits', async () => {
    const plan = bigPlan(600);
    plan.diagnostics = [
      { severity: 'warning', message: 'the plan deletes 120 of 600 managed items (more than 10%): apply will refuse this plan without --force' },
    ];
    const { lastFrame } = render(<PlanView plan={plan} color={false} height={24} width={80} />);
    await tick();
    expect((lastFrame() ?? '').split('\n')[0]).toMatch(/^Warning: the plan deletes 120 of 600 managed items/);
    expect(flat(lastFrame())).toContain('apply will refuse this plan without --force');
  });

  it('keeps many diagnostics to a third of the screen, and d shows them all', async () => {
    const plan = fixturePlan();
    plan.diagnostics = Array.from({ length: 30 }, (_, i) => ({ severity: 'warning' as const, message: `warning number ${i + 1}` }));
    const { stdin, lastFrame } = render(<PlanView plan={plan} color={false} height={24} width={80} />);
    await tick();
    let f = lastFrame() ?? '';
    expect(f).toContain('Warning: warning number 1');
    expect(f).not.toContain('warning number 30');
    expect(flat(f)).toMatch(/… \d+ more lines of diagnostics: press d to read them all \(they are printed again on exit\)/);
    expect(f.split('\n').length).toBeLessThanOrEqual(24);
    expect(f).toContain('Production/stripe-key'); // the list keeps its room
    await type(stdin, 'd', 'G');
    f = lastFrame() ?? '';
    expect(f).toContain('Warning: warning number 30');
    expect(f).toMatch(/Diagnostics \d+-30 of 30 · ↑↓ PgUp PgDn scroll · Esc closes/);
    await type(stdin, ESC);
    expect(lastFrame()).toContain('› +   Production/stripe-key');
  });

  it('moves with the arrows and expands the selected item with Enter', async () => {
    const { stdin, lastFrame } = render(<PlanView plan={fixturePlan()} color={false} height={60} />);
    await tick();
    await type(stdin, DOWN, ENTER);
    const f = lastFrame() ?? '';
    expect(f).toMatch(/› ~ {3}Production\/db-primary/);
    expect(f).toContain('~ title: "Primary DB" -> "Primary database"');
    expect(f).toContain('- tag staging');
    expect(f).toContain('+ tag postgres');
    expect(f).toContain('+ url https://db.example.com (primary)');
    expect(f).toContain('+ section tls: "TLS"');
    expect(f).toContain('~ field connection.password: (sensitive value changed)');
    expect(flat(f)).toContain('! drift: changed outside opsync since the last apply (state version 5, live version 7)');
    // the multi-line notes as a line diff
    expect(f).toContain('-Owner: platform team');
    expect(f).toContain('+Owner: data team');
    expect(f).toContain('+Failover: db-replica');
    // only the selected item is expanded
    expect(f).not.toContain('generated on create');
    await type(stdin, ENTER);
    expect(lastFrame()).not.toContain('+Owner: data team');
    await type(stdin, UP, ENTER);
    expect(lastFrame()).toContain('+ field api.credential: (generated on create)');
    expect(lastFrame()).not.toContain(SECRET);
  });

  it('expands every item with e and collapses them all with c', async () => {
    const { stdin, lastFrame } = renderAt(<PlanView plan={fixturePlan()} color={false} height={200} />, 160);
    await tick();
    await type(stdin, 'e');
    let f = lastFrame() ?? '';
    expect(f).toContain('+ field api.credential: (generated on create)');
    expect(f).toContain('+Owner: data team');
    expect(f).toContain('# because: removed from manifests');
    expect(f).not.toContain(SECRET);
    await type(stdin, 'c');
    f = lastFrame() ?? '';
    expect(f).not.toContain('generated on create');
    expect(f).not.toContain('+Owner: data team');
    expect(f).toContain('Staging/old-token');
  });

  it('collapses a vault: ← goes to its line, ← or Enter closes it, Enter opens it again', async () => {
    const { stdin, lastFrame } = render(<PlanView plan={fixturePlan()} color={false} height={40} />);
    await tick();
    await type(stdin, LEFT);
    expect(lastFrame()).toContain('›▾ Production (5)');
    expect(lastFrame()).toContain('[Production: 5 items]');
    await type(stdin, LEFT);
    let f = lastFrame() ?? '';
    expect(f).toContain('›▸ Production (5, collapsed)');
    expect(f).not.toContain('Production/stripe-key');
    expect(f).toContain('Staging/old-token');
    await type(stdin, DOWN, DOWN); // the next vault's heading, then its first item
    expect(lastFrame()).toMatch(/› - {3}Staging\/old-token/);
    await type(stdin, UP, UP, ENTER);
    f = lastFrame() ?? '';
    expect(f).toContain('›▾ Production (5)');
    expect(f).toContain('Production/stripe-key');
    await type(stdin, ENTER);
    expect(lastFrame()).toContain('›▸ Production (5, collapsed)');
    await type(stdin, 'e'); // expand all opens the vaults too
    expect(lastFrame()).toContain('+ field api.credential: (generated on create)');
  });

  it('handles keys that arrive together (Down and Enter in one read; a pasted filter)', async () => {
    const { stdin, lastFrame } = render(<PlanView plan={fixturePlan()} color={false} height={60} />);
    await tick();
    await type(stdin, DOWN + ENTER);
    const f = lastFrame() ?? '';
    expect(f).toMatch(/› ~ {3}Production\/db-primary/);
    expect(f).toContain('+Owner: data team');
    expect(f).not.toContain('generated on create');
    await type(stdin, '/smtp' + ENTER);
    expect(lastFrame()).toContain('[1/1] · filter /smtp');
    // a filter typed in the same read as / is a filter, not keys (d would open the diagnostics)
    await type(stdin, ESC, '/dq' + ENTER);
    expect(lastFrame()).toContain('filter /dq');
  });

  it('filters by address or title with /; Esc clears a kept filter before it quits', async () => {
    const onQuit = vi.fn();
    const { stdin, lastFrame } = render(<PlanView plan={fixturePlan()} color={false} height={40} onQuit={onQuit} />);
    await tick();
    await type(stdin, '/', 's', 'm', 't');
    let f = lastFrame() ?? '';
    expect(f).toContain('/smt█');
    expect(f).toContain('Staging/smtp');
    expect(f).not.toMatch(/~ {3}Production\/db-primary/); // (it is still named by a diagnostic at the top)
    expect(f).not.toContain('▾ Production');
    await type(stdin, BACKSPACE, BACKSPACE, BACKSPACE, ...'queue credentials'.split(''), ENTER);
    f = lastFrame() ?? '';
    expect(f).toContain('Staging/queue');
    expect(f).not.toContain('Staging/smtp');
    expect(f).toContain('[1/1] · filter /queue credentials (Esc clears)');
    await type(stdin, ENTER); // Enter now expands
    expect(lastFrame()).toContain('+ field password: (sensitive value)');
    await type(stdin, ESC); // clears the kept filter, does not quit
    expect(onQuit).not.toHaveBeenCalled();
    expect(lastFrame()).toMatch(/~ {3}Production\/db-primary/);
    expect(lastFrame()).not.toContain('filter /');
    await type(stdin, '/', 'z', 'z', 'z');
    expect(lastFrame()).toContain('No item matches "zzz".');
    await type(stdin, ESC);
    expect(lastFrame()).toMatch(/~ {3}Production\/db-primary/);
    expect(onQuit).not.toHaveBeenCalled();
    await type(stdin, ESC); // nothing left to clear: quits
    expect(onQuit).toHaveBeenCalledTimes(1);
  });

  it('? shows the one key map; q there closes the help, not the view', async () => {
    const onQuit = vi.fn();
    const { stdin, lastFrame } = renderAt(<PlanView plan={fixturePlan()} color={false} height={44} onQuit={onQuit} />, 160);
    await tick();
    await type(stdin, '?');
    const f = lastFrame() ?? '';
    expect(f).toContain('Keys (the same in opsync plan and opsync apply):');
    for (const k of KEY_MAP) expect(flat(f)).toContain(`${k.keys}`);
    expect(flat(f)).toContain("Only 'yes' is accepted");
    expect(f).not.toContain('Production/stripe-key');
    await type(stdin, 'q');
    expect(onQuit).not.toHaveBeenCalled();
    expect(lastFrame()).toContain('Production/stripe-key');
    await type(stdin, 'q');
    expect(onQuit).toHaveBeenCalledTimes(1);
  });

  it('wraps a long value in the expanded item instead of cutting it', async () => {
    const plan = longValuePlan();
    const { stdin, lastFrame } = render(<PlanView plan={plan} color={false} height={45} width={80} />);
    await tick();
    // the item's line is cut at the width; expanded, it is shown in full, and so is every value
    await type(stdin, ENTER);
    const f = lastFrame() ?? '';
    const lines = f.split('\n');
    for (const l of lines) expect(textWidth(l)).toBeLessThanOrEqual(80);
    const details = lines.slice(lines.findIndex((l) => l.startsWith('› ')) + 1).join('');
    expect(details.replace(/\s+/g, '')).toContain(`+url${LONG_URL}(primary)`.replace(/\s+/g, ''));
    expect(details.replace(/\s+/g, '')).toContain(plan.changes.find((c) => c.address === 'Production/stripe-key')!.title.replace(/\s+/g, ''));
  });

  for (const [w, h] of [
    [80, 24],
    [160, 45],
  ] as const) {
    it(`at ${w}x${h} the summary keeps every count and the frame fits`, async () => {
      const { stdin, lastFrame } = renderAt(<PlanView plan={errorPlan()} color={false} height={h - 1} />, w);
      await tick();
      for (const frame of [lastFrame(), (await type(stdin, 'e'), lastFrame()), (await type(stdin, 'G'), lastFrame())]) {
        const lines = (frame ?? '').split('\n');
        expect(lines.length).toBeLessThanOrEqual(h - 1);
        for (const l of lines) expect(textWidth(l)).toBeLessThanOrEqual(w);
        expect(flat(frame)).toContain(
          'Planned: 2 to create, 3 to update, 1 to replace, 2 to delete, 2 to move, 1 to (un)protect, 1 to forget, 5 unchanged, 4 drifted.',
        );
      }
    });
  }

  it('acts on the keys typed while the plan was being made', async () => {
    const keys: [string, Key][] = [];
    const store = createProgressStore();
    const planning = render(<PlanningView store={store} color={false} delayMs={0} onKey={(i, k) => keys.push([i, k])} onInterrupt={() => undefined} />);
    await tick();
    await type(planning.stdin, DOWN, ENTER);
    planning.unmount();
    expect(keys).toHaveLength(2);
    const { lastFrame } = render(<PlanView plan={fixturePlan()} color={false} height={60} typedAhead={keys} />);
    await tick();
    expect(lastFrame()).toMatch(/› ~ {3}Production\/db-primary/);
    expect(lastFrame()).toContain('+Owner: data team');
  });

  it('quits with q', async () => {
    const onQuit = vi.fn();
    const { stdin } = render(<PlanView plan={fixturePlan()} color={false} height={40} onQuit={onQuit} />);
    await tick();
    await type(stdin, 'q', 'q');
    expect(onQuit).toHaveBeenCalledTimes(1);
  });

  it('quits with Ctrl-C', async () => {
    const onQuit = vi.fn();
    const { stdin } = render(<PlanView plan={fixturePlan()} color={false} height={40} onQuit={onQuit} />);
    await tick();
    await type(stdin, CTRL_C);
    expect(onQuit).toHaveBeenCalledTimes(1);
  });

  it('renders only a window of a 5000-item plan', async () => {
    const plan = bigPlan(5000);
    const height = 30;
    const { stdin, lastFrame } = render(<PlanView plan={plan} color={false} height={height} />);
    await tick(100);
    const lines = (lastFrame() ?? '').split('\n');
    expect(lines.length).toBeLessThanOrEqual(height);
    expect(lastFrame()).toContain('Production/svc-00000');
    expect(lastFrame()).not.toContain('svc-04999');
    // End jumps to the last item; the window follows and stays bounded.
    await type(stdin, 'G');
    const end = lastFrame() ?? '';
    expect(end.split('\n').length).toBeLessThanOrEqual(height);
    expect(end).toMatch(/› -   Dev\/svc-04997/); // the last listed item (grouped by vault)
    expect(end).not.toContain('Production/svc-00000');
    // Expanding keeps the item and its details in the window.
    await type(stdin, UP, ENTER);
    const exp = lastFrame() ?? '';
    expect(exp.split('\n').length).toBeLessThanOrEqual(height);
    // the details are those of the item under the cursor, right below it
    const expLines = exp.split('\n');
    const at = expLines.findIndex((l) => l.startsWith('› '));
    expect(expLines[at]).toMatch(/Dev\/svc-04991/);
    expect(expLines[at + 1]).toBe('      # title "Service 4991", category LOGIN');
    expect(exp).toContain('~ field password: (sensitive value changed)');
    // expand all, then End: still a window
    await type(stdin, 'e', 'G');
    expect((lastFrame() ?? '').split('\n').length).toBeLessThanOrEqual(height);
  });
});

describe('what the interface leaves on the screen', () => {
  it('after the plan view: every diagnostic in full on stderr, the summary on stdout', () => {
    const lines = planExitLines(errorPlan());
    const err = lines.filter((l) => l.stream === 'err').map((l) => l.text);
    expect(err).toEqual([
      'Error: Production/web: field "db": ref Production/db-primary field "pasword" does not exist; the item has username, password, host',
      '  at manifests/production.yaml:22:9',
      'Warning: Production/db-primary: field "legacy token" exists in Connect but not in the manifest: it will be removed',
      '  at manifests/production.yaml:14:5',
      'Warning: Staging/ghost was deleted outside opsync;',
      '  it is only forgotten from state',
    ]);
    const out = lines.filter((l) => l.stream === 'out').map((l) => l.text);
    expect(out).toEqual([expect.stringMatching(/^Plan incomplete: 1 error\(s\) above; .* Planned: 2 to create, .* 4 drifted\.$/)]);
  });

  it('a plan with nothing to do opens no view: its one line', () => {
    const plan = noChangePlan();
    expect(isQuietPlan(plan)).toBe(true);
    expect(planExitLines(plan)).toEqual([
      { text: expect.stringMatching(/^No changes\. Live items match the manifests: \d+ unchanged, 0 drifted\.$/), style: 'heading', stream: 'out' },
    ]);
    // an error is never quiet: the view opens to show it
    expect(isQuietPlan({ ...plan, diagnostics: errorPlan().diagnostics })).toBe(false);
    expect(isQuietPlan(fixturePlan())).toBe(false);
  });

  it('after an apply: one line per changed item, the failures, the headline; never a secret', () => {
    const plan = fixturePlan();
    const lines = applyExitLines(plan, {
      approved: true,
      events: [
        { type: 'done', address: 'Production/stripe-key', action: 'create', itemId: 'n'.repeat(26), version: 1 },
        { type: 'failed', address: 'Production/db-primary', action: 'update', error: 'version moved: planned 7, live 8' },
        { type: 'skipped', address: 'Staging/old-token', action: 'delete', reason: 'interrupted' },
      ],
      result: result({
        done: [{ address: 'Production/stripe-key', action: 'create' }],
        failed: [{ address: 'Production/db-primary', action: 'update', error: 'version moved: planned 7, live 8' }],
        skipped: [{ address: 'Staging/old-token', action: 'delete', reason: 'interrupted' }],
        interrupted: true,
      }),
    });
    const text = lines.map((l) => `${l.stream}: ${l.text}`);
    expect(text.filter((l) => l.startsWith('out'))).toEqual([
      `out: + Production/stripe-key: created (item ${'n'.repeat(26)}, version 1)`,
      'out: ~ Production/db-primary: update failed: version moved: planned 7, live 8',
      'out: - Staging/old-token: delete skipped: interrupted',
      'out: Failed:',
      'out:   Production/db-primary (update): version moved: planned 7, live 8',
      'out: Apply interrupted: 1 done, 1 failed, 1 skipped (1 created), in 1.5s.',
      'out: Interrupted: 1 operation not started. Run `opsync apply` again to finish the job: it plans again and does only what is left.',
    ]);
    expect(text.filter((l) => l.startsWith('err'))).toHaveLength(4); // the plan's warnings (and their positions), again
    expect(JSON.stringify(lines)).not.toContain(SECRET);
    expect(applyExitLines({ ...plan, mode: 'destroy' }, { approved: true, events: [], result: result({ interrupted: true }) }).at(-1)?.text).toContain(
      'Run `opsync destroy` again',
    );
    expect(applyExitLines(plan, { approved: false, declined: 'not-yes' }).at(-1)).toEqual({
      text: "Apply cancelled: only 'yes' approves. Nothing was changed.",
      style: 'warning',
      stream: 'err',
    });
  });
});

describe('PlanningView', () => {
  it('shows the refresh progress, keeps the keys typed meanwhile and stops on Ctrl-C', async () => {
    const keys: string[] = [];
    const onInterrupt = vi.fn();
    const store = createProgressStore({ minIntervalMs: 0 });
    const { stdin, lastFrame } = render(
      <PlanningView store={store} color={false} delayMs={0} onKey={(i) => (keys.push(i), store.typed(keys.length))} onInterrupt={onInterrupt} />,
    );
    await tick();
    store.progress(0, 3000);
    store.progress(1200, 3000);
    await tick();
    expect(lastFrame()).toContain('refreshing 1,200/3,000 items (40%)');
    await type(stdin, 'j', 'yes');
    expect(keys).toEqual(['j', 'y', 'e', 's']);
    expect(lastFrame()).toContain('refreshing 1,200/3,000 items (40%) · 4 keys kept for the view');
    await type(stdin, CTRL_C);
    expect(onInterrupt).toHaveBeenCalledTimes(1);
    expect(keys).toHaveLength(4);
  });

  it('draws nothing before its delay, and redraws thousands of updates at most every interval', async () => {
    let t = 0;
    const store = createProgressStore({ now: () => t, minIntervalMs: 100 });
    const seen: number[] = [];
    store.subscribe(() => seen.push(store.get().done));
    for (let i = 0; i <= 3000; i++) {
      t += 1;
      store.progress(i, 3000);
    }
    expect(seen.length).toBeLessThanOrEqual(32);
    expect(seen.at(-1)).toBe(3000);
    const { lastFrame } = render(<PlanningView store={store} color={false} delayMs={60_000} onKey={() => undefined} onInterrupt={() => undefined} />);
    await tick();
    expect(lastFrame() ?? '').toBe('');
  });
});

function result(over: Partial<ApplyResult> = {}): ApplyResult {
  return { done: [], failed: [], skipped: [], interrupted: false, elapsedMs: 1500, ...over };
}

describe('ApplyView', () => {
  it("asks before it acts: only 'yes' and Enter apply, with live progress to a summary", async () => {
    const plan = fixturePlan();
    let emit: (e: ApplyEvent) => void = () => {};
    let finish: (r: ApplyResult) => void = () => {};
    const execute = vi.fn((onEvent: (e: ApplyEvent) => void) => {
      emit = onEvent;
      return new Promise<ApplyResult>((resolve) => (finish = resolve));
    });
    const outcomes: ApplyOutcome[] = [];
    const { stdin, lastFrame } = render(
      <ApplyView plan={plan} execute={execute} color={false} height={40} onFinish={(o) => outcomes.push(o)} />,
    );
    await tick();
    expect(flat(lastFrame())).toContain("Apply these changes in https://connect.example.com? Only 'yes' will be accepted to approve.");
    expect(lastFrame()).toContain('Enter a value: █ (type yes, then Enter, to apply · q aborts · ? keys)');
    expect(lastFrame()).toContain('Warning: Staging/ghost was deleted outside opsync;'); // diagnostics on top here too
    await type(stdin, DOWN, ENTER); // scrolling and expanding are not answers
    expect(lastFrame()).toContain('+Owner: data team');
    expect(execute).not.toHaveBeenCalled();
    expect(outcomes).toEqual([]);

    await type(stdin, 'y', 'e');
    expect(lastFrame()).toContain('Enter a value: ye█ (Esc clears)');
    expect(lastFrame()).toContain('+Owner: data team'); // e was part of the answer, not "expand all"
    expect(lastFrame()).not.toContain('generated on create');
    await type(stdin, 's');
    expect(lastFrame()).toContain('Enter a value: yes█ (Enter applies · Esc clears)');
    expect(execute).not.toHaveBeenCalled();
    await type(stdin, ENTER);
    expect(execute).toHaveBeenCalledTimes(1);
    let f = lastFrame() ?? '';
    expect(f).toMatch(/Applying: 0\/9 done · 0 failed · 0 running · 9 pending/);
    expect(f).not.toContain('pending]'); // no rows of pending operations: they are counted

    emit({ type: 'start', address: 'Production/stripe-key', action: 'create' });
    emit({ type: 'start', address: 'Production/db-primary', action: 'update' });
    await tick();
    f = lastFrame() ?? '';
    expect(f).toContain('+ Production/stripe-key: creating...');
    expect(f).toContain('2 running');

    emit({ type: 'done', address: 'Production/stripe-key', action: 'create', itemId: 'n'.repeat(26), version: 1 });
    emit({ type: 'failed', address: 'Production/db-primary', action: 'update', error: 'version moved: planned 7, live 8' });
    await tick();
    f = lastFrame() ?? '';
    expect(f).toMatch(/Applying: 1\/9 done · 1 failed · 0 running · 7 pending/);
    expect(f).toContain(`+ Production/stripe-key: created (item ${'n'.repeat(26)}, version 1)`);
    expect(f).toContain('~ Production/db-primary: update failed: version moved: planned 7, live 8');

    finish(
      result({
        done: [{ address: 'Production/stripe-key', action: 'create' }],
        failed: [{ address: 'Production/db-primary', action: 'update', error: 'version moved: planned 7, live 8' }],
      }),
    );
    await until(() => outcomes.length > 0, lastFrame);
    f = lastFrame() ?? '';
    // The unchanged items whose state entry changes (a move, a protect) are not operations: counted as done when not failed.
    expect(flat(f)).toContain('Apply failed: 1 done, 1 failed, 0 skipped (1 created, 1 moved, 1 (un)protect recorded), in 1.5s.');
    expect(outcomes[0].approved).toBe(true);
    expect(outcomes[0].result?.failed).toHaveLength(1);
    // the record printed after: the last event of each operation, in the plan's order
    expect(outcomes[0].events?.map((e) => `${e.type} ${e.address}`)).toEqual(['done Production/stripe-key', 'failed Production/db-primary']);
  });

  it('yes and Enter in one read apply', async () => {
    const execute = vi.fn(async () => result());
    const outcomes: ApplyOutcome[] = [];
    const { stdin, lastFrame } = render(
      <ApplyView plan={fixturePlan()} execute={execute} color={false} height={40} onFinish={(o) => outcomes.push(o)} />,
    );
    await tick();
    await type(stdin, 'yes' + ENTER);
    await until(() => outcomes.length > 0, lastFrame);
    expect(execute).toHaveBeenCalledTimes(1);
    expect(outcomes[0].approved).toBe(true);
    expect(lastFrame()).toContain('Apply complete');
  });

  it('runs through to a clean summary when everything succeeds', async () => {
    const plan = fixturePlan();
    const execute = vi.fn(async (onEvent: (e: ApplyEvent) => void) => {
      const done: ApplyResult['done'] = [];
      for (const c of plan.changes.filter((x) => x.action !== 'noop')) {
        onEvent({ type: 'start', address: c.address, action: c.action });
        onEvent({ type: 'done', address: c.address, action: c.action });
        done.push({ address: c.address, action: c.action });
      }
      return result({ done, elapsedMs: 800 });
    });
    const outcomes: ApplyOutcome[] = [];
    const { stdin, lastFrame } = render(
      <ApplyView plan={plan} execute={execute} color={false} height={40} onFinish={(o) => outcomes.push(o)} />,
    );
    await tick();
    await type(stdin, 'yes', ENTER);
    await until(() => outcomes.length > 0, lastFrame);
    // The headline wraps rather than lose its counts.
    expect(flat(lastFrame())).toContain(
      'Apply complete: 9 done, 0 failed, 0 skipped (2 created, 3 updated, 1 replaced, 2 deleted, 1 forgotten, 2 moved, 1 (un)protect recorded), in 800ms.',
    );
    expect(lastFrame()).not.toContain('Failed:');
    expect(outcomes[0].events).toHaveLength(9);
  });

  for (const [name, keys, declined] of [
    ['n and Enter', ['n', ENTER], 'not-yes'],
    ['a stray y and Enter', ['y', ENTER], 'not-yes'],
    ['ye and Enter', ['ye', ENTER], 'not-yes'],
    ['yess and Enter', ['yess', ENTER], 'not-yes'],
    ['q', ['q'], 'aborted'],
    ['Esc', [ESC], 'aborted'],
    ['Ctrl-C', [CTRL_C], 'aborted'],
    ['Ctrl-C while typing yes', ['ye', CTRL_C], 'aborted'],
  ] as const) {
    it(`declines on ${name} and never calls execute`, async () => {
      const execute = vi.fn(async () => result());
      const outcomes: ApplyOutcome[] = [];
      const { stdin, lastFrame } = render(
        <ApplyView plan={fixturePlan()} execute={execute} color={false} height={40} onFinish={(o) => outcomes.push(o)} />,
      );
      await tick();
      await type(stdin, ...keys);
      await until(() => outcomes.length > 0, lastFrame);
      expect(outcomes).toEqual([{ approved: false, declined }]);
      expect(execute).not.toHaveBeenCalled();
      expect(lastFrame()).toContain(declined === 'not-yes' ? "Apply cancelled: only 'yes' approves. Nothing was changed." : 'Apply aborted: nothing was changed.');
      await type(stdin, 'yes', ENTER); // too late: the question is gone
      expect(execute).not.toHaveBeenCalled();
    });
  }

  it('Enter alone never answers: it expands, and Esc clears an answer before it aborts', async () => {
    const execute = vi.fn(async () => result());
    const outcomes: ApplyOutcome[] = [];
    const { stdin, lastFrame } = render(
      <ApplyView plan={fixturePlan()} execute={execute} color={false} height={60} onFinish={(o) => outcomes.push(o)} />,
    );
    await tick();
    await type(stdin, ENTER, ENTER, ENTER);
    expect(lastFrame()).toContain('+ field api.credential: (generated on create)');
    await type(stdin, 'yo');
    expect(lastFrame()).toContain("Enter a value: yo█ (Enter cancels: only 'yes' approves · Esc clears)");
    await type(stdin, ESC);
    expect(lastFrame()).toContain('Enter a value: █');
    await type(stdin, '/', 'smtp', ENTER, ESC); // a kept filter is cleared first
    expect(outcomes).toEqual([]);
    expect(lastFrame()).toMatch(/~ {3}Production\/db-primary/);
    await type(stdin, 'yes', BACKSPACE, 's', ENTER);
    await until(() => outcomes.length > 0, lastFrame);
    expect(execute).toHaveBeenCalledTimes(1);
  });

  it('a yes typed before the plan was shown waits for an Enter pressed after', async () => {
    const execute = vi.fn(async () => result());
    const outcomes: ApplyOutcome[] = [];
    const none = { upArrow: false, downArrow: false, leftArrow: false, rightArrow: false, pageDown: false, pageUp: false, home: false, end: false, return: false, escape: false, ctrl: false, shift: false, tab: false, backspace: false, delete: false, meta: false } as Key;
    const typedAhead: [string, Key][] = [['y', none], ['e', none], ['s', none], ['', { ...none, return: true }]];
    const { stdin, lastFrame } = render(
      <ApplyView plan={fixturePlan()} execute={execute} color={false} height={40} typedAhead={typedAhead} onFinish={(o) => outcomes.push(o)} />,
    );
    await tick();
    expect(lastFrame()).toContain('Enter a value: yes█ (Enter applies · Esc clears)');
    expect(execute).not.toHaveBeenCalled();
    await type(stdin, ENTER);
    await until(() => outcomes.length > 0, lastFrame);
    expect(execute).toHaveBeenCalledTimes(1);
  });

  it('Ctrl-C during apply aborts the signal, lets running operations finish and says how to finish', async () => {
    const plan = fixturePlan();
    const ops = plan.changes.filter((c) => c.action !== 'noop');
    let signal: AbortSignal | undefined;
    let release: () => void = () => {};
    const execute = vi.fn(async (onEvent: (e: ApplyEvent) => void, s: AbortSignal) => {
      signal = s;
      const [first, ...rest] = ops;
      onEvent({ type: 'start', address: first.address, action: first.action });
      await new Promise<void>((r) => (release = r)); // the running operation, held until the test lets it finish
      onEvent({ type: 'done', address: first.address, action: first.action });
      const skipped = rest.map((c) => ({ address: c.address, action: c.action, reason: 'interrupted' }));
      for (const k of skipped) onEvent({ type: 'skipped', ...k });
      return result({ done: [{ address: first.address, action: first.action }], skipped, interrupted: s.aborted });
    });
    const outcomes: ApplyOutcome[] = [];
    const { stdin, lastFrame } = render(
      <ApplyView plan={plan} execute={execute} color={false} height={40} onFinish={(o) => outcomes.push(o)} />,
    );
    await tick();
    await type(stdin, 'yes', ENTER);
    expect(lastFrame()).toContain('1 running');
    await type(stdin, CTRL_C);
    expect(signal?.aborted).toBe(true);
    expect(flat(lastFrame())).toContain(
      'Interrupting: no new operations start; waiting for 1 running to finish and saving the state. Then `opsync apply` again finishes the job.',
    );
    expect(outcomes).toEqual([]); // still waiting for the running operation
    release();
    await until(() => outcomes.length > 0, lastFrame);
    const f = flat(lastFrame());
    expect(f).toContain('Apply interrupted: 1 done, 0 failed, 8 skipped (1 created)');
    expect(f).toContain('Interrupted: 8 operations not started. Run `opsync apply` again to finish the job');
    expect(outcomes[0].result?.interrupted).toBe(true);
    expect(outcomes[0].events?.filter((e) => e.type === 'skipped')).toHaveLength(8);
  });

  it('with autoApprove starts at once', async () => {
    const execute = vi.fn(async () => result());
    const outcomes: ApplyOutcome[] = [];
    const { lastFrame } = render(
      <ApplyView plan={fixturePlan()} execute={execute} color={false} height={40} autoApprove onFinish={(o) => outcomes.push(o)} />,
    );
    await until(() => outcomes.length > 0, lastFrame);
    expect(execute).toHaveBeenCalledTimes(1);
    expect(lastFrame()).not.toContain('Apply these changes?');
  });

  it('reports an execute that rejects', async () => {
    const execute = vi.fn(async () => {
      throw new Error('state lock lost');
    });
    const outcomes: ApplyOutcome[] = [];
    const { lastFrame } = render(
      <ApplyView plan={fixturePlan()} execute={execute} color={false} height={40} autoApprove onFinish={(o) => outcomes.push(o)} />,
    );
    await until(() => outcomes.length > 0, lastFrame);
    expect(outcomes[0].error?.message).toBe('state lock lost');
    expect(lastFrame()).toContain('Apply stopped by an error: state lock lost');
  });

  it('shows a progress bar with done/total, rate, elapsed and ETA on its clock', async () => {
    const plan: Plan = bigPlan(5000); // 4000 operations
    const ops = plan.changes.filter((c) => c.action !== 'noop');
    let t = 1_000_000;
    let emit: (e: ApplyEvent) => void = () => {};
    const execute = vi.fn((onEvent: (e: ApplyEvent) => void) => {
      emit = onEvent;
      return new Promise<ApplyResult>(() => {});
    });
    const { lastFrame } = render(<ApplyView plan={plan} execute={execute} color={false} height={30} autoApprove now={() => t} />);
    await until(() => execute.mock.calls.length > 0, lastFrame);
    await tick();
    expect(lastFrame()).toContain('░░░░░░░░░░░░░░░░░░░░░░░░░░░░░░   0% 0/4,000 · -/s · ETA ? · <1s elapsed');
    for (const c of ops.slice(0, 1000)) {
      t += 10; // 100 operations a second
      emit({ type: 'start', address: c.address, action: c.action });
      emit({ type: 'done', address: c.address, action: c.action });
    }
    await tick();
    const f = lastFrame() ?? '';
    expect(f).toContain('Applying: 1,000/4,000 done');
    expect(f).toContain('███████░░░░░░░░░░░░░░░░░░░░░░░  25% 1,000/4,000 · 100/s · ETA 30s · 10s elapsed');
    // the operations just finished, newest last
    expect(f).toContain(`${ops[999].address}: `);
    expect(f.split('\n').length).toBeLessThanOrEqual(30);
  });

  it('keeps a 5000-operation apply to a window', async () => {
    const plan: Plan = bigPlan(5000);
    const execute = vi.fn(() => new Promise<ApplyResult>(() => {}));
    const { stdin, lastFrame } = render(<ApplyView plan={plan} execute={execute} color={false} height={30} />);
    await tick(100);
    expect((lastFrame() ?? '').split('\n').length).toBeLessThanOrEqual(30);
    await type(stdin, 'yes', ENTER);
    expect((lastFrame() ?? '').split('\n').length).toBeLessThanOrEqual(30);
    expect(lastFrame()).toContain('Applying: 0/4,000 done');
  });
});
