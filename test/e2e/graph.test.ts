// The dependency graph end to end (issue 13): items that copy values from each other (`ref:` to a managed
// item) plan and apply in one run, in either order of declaration; a rotation reaches its dependents in the same
// apply; a cycle is refused by validate and plan, naming it with positions.
import { describe, expect, it } from 'vitest';
import { filterEq } from '../../src/connect/client.js';
import type { FullItem } from '../../src/connect/types.js';
import { findLeak } from '../support/leaks.js';
import { startTestServer } from '../support/server.js';
import { runCli, tempProject, useSeededProject } from './cli.js';

const SEED = `vaults:
  - name: Production
    description: prod
`;

const ctx = useSeededProject(SEED);
const { cli, write } = ctx;

async function live(title: string): Promise<FullItem> {
  const vault = (await ctx.client.findVault('Production'))!;
  const found = await ctx.client.listItems(vault.id, filterEq('title', title));
  expect(found).toHaveLength(1);
  return ctx.client.getItem(vault.id, found[0].id);
}
const value = (item: FullItem, label: string) => item.fields!.find((f) => f.label === label)?.value;

const DB = `  db-readonly:
    title: Orders DB read-only
    category: DATABASE
    fields:
      username: { value: orders_ro }
      password: { type: CONCEALED, generate: { length: 30 } }
`;
const APP = `  app:
    title: Orders app
    category: API_CREDENTIAL
    fields:
      db user: { value: { ref: "op://Production/Orders DB read-only/username" } }
      db password: { type: CONCEALED, value: { ref: "op://Production/Orders DB read-only/password" } }
`;

describe.each([
  ['dependency first', DB + APP],
  ['dependent first', APP + DB],
])('a first apply of items that reference each other (%s)', (_name, items) => {
  it('plans the copied values, applies in one run, and the next plan is a no-op', { timeout: 120_000 }, async () => {
    write('m.yaml', `vault: Production\nitems:\n${items}`);
    let r = await cli(['plan', 'm.yaml', '--format', 'text', '--detailed-exitcode']);
    expect(r.code, r.stdout + r.stderr).toBe(2);
    expect(r.stderr).toBe('');
    expect(r.stdout).toContain('(known after apply)');
    expect(r.stdout).toContain('Production/db-readonly password generated');
    const json = JSON.parse((await cli(['plan', 'm.yaml', '--format', 'json'])).stdout) as { resource_changes: { address: string; depends_on?: unknown }[] };
    expect(json.resource_changes.find((c) => c.address === 'Production/app')!.depends_on).toEqual([
      { field: 'db user', on: 'Production/db-readonly', known_after_apply: false },
      { field: 'db password', on: 'Production/db-readonly', known_after_apply: true },
    ]);

    r = await cli(['apply', 'm.yaml', '--auto-approve']);
    expect(r.code, r.stderr).toBe(0);
    const db = await live('Orders DB read-only');
    const app = await live('Orders app');
    const password = value(db, 'password')!;
    expect(password).toHaveLength(30);
    expect(value(app, 'db password')).toBe(password);
    expect(value(app, 'db user')).toBe('orders_ro');
    expect(findLeak(r.stdout + r.stderr, password)).toBeUndefined();

    r = await cli(['plan', 'm.yaml', '--format', 'text', '--detailed-exitcode']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
  });
});

it('a rotation reaches its dependents in the same apply, and says why', { timeout: 120_000 }, async () => {
  write('m.yaml', `vault: Production\nitems:\n${DB}${APP}`);
  expect((await cli(['apply', 'm.yaml', '--auto-approve'])).code).toBe(0);
  const before = value(await live('Orders DB read-only'), 'password')!;

  let r = await cli(['plan', 'm.yaml', '--format', 'text', '--rotate', 'Production/db-readonly']);
  expect(r.code, r.stderr).toBe(0);
  expect(r.stdout).toContain('Production/db-readonly password rotated');
  expect(r.stdout).not.toContain('manifest changed');

  r = await cli(['apply', 'm.yaml', '--auto-approve', '--rotate', 'Production/db-readonly']);
  expect(r.code, r.stderr).toBe(0);
  const after = value(await live('Orders DB read-only'), 'password')!;
  expect(after).not.toBe(before);
  expect(value(await live('Orders app'), 'db password')).toBe(after);
  for (const secret of [before, after]) expect(findLeak(r.stdout + r.stderr, secret)).toBeUndefined();

  r = await cli(['plan', 'm.yaml', '--format', 'text', '--detailed-exitcode']);
  expect(r.code, r.stdout + r.stderr).toBe(0);
});

it('a value changed in the dependency\'s manifest reaches the dependent in one apply, from a saved plan too', { timeout: 120_000 }, async () => {
  write('m.yaml', `vault: Production\nitems:\n${DB}${APP}`);
  expect((await cli(['apply', 'm.yaml', '--auto-approve'])).code).toBe(0);
  write('m.yaml', `vault: Production\nitems:\n${DB.replace('orders_ro', 'orders_reader')}${APP}`);
  let r = await cli(['plan', 'm.yaml', '--format', 'text', '--out', 'p.plan']);
  expect(r.code, r.stderr).toBe(0);
  expect(r.stdout).toContain('Production/db-readonly username changed');
  r = await cli(['apply', 'p.plan', '--auto-approve']);
  expect(r.code, r.stderr).toBe(0);
  expect(value(await live('Orders app'), 'db user')).toBe('orders_reader');
  r = await cli(['plan', 'm.yaml', '--format', 'text', '--detailed-exitcode']);
  expect(r.code, r.stdout + r.stderr).toBe(0);
});

it('a cycle is refused by validate and plan, naming every address and position', { timeout: 60_000 }, async () => {
  write(
    'm.yaml',
    `vault: Production
items:
  a:
    title: A
    category: PASSWORD
    fields:
      password: { purpose: PASSWORD, value: { ref: "op://Production/B/password" } }
  b:
    title: B
    category: PASSWORD
    fields:
      password: { purpose: PASSWORD, value: { ref: "op://Production/A/password" } }
`,
  );
  for (const args of [['validate', 'm.yaml'], ['plan', 'm.yaml', '--format', 'text']]) {
    const r = await cli(args);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/m\.yaml:7:\d+: error: reference cycle: Production\/a -> Production\/b -> Production\/a/);
    expect(r.stderr).toMatch(/m\.yaml:12:\d+/);
    expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
  }
});

describe('against a realistic server (reads lag writes by 1 s, 409 on overlapping writes)', () => {
  it('a first apply and a rotation reach the dependent in one run each, and the next plan is a no-op', { timeout: 240_000 }, async () => {
    const srv = await startTestServer({ realistic: true });
    try {
      const dir = tempProject({ 'm.yaml': `vault: Private\nitems:\n${(APP + DB).replaceAll('op://Production/', 'op://Private/')}` });
      const env = { OP_CONNECT_HOST: srv.url, OP_CONNECT_TOKEN: srv.token };
      const run = (args: string[]) => runCli(args, { cwd: dir, env });
      let r = await run(['apply', 'm.yaml', '--auto-approve']);
      expect(r.code, r.stdout + r.stderr).toBe(0);
      r = await run(['plan', 'm.yaml', '--format', 'text', '--detailed-exitcode']);
      expect(r.code, r.stdout + r.stderr).toBe(0);
      r = await run(['apply', 'm.yaml', '--auto-approve', '--rotate', 'Private/db-readonly']);
      expect(r.code, r.stdout + r.stderr).toBe(0);
      expect(r.stdout + r.stderr).toContain('Private/app');
      r = await run(['plan', 'm.yaml', '--format', 'text', '--detailed-exitcode']);
      expect(r.code, r.stdout + r.stderr).toBe(0);
    } finally {
      await srv.close();
    }
  });
});

it('a dependent planned with --target alone names the dependency to add when it is not applied yet', { timeout: 60_000 }, async () => {
  write('m.yaml', `vault: Production\nitems:\n${APP}${DB}`);
  const r = await cli(['plan', 'm.yaml', '--format', 'text', '--target', 'Production/app']);
  expect(r.code).toBe(1);
  expect(r.stdout + r.stderr).toContain('copies a value from Production/db-readonly, which is outside --target and not applied yet: add --target Production/db-readonly');
  expect((await cli(['apply', 'm.yaml', '--auto-approve', '--target', 'Production/db-readonly'])).code).toBe(0);
  const after = await cli(['plan', 'm.yaml', '--format', 'text', '--target', 'Production/app', '--detailed-exitcode']);
  expect(after.code, after.stdout + after.stderr).toBe(2);
});
