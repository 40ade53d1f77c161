// `opsync validate` needs no secrets (issue 13): it checks the schema and what the manifests mean, not that
// {env:} variables are set or {file:} sources exist, unless --check-sources. plan and apply still need them
// and fail naming the variable or the file, at its line, before anything is sent.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { useSeededProject, type CliResult } from './cli.js';

const ctx = useSeededProject('vaults:\n  - name: Production\n');

const MANIFEST = `vault: Production
items:
  db:
    fields:
      password: { purpose: PASSWORD, value: { env: OPSYNC_E2E_UNSET_DB_PASSWORD } }
      cert: { type: CONCEALED, value: { file: certs/missing.pem } }
`;

const lines = (r: CliResult) => r.stderr.split('\n').filter(Boolean);
const noTrace = (r: CliResult) => {
  expect(r.stderr + r.stdout).not.toMatch(/^\s{4}at /m);
  expect(r.stderr).not.toContain('internal error');
};

describe('validate and value sources', () => {
  it('validate passes with an unset variable and a missing file; --check-sources names both', async () => {
    ctx.write('m.yaml', MANIFEST);
    const env = { OPSYNC_E2E_UNSET_DB_PASSWORD: undefined };

    const ok = await ctx.cli(['validate', 'm.yaml'], env);
    expect(ok.code, ok.stderr).toBe(0);
    expect(lines(ok)).toEqual(['1 item(s) in 1 file(s): valid (2 env/file source(s) not checked: --check-sources checks them).']);

    const checked = await ctx.cli(['validate', '--check-sources', 'm.yaml'], env);
    noTrace(checked);
    expect(checked.code).toBe(1);
    expect(lines(checked)).toEqual([
      'm.yaml:5:52: error: field "password": environment variable OPSYNC_E2E_UNSET_DB_PASSWORD is not set (or is empty)',
      'm.yaml:6:47: error: field "cert": file certs/missing.pem does not exist or is not a file',
    ]);

    // Schema and meaning are still checked without --check-sources, every problem at its line.
    ctx.write('bad.yaml', `${MANIFEST}      extra: { type: CONCEALED, value: hunter2-literal }\n  db2: { category: NOPE }\n`);
    const bad = await ctx.cli(['validate', 'bad.yaml'], env);
    noTrace(bad);
    expect(bad.code).toBe(1);
    expect(lines(bad)).toEqual([
      'bad.yaml:8:20: error: items.db2.category must be one of LOGIN, PASSWORD, API_CREDENTIAL, SERVER, DATABASE, CREDIT_CARD, MEMBERSHIP, PASSPORT, SOFTWARE_LICENSE, OUTDOOR_LICENSE, SECURE_NOTE, WIRELESS_ROUTER, BANK_ACCOUNT, DRIVER_LICENSE, IDENTITY, REWARD_PROGRAM, DOCUMENT, EMAIL_ACCOUNT, SOCIAL_SECURITY_NUMBER, MEDICAL_RECORD, SSH_KEY, CUSTOM',
      expect.stringMatching(/^bad\.yaml:7:40: error: field "extra" is secret \(CONCEALED\): a literal value would put it in git/),
    ]);
    expect(bad.stderr).not.toContain('hunter2-literal');
  });

  it('plan and apply fail with one line naming the variable and where it is written, and change nothing', async () => {
    ctx.write('m.yaml', MANIFEST.replace(/\n.*cert:.*\n/, '\n'));
    const env = { OPSYNC_E2E_UNSET_DB_PASSWORD: undefined };
    const want = 'm.yaml:5:52: error: field "password": environment variable OPSYNC_E2E_UNSET_DB_PASSWORD is not set (or is empty)';
    for (const args of [['plan', 'm.yaml'], ['apply', 'm.yaml', '--auto-approve']]) {
      const r = await ctx.cli(args, env);
      noTrace(r);
      expect(r.code, args.join(' ')).toBe(1);
      expect(lines(r), args.join(' ')).toEqual([want]);
    }
    expect(existsSync(join(ctx.dir, '.opsync/state.json'))).toBe(false);

    // An empty variable is not a value either; a missing {file:} source fails plan the same way.
    expect(lines(await ctx.cli(['plan', 'm.yaml'], { OPSYNC_E2E_UNSET_DB_PASSWORD: '' }))).toEqual([want]);
    ctx.write('f.yaml', MANIFEST.replace(/\n.*password:.*\n/, '\n'));
    const f = await ctx.cli(['plan', 'f.yaml'], env);
    expect(f.code).toBe(1);
    expect(lines(f)).toEqual(['f.yaml:5:47: error: field "cert": file certs/missing.pem does not exist or is not a file']);

    // With the value, plan goes ahead.
    const good = await ctx.cli(['plan', 'm.yaml', '--detailed-exitcode'], { OPSYNC_E2E_UNSET_DB_PASSWORD: 'Zq9-e2e-value-never-shown' });
    expect(good.code, good.stderr).toBe(2);
    expect(good.stdout + good.stderr).not.toContain('Zq9-e2e-value-never-shown');
  });
});
