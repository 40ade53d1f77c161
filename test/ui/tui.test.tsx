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
import { ApplyView, PlanView, type ApplyOutcome } from '../../src/ui/tui/index.js';
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

describe('PlanView', () => {
  it('shows the summary and the items grouped by vault with markers', async () => {
    const { lastFrame } = render(<PlanView plan={fixturePlan()} color={false} height={40} />);
    await tick();
    const f = lastFrame() ?? '';
    // One line, cut at the terminal's width (100 columns here): the list below keeps its height.
    expect(f).toContain('Plan: 2 to create, 3 to update, 1 to replace, 2 to delete, 2 to move, 1 to (un)protect, 1 to forget…');
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
    expect(f).toContain('! drift: changed outside opsync since the last apply (state version 5, live version 7)');
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
  });

  it('filters by address or title with /', async () => {
    const { stdin, lastFrame } = render(<PlanView plan={fixturePlan()} color={false} height={40} />);
    await tick();
    await type(stdin, '/', 's', 'm', 't');
    let f = lastFrame() ?? '';
    expect(f).toContain('/smt█');
    expect(f).toContain('Staging/smtp');
    expect(f).not.toContain('Production/db-primary');
    expect(f).not.toContain('▾ Production');
    await type(stdin, BACKSPACE, BACKSPACE, BACKSPACE, ...'queue credentials'.split(''), ENTER);
    f = lastFrame() ?? '';
    expect(f).toContain('Staging/queue');
    expect(f).not.toContain('Staging/smtp');
    expect(f).toContain('[1/1] · filter /queue credentials');
    await type(stdin, ENTER); // Enter now expands
    expect(lastFrame()).toContain('+ field password: (sensitive value)');
    await type(stdin, '/', 'z', 'z', 'z');
    expect(lastFrame()).toContain('No item matches "zzz".');
    await type(stdin, ESC);
    expect(lastFrame()).toContain('Production/db-primary');
  });

  it('quits with q', async () => {
    const onQuit = vi.fn();
    const { stdin } = render(<PlanView plan={fixturePlan()} color={false} height={40} onQuit={onQuit} />);
    await tick();
    await type(stdin, 'q');
    expect(onQuit).toHaveBeenCalledTimes(1);
  });

  it('quits with Ctrl-C', async () => {
    const onQuit = vi.fn();
    const { stdin } = render(<PlanView plan={fixturePlan()} color={false} height={40} onQuit={onQuit} />);
    await tick();
    await type(stdin, CTRL_C);
    expect(onQuit).toHaveBeenCalledTimes(1);
  });

  it('says when there is nothing to change', async () => {
    const { lastFrame } = render(<PlanView plan={noChangePlan()} color={false} height={20} />);
    await tick();
    expect(lastFrame()).toContain('No changes.');
    expect(lastFrame()).toContain('Nothing to change.');
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
  });
});

function result(over: Partial<ApplyResult> = {}): ApplyResult {
  return { done: [], failed: [], skipped: [], interrupted: false, elapsedMs: 1500, ...over };
}

describe('ApplyView', () => {
  it('asks before it acts, and y applies with live progress to a summary', async () => {
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
    expect(lastFrame()).toContain('Apply these changes? (y/N)');
    expect(lastFrame()).toContain('Production/db-primary');
    await type(stdin, DOWN); // scrolling is not an answer
    expect(execute).not.toHaveBeenCalled();
    expect(outcomes).toEqual([]);

    await type(stdin, 'y');
    expect(execute).toHaveBeenCalledTimes(1);
    let f = lastFrame() ?? '';
    expect(f).toMatch(/Applying: 0\/9 done · 0 failed · 0 running · 9 pending/);
    expect(f).toMatch(/\[pending\] +\+ {3}Production\/stripe-key: create pending/);

    emit({ type: 'start', address: 'Production/stripe-key', action: 'create' });
    emit({ type: 'start', address: 'Production/db-primary', action: 'update' });
    await tick();
    f = lastFrame() ?? '';
    expect(f).toMatch(/\[running\] +\+ {3}Production\/stripe-key: creating\.\.\./);
    expect(f).toContain('2 running');

    emit({ type: 'done', address: 'Production/stripe-key', action: 'create', itemId: 'n'.repeat(26), version: 1 });
    emit({ type: 'failed', address: 'Production/db-primary', action: 'update', error: 'version moved: planned 7, live 8' });
    await tick();
    f = lastFrame() ?? '';
    expect(f).toMatch(/Applying: 1\/9 done · 1 failed · 0 running · 7 pending/);
    expect(f).toMatch(/\[done\] +\+ {3}Production\/stripe-key: created \(item n{26}, version 1\)/);
    expect(f).toMatch(/\[failed\] +~ {3}Production\/db-primary: update failed: version moved: planned 7, live 8/);

    finish(
      result({
        done: [{ address: 'Production/stripe-key', action: 'create' }],
        failed: [{ address: 'Production/db-primary', action: 'update', error: 'version moved: planned 7, live 8' }],
      }),
    );
    await until(() => outcomes.length > 0, lastFrame);
    f = lastFrame() ?? '';
    // The unchanged items whose state entry changes (a move, a protect) are not operations: counted as done when not failed.
    expect(f).toContain('Apply failed: 1 done, 1 failed, 0 skipped (1 created, 1 moved, 1 (un)protect recorded), in 1.5s.');
    expect(f).toContain('Failed:');
    expect(f).toContain('Production/db-primary (update): version moved: planned 7, live 8');
    expect(outcomes[0].approved).toBe(true);
    expect(outcomes[0].result?.failed).toHaveLength(1);
  });

  it('y and Enter in one read apply (Enter does not abort an apply already started)', async () => {
    const execute = vi.fn(async () => result());
    const outcomes: ApplyOutcome[] = [];
    const { stdin, lastFrame } = render(
      <ApplyView plan={fixturePlan()} execute={execute} color={false} height={40} onFinish={(o) => outcomes.push(o)} />,
    );
    await tick();
    await type(stdin, 'y' + ENTER);
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
    await type(stdin, 'y');
    await until(() => outcomes.length > 0, lastFrame);
    // The headline wraps rather than lose its counts.
    expect(lastFrame()?.replace(/\n/g, ' ')).toContain(
      'Apply complete: 9 done, 0 failed, 0 skipped (2 created, 3 updated, 1 replaced, 2 deleted, 1 forgotten, 2 moved, 1 (un)protect recorded), in 800ms.',
    );
    expect(lastFrame()).not.toContain('Failed:');
  });

  for (const [name, key] of [
    ['n', 'n'],
    ['Enter', ENTER],
    ['Esc', ESC],
    ['Ctrl-C', CTRL_C],
    ['any other key', 'x'],
  ] as const) {
    it(`aborts on ${name} and never calls execute`, async () => {
      const execute = vi.fn(async () => result());
      const outcomes: ApplyOutcome[] = [];
      const { stdin, lastFrame } = render(
        <ApplyView plan={fixturePlan()} execute={execute} color={false} height={40} onFinish={(o) => outcomes.push(o)} />,
      );
      await tick();
      await type(stdin, key);
      await until(() => outcomes.length > 0, lastFrame);
      expect(outcomes).toEqual([{ approved: false }]);
      expect(execute).not.toHaveBeenCalled();
      expect(lastFrame()).toContain('Apply aborted: nothing was changed.');
      await type(stdin, 'y'); // too late: the question is gone
      expect(execute).not.toHaveBeenCalled();
    });
  }

  it('Ctrl-C during apply aborts the signal, lets running operations finish and lists what was left undone', async () => {
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
    await type(stdin, 'y');
    expect(lastFrame()).toContain('1 running');
    await type(stdin, CTRL_C);
    expect(signal?.aborted).toBe(true);
    expect(lastFrame()).toContain('Interrupting: no new operations start; waiting for 1 running to finish...');
    expect(outcomes).toEqual([]); // still waiting for the running operation
    release();
    await until(() => outcomes.length > 0, lastFrame);
    const f = lastFrame() ?? '';
    expect(f).toContain('Apply interrupted: 1 done, 0 failed, 8 skipped (1 created)');
    expect(f).toContain('interrupted: 8 operations not started');
    expect(f).toContain('Left undone:');
    for (const c of ops.slice(1)) expect(f).toContain(`${c.address} (${c.action}): interrupted`);
    expect(outcomes[0].result?.interrupted).toBe(true);
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

  it('shows a progress bar with done/total, rate and ETA on its clock', async () => {
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
    expect(lastFrame()).toContain('░░░░░░░░░░░░░░░░░░░░░░░░░░░░░░   0% 0/4,000 · -/s · ETA ?');
    for (const c of ops.slice(0, 1000)) {
      t += 10; // 100 operations a second
      emit({ type: 'start', address: c.address, action: c.action });
      emit({ type: 'done', address: c.address, action: c.action });
    }
    await tick();
    const f = lastFrame() ?? '';
    expect(f).toContain('Applying: 1000/4000 done');
    expect(f).toContain('███████░░░░░░░░░░░░░░░░░░░░░░░  25% 1,000/4,000 · 100/s · ETA 30s');
    expect(f.split('\n').length).toBeLessThanOrEqual(30);
  });

  it('keeps a 5000-operation apply to a window', async () => {
    const plan: Plan = bigPlan(5000);
    const execute = vi.fn(() => new Promise<ApplyResult>(() => {}));
    const { stdin, lastFrame } = render(<ApplyView plan={plan} execute={execute} color={false} height={30} />);
    await tick(100);
    expect((lastFrame() ?? '').split('\n').length).toBeLessThanOrEqual(30);
    await type(stdin, 'y');
    expect((lastFrame() ?? '').split('\n').length).toBeLessThanOrEqual(30);
    expect(lastFrame()).toContain('Applying: 0/4000 done');
  });
});
