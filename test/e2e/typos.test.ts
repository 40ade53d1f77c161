// Typos in --target, --rotate and --replace (issue 13), end to end: the real CLI against a real server. A selector that
// names nothing is never a silent "No changes": exit 1, one line with the closest names, and nothing written
// (no state change, no write request to Connect), through plan, apply, destroy and refresh alike.
import { beforeEach, describe, expect, it } from 'vitest';
import { opsyncFiles, useSeededProject, writeRequests, type CliResult } from './cli.js';

const ctx = useSeededProject(`vaults:
  - name: Production
  - name: Staging
`);

const MANIFEST = (user = 'admin') => `vault: Production
items:
  db-primary:
    title: Primary database
    category: DATABASE
    fields:
      password: { type: CONCEALED, purpose: PASSWORD, generate: true }
      user: { type: STRING, value: ${user} }
---
vault: Staging
items:
  plain:
    title: Plain
    category: LOGIN
    fields:
      user: { type: STRING, value: bob }
`;

const snapshot = () => opsyncFiles(ctx.dir);
const writes = () => writeRequests(ctx.client);

/** Exit 1, the one error line (text plans print it on stdout, as `Error: ...`), and nothing else said wrong. */
function expectError(r: CliResult, line: string): void {
  expect(r.stdout + r.stderr).not.toMatch(/^\s{4}at /m);
  expect(r.code, r.stdout + r.stderr).toBe(1);
  expect(r.stdout).not.toContain('No changes');
  expect(r.stdout.split('\n').filter((l) => /^(Error|Warning):/.test(l))).toEqual([`Error: ${line}`]);
  expect(r.stderr).toBe('');
}

let before: { files: Record<string, string>; writes: number };

beforeEach(async () => {
  ctx.write('m.yaml', MANIFEST());
  const r = await ctx.cli(['apply', 'm.yaml', '--auto-approve']);
  expect(r.code, r.stderr).toBe(0);
  // A real change waiting: were a typo ignored, apply would write it.
  ctx.write('m.yaml', MANIFEST('root'));
  before = { files: snapshot(), writes: await writes() };
});

async function expectNothingWritten(): Promise<void> {
  expect(snapshot()).toEqual(before.files);
  expect(await writes()).toBe(before.writes);
}

describe('a typo is an error with the closest names, and nothing is written', () => {
  it('--target of an unknown address, with the addresses of its vault', async () => {
    const line = '--target Production/nope: no resource or vault matches; did you mean Production/db-primary?';
    expectError(await ctx.cli(['plan', 'm.yaml', '--target', 'Production/nope']), line);
    expectError(await ctx.cli(['plan', 'm.yaml', '--detailed-exitcode', '--target', 'Production/nope']), line);
    // Beside a good target too: the plan stops there, apply changes nothing.
    expectError(await ctx.cli(['apply', 'm.yaml', '--auto-approve', '--target', 'Production/db-primary', '--target', 'Production/nope']), line);
    expectError(await ctx.cli(['destroy', '--auto-approve', '--target', 'Production/nope']), line);
    await expectNothingWritten();
    expect(Object.keys(ctx.state().resources).sort()).toEqual(['Production/db-primary', 'Staging/plain']);
  });

  it('--target of a vault or an address in the wrong case: addresses are case-sensitive', async () => {
    expectError(
      await ctx.cli(['plan', 'm.yaml', '--target', 'production']),
      '--target production: no vault "production"; did you mean Production? (addresses are case-sensitive)',
    );
    expectError(
      await ctx.cli(['apply', 'm.yaml', '--auto-approve', '--target', 'production/db-primary']),
      '--target production/db-primary: no resource "production/db-primary"; did you mean Production/db-primary? (addresses are case-sensitive)',
    );
    await expectNothingWritten();
  });

  it('--rotate of a misspelt field, a field that is not generated, an item with no generated field, an unknown item', async () => {
    expectError(await ctx.cli(['plan', 'm.yaml', '--rotate', 'Production/db-primary:pasword']), '--rotate Production/db-primary:pasword: no field pasword; did you mean password?');
    expectError(
      await ctx.cli(['apply', 'm.yaml', '--auto-approve', '--rotate', 'Production/db-primary:user']),
      '--rotate Production/db-primary:user: field user is not generated (only fields with `generate` are rotated)',
    );
    expectError(
      await ctx.cli(['apply', 'm.yaml', '--auto-approve', '--rotate', 'Staging/plain']),
      '--rotate Staging/plain: Staging/plain has no generated field (only fields with `generate` are rotated)',
    );
    expectError(
      await ctx.cli(['plan', 'm.yaml', '--rotate', 'Production/db-primry']),
      '--rotate Production/db-primry: no resource Production/db-primry in the manifests; did you mean Production/db-primary?',
    );
    await expectNothingWritten();
  });

  it('--replace of an unknown address, and of one in the wrong case', async () => {
    expectError(
      await ctx.cli(['plan', 'm.yaml', '--replace', 'Production/db-primry']),
      '--replace Production/db-primry: no resource Production/db-primry in the manifests and the state; did you mean Production/db-primary?',
    );
    expectError(
      await ctx.cli(['apply', 'm.yaml', '--auto-approve', '--replace', 'staging/plain']),
      '--replace staging/plain: no resource "staging/plain"; did you mean Staging/plain? (addresses are case-sensitive)',
    );
    await expectNothingWritten();
  });

  it('refresh, and plans in JSON: the line on stderr, once', async () => {
    // Live as the manifests say, at a new version: refresh would record it, were the typo ignored.
    ctx.write('m.yaml', MANIFEST());
    const [vault] = await ctx.client.listVaults(`name eq "Production"`);
    const [summary] = await ctx.client.listItems(vault.id);
    const live = await ctx.client.getItem(vault.id, summary.id);
    await ctx.client.replaceItem(vault.id, live.id, live);
    before = { files: snapshot(), writes: await writes() };

    const line = '--target production: no vault "production"; did you mean Production? (addresses are case-sensitive)';
    let r = await ctx.cli(['refresh', 'm.yaml', '--target', 'Production/db-primary', '--target', 'production']);
    expect(r.code, r.stdout + r.stderr).toBe(1);
    expect(r.stderr).toBe(`error: ${line}\n`);

    r = await ctx.cli(['plan', 'm.yaml', '--format', 'json', '--target', 'production']);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toBe(`error: ${line}\n`);
    expect(JSON.parse(r.stdout).resource_changes).toEqual([]);

    r = await ctx.cli(['apply', 'm.yaml', '--auto-approve', '--format', 'json', '--rotate', 'Production/db-primary:pasword']);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toBe('error: --rotate Production/db-primary:pasword: no field pasword; did you mean password?\n');
    await expectNothingWritten();
  });

  it('exact selectors still work: a vault with its slash, an address, a generated field', async () => {
    const r = await ctx.cli(['apply', 'm.yaml', '--auto-approve', '--target', 'Production/', '--rotate', 'Production/db-primary:password']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain('Production/db-primary');
  });
});
