// Issue 17, rotation policies end to end: the real CLI against a real opsync server, its clock set by OPSYNC_NOW
// (nothing sleeps). apply records when each value was generated; past the due date plan shows the rotation with
// its reason and counts it, --no-rotate-due leaves it out, and apply regenerates the value on the server and moves
// the state's generatedAt. `opsync rotations` lists every managed generated value (no Connect needed) and exits 2
// while one is overdue, in text, JSON (against its schema) and Markdown. No secret value reaches any output.
import { readFileSync } from 'node:fs';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { describe, expect, it } from 'vitest';
import type { FullItem } from '../../src/connect/types.js';
import { findLeak } from '../support/leaks.js';
import { useSeededProject, type CliResult } from './cli.js';

const ajv = new Ajv2020({ allErrors: true, strict: true });
addFormats.default(ajv);
const load = (name: string) => JSON.parse(readFileSync(new URL(`../../schemas/${name}.schema.json`, import.meta.url), 'utf8')) as object;
const validPlan = ajv.compile(load('plan-output'));
const validRotations = ajv.compile(load('rotations-output'));

const ctx = useSeededProject('vaults:\n  - name: Production\n  - name: Staging\n');
const { cli, write } = ctx;

const DB_PASSWORD = 'Vd4kQ9zLm2Xp7RtW';

const CONFIG = `manifests: [m.yaml]
vaults:
  Staging:
    rotate: { every: 1m }
`;

const MANIFEST = `vault: Production
items:
  db:
    title: Database
    category: DATABASE
    fields:
      username: app
      password: { value: { env: DB_PASSWORD } }
      replica: { type: CONCEALED, generate: { length: 32, rotate: { every: 90d } } }
  api:
    title: API key
    category: API_CREDENTIAL
    rotate: { every: 12w }
    fields:
      credential: { type: CONCEALED, generate: { length: 40 } }
      legacy: { type: CONCEALED, generate: { rotate: "2026-08" } }
  manual:
    title: Manual
    category: PASSWORD
    fields:
      password: { purpose: PASSWORD, generate: true }
---
vault: Staging
items:
  cache:
    title: Cache
    category: PASSWORD
    fields:
      password: { purpose: PASSWORD, generate: true }
`;

const T0 = '2026-08-01T09:30:00.000Z';
const at = (iso: string) => ({ OPSYNC_NOW: iso, DB_PASSWORD });

async function item(vaultName: string, title: string): Promise<FullItem> {
  const vault = (await ctx.client.findVault(vaultName))!;
  const [s] = await ctx.client.findItemsByTitle(vault.id, title);
  return ctx.client.getItem(vault.id, s.id);
}
const valueOf = (i: FullItem, label: string) => i.fields!.find((f) => f.label === label)!.value!;

/** Every generated value and the manifest's secret: none may appear in any output. */
async function secrets(): Promise<string[]> {
  const db = await item('Production', 'Database');
  const api = await item('Production', 'API key');
  const manual = await item('Production', 'Manual');
  const cache = await item('Staging', 'Cache');
  return [DB_PASSWORD, valueOf(db, 'replica'), valueOf(api, 'credential'), valueOf(api, 'legacy'), valueOf(manual, 'password'), valueOf(cache, 'password')];
}

function expectNoLeak(results: CliResult[], values: string[]): void {
  for (const r of results) for (const v of values) for (const text of [r.stdout, r.stderr]) expect(findLeak(text, v), `a secret in ${text.slice(0, 200)}`).toBeUndefined();
}

async function appliedAt(now: string): Promise<CliResult> {
  write('opsync.yaml', CONFIG);
  write('m.yaml', MANIFEST);
  const r = await cli(['apply', '--auto-approve'], at(now));
  expect(r.code, r.stderr).toBe(0);
  return r;
}

describe('rotation policies, end to end', () => {
  it('apply records generation times; plan past the due date rotates with the reason; apply regenerates and moves the time', async () => {
    const first = await appliedAt(T0);
    const st = ctx.state();
    expect(st.resources['Production/db'].generatedAt).toEqual({ replica: T0 });
    expect(st.resources['Production/api'].generatedAt).toEqual({ credential: T0, legacy: T0 });
    expect(st.resources['Staging/cache'].generatedAt).toEqual({ password: T0 });
    const before = await secrets();

    // Not due yet: 1 Aug + 1m is 1 Sep; 30 Aug is before it.
    const early = await cli(['plan', '--detailed-exitcode'], at('2026-08-30T00:00:00Z'));
    expect(early.code, early.stderr).toBe(0);
    expect(early.stdout).toContain('No changes.');

    // 1 Sep: the Staging default (1m) is due; 24 Oct: the item's 12w too; 30 Oct: the field's 90d.
    const late = '2026-10-31T00:00:00Z';
    const plan = await cli(['plan', '--detailed-exitcode'], at(late));
    expect(plan.code, plan.stderr).toBe(2);
    expect(plan.stdout).toContain('~ update (replace whole item) Production/db');
    expect(plan.stdout).toContain('# because: rotation due: generated 2026-08-01, every 90d');
    expect(plan.stdout).toContain('# because: rotation due: credential, legacy generated 2026-08-01, every 12w');
    expect(plan.stdout).toContain('# because: rotation due: generated 2026-08-01, every 1m');
    expect(plan.stdout).toContain('Plan: 0 to create, 3 to update, 0 to replace, 0 to delete, 4 rotations due, 1 unchanged, 0 drifted.');
    expect(plan.stdout).not.toContain('Production/manual');

    const json = await cli(['plan', '--format', 'json'], at(late));
    expect(json.code, json.stderr).toBe(0);
    const doc = JSON.parse(json.stdout) as { summary: { rotate_due: number }; resource_changes: { address: string; rotate?: string[]; rotate_due?: { field: string; due_at: string }[] }[] };
    expect(validPlan(doc), JSON.stringify(validPlan.errors)).toBe(true);
    expect(doc.summary.rotate_due).toBe(4);
    expect(doc.resource_changes.find((c) => c.address === 'Production/db')?.rotate_due).toEqual([
      { field: 'replica', every: '90d', generated_at: T0, generated_at_recorded: true, due_at: '2026-10-30T09:30:00.000Z' },
    ]);

    const markdown = await cli(['plan', '--format', 'markdown'], at(late));
    expect(markdown.stdout).toContain('> <b>Rotations due</b>: 4 generated values are regenerated because their rotation policy is due.');
    expect(markdown.stdout).toContain('> - <code>Staging/cache</code> <code>password</code>: generated 2026-08-01, every 1m, due 2026-09-01');

    // --no-rotate-due: nothing to do this run, and a warning says what was left out.
    const skipped = await cli(['plan', '--no-rotate-due', '--detailed-exitcode'], at(late));
    expect(skipped.code, skipped.stderr).toBe(0);
    expect(skipped.stdout).toContain('No changes.');
    expect(skipped.stdout).toContain('Warning: 4 rotations due left out of this plan (--no-rotate-due): Production/api:credential, Production/api:legacy, Production/db:replica, Staging/cache:password');
    const skippedApply = await cli(['apply', '--auto-approve', '--no-rotate-due'], at(late));
    expect(skippedApply.code, skippedApply.stderr).toBe(0);
    expect(ctx.state().resources['Production/db'].generatedAt).toEqual({ replica: T0 });

    const apply = await cli(['apply', '--auto-approve'], at(late));
    expect(apply.code, apply.stderr).toBe(0);
    const after = await secrets();
    // The rotated values changed on the server; the one without a policy and the manifest's secret did not.
    expect(after[1]).not.toBe(before[1]);
    expect(after[2]).not.toBe(before[2]);
    expect(after[3]).not.toBe(before[3]);
    expect(after[5]).not.toBe(before[5]);
    expect(after[4]).toBe(before[4]);
    expect(valueOf(await item('Production', 'Database'), 'password')).toBe(DB_PASSWORD);
    const moved = ctx.state();
    expect(moved.resources['Production/db'].generatedAt).toEqual({ replica: '2026-10-31T00:00:00.000Z' });
    expect(moved.resources['Staging/cache'].generatedAt).toEqual({ password: '2026-10-31T00:00:00.000Z' });
    expect(moved.resources['Production/manual'].generatedAt).toEqual({ password: T0 });

    const again = await cli(['plan', '--detailed-exitcode'], at(late));
    expect(again.code, again.stderr).toBe(0);
    expectNoLeak([first, early, plan, json, markdown, skipped, skippedApply, apply, again], [...before, ...after]);
  });

  it('opsync rotations: the table soonest due first, --within, exit 2 while one is overdue, JSON and Markdown', async () => {
    await appliedAt(T0);
    const values = await secrets();
    // No Connect needed: the table comes from the manifests and the state (a host that answers nothing).
    const offline = { ...at('2026-08-15T00:00:00Z'), OP_CONNECT_HOST: 'http://127.0.0.1:9', OP_CONNECT_TOKEN: undefined };

    const ok = await cli(['rotations'], offline);
    expect(ok.code, ok.stderr).toBe(0);
    const lines = ok.stdout.split('\n');
    expect(lines[0]).toBe('Rotations as of 2026-08-15: 5 managed generated values; none overdue.');
    expect(lines[2]).toMatch(/^ADDRESS\s+FIELD\s+POLICY\s+LAST GENERATED\s+NEXT DUE\s+STATUS$/);
    expect(lines.slice(3, 8).map((l) => l.split(/\s{2,}/).slice(0, 2).join(' '))).toEqual([
      'Staging/cache password',
      'Production/api credential',
      'Production/api legacy',
      'Production/db replica',
      'Production/manual password',
    ]);
    expect(ok.stdout).toMatch(/Staging\/cache\s+password\s+1m \(vault\)\s+2026-08-01\s+2026-09-01\s+due in 18 days/);
    expect(ok.stdout).toMatch(/Production\/manual\s+password\s+—\s+2026-08-01\s+—\s+no policy/);

    const within = await cli(['rotations', '--within', '30d'], offline);
    expect(within.code).toBe(0);
    expect(within.stdout).toContain('5 managed generated values, 1 due within 30d; none overdue.');
    expect(within.stdout).toContain('Staging/cache');
    expect(within.stdout).not.toContain('Production/db');

    const overdue = { ...offline, OPSYNC_NOW: '2026-10-25T00:00:00Z' };
    const late = await cli(['rotations'], overdue);
    expect(late.code, late.stderr).toBe(2);
    expect(late.stdout).toContain('3 overdue: the next plan rotates them.');
    expect(late.stdout).toMatch(/Staging\/cache\s+password\s+1m \(vault\)\s+2026-08-01\s+2026-09-01\s+overdue by 53 days/);

    const json = await cli(['rotations', '--format', 'json', '--within', '1w'], overdue);
    expect(json.code).toBe(2);
    const doc = JSON.parse(json.stdout) as { overdue: number; total: number; within: string; rotations: { address: string; field: string; status: string; policy: { from: string } | null }[] };
    expect(validRotations(doc), JSON.stringify(validRotations.errors)).toBe(true);
    expect(doc).toMatchObject({ overdue: 3, total: 5, within: '1w' });
    expect(doc.rotations.map((r) => [`${r.address}:${r.field}`, r.status, r.policy?.from])).toEqual([
      ['Staging/cache:password', 'overdue', 'vault'],
      ['Production/api:credential', 'overdue', 'item'],
      ['Production/api:legacy', 'overdue', 'item'],
      ['Production/db:replica', 'due', 'field'],
    ]);

    const markdown = await cli(['rotations', '--format', 'markdown'], overdue);
    expect(markdown.code).toBe(2);
    expect(markdown.stdout).toContain('> <b>3 rotations are overdue</b>');
    expect(markdown.stdout).toContain('| <code>Production/db</code> | <code>replica</code> | 90d (field) | 2026-08-01 | 2026-10-30 | due in 6 days |');

    const bad = await cli(['rotations', '--within', '30 days'], offline);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toBe('opsync: error: --within: "30 days" is not a duration of days, weeks or months (e.g. 30d, 2w, 1m)\n');
    const badNow = await cli(['rotations'], { ...offline, OPSYNC_NOW: 'soon' });
    expect(badNow.code).toBe(1);
    expect(badNow.stderr).toContain('OPSYNC_NOW: "soon" is not an ISO 8601 timestamp');
    expectNoLeak([ok, within, late, json, markdown, bad, badNow], values);
  });

  it('a malformed policy is refused at its line by validate, plan and rotations', async () => {
    write('m.yaml', 'vault: Production\nitems:\n  a:\n    fields:\n      p: { generate: { rotate: { every: 90 days } } }\n');
    for (const args of [['validate', 'm.yaml'], ['rotations', 'm.yaml'], ['plan', 'm.yaml']]) {
      const r = await cli(args, at(T0));
      expect(r.code, args.join(' ')).toBe(1);
      expect(r.stderr).toContain('m.yaml:5:41: error: items.a.fields.p.generate.rotate.every must be a duration of days, weeks or months (e.g. 90d, 12w, 3m) or never');
    }
  });
});
