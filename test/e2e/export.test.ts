// `opsync export` end to end: the real CLI as a process against a real server seeded with varied items.
// Export, fill the environment from the values file, and plan shows no changes; no secret value anywhere
// but the 0600 values file.
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { ITEM_CATEGORIES } from '../../src/connect/types.js';
import type { StateFile } from '../../src/state/types.js';
import { startTestServer } from '../support/server.js';
import { BIN, cliEnv, runCli, tempProject, type CliResult } from './cli.js';

const S = {
  web: "Web-Pa55 it's $HOME `x` \"q\" \\ end",
  apiKey: 'ApiKey-9b8c7d6e5f',
  totp: 'otpauth://totp/Example:alice?secret=JBSWY3DPEHPK3PXP&issuer=Example',
  sshKey: '-----BEGIN OPENSSH PRIVATE KEY-----\nSshKeyBody-0a1b2c3d\n-----END OPENSSH PRIVATE KEY-----\n',
  dupA: 'DupSecretA-11aa22bb',
  dupB: 'DupSecretB-33cc44dd',
  pin: 'PinAsString-5e5e5e',
  tagged: 'TaggedSecret-7c7c7c',
  twinA: 'TwinSecretA-8d8d8d',
  twinB: 'TwinSecretB-9e9e9e',
  cat: (c: string) => `CatSecret-${c.toLowerCase()}-42`,
};
const ALL_SECRETS = [S.web, S.apiKey, S.totp, 'JBSWY3DPEHPK3PXP', S.sshKey, 'SshKeyBody-0a1b2c3d', S.dupA, S.dupB, S.pin, S.tagged, S.twinA, S.twinB, ...ITEM_CATEGORIES.map(S.cat)];
const NOTE = 'Runbook for the web app.\n\n  - restart: systemctl restart web\n# not a comment\nTrailing line without newline';

const SEED = {
  vaults: [
    {
      name: 'Production',
      items: [
        // Every category the schema and the server know, each with a secret.
        ...ITEM_CATEGORIES.map((c) => ({
          title: `Category ${c}`,
          category: c,
          fields: [
            { label: 'name', type: 'STRING', value: `value of ${c}` },
            { label: 'credential', type: 'CONCEALED', value: S.cat(c) },
          ],
        })),
        {
          title: 'Web app',
          category: 'LOGIN',
          tags: ['prod', 'web'],
          urls: [
            { href: 'https://app.example.com/login', primary: true },
            { href: 'https://admin.example.com', label: 'admin' },
          ],
          sections: [
            { id: 'db', label: 'Database' },
            { id: 'add more', label: 'Cache' },
            { id: 'Section_x7', label: '' },
          ],
          fields: [
            { label: 'username', type: 'STRING', purpose: 'USERNAME', value: 'alice' },
            { label: 'password', type: 'CONCEALED', purpose: 'PASSWORD', value: S.web },
            { label: 'one-time password', type: 'OTP', value: S.totp },
            { label: 'host', type: 'STRING', section: { id: 'db' }, value: 'db.internal' },
            { label: 'host', type: 'STRING', section: { id: 'add more' }, value: 'cache.internal' },
            { label: 'key', type: 'CONCEALED', section: { id: 'db' }, value: S.dupA },
            { label: 'key', type: 'CONCEALED', section: { id: 'add more' }, value: S.dupB },
            { label: 'spare', type: 'CONCEALED', value: '' },
            { label: 'pin', type: 'CONCEALED', value: S.pin },
            { label: 'contact', type: 'EMAIL', section: { id: 'Section_x7' }, value: 'ops@example.com' },
            { label: 'notesPlain', type: 'STRING', purpose: 'NOTES', value: NOTE },
          ],
        },
        {
          title: 'Runbook',
          category: 'SECURE_NOTE',
          tags: ['x'],
          fields: [{ label: 'notesPlain', type: 'STRING', purpose: 'NOTES', value: NOTE }],
        },
        {
          title: 'Deploy key',
          category: 'SSH_KEY',
          tags: ['x'],
          fields: [
            { label: 'private key', type: 'CONCEALED', value: S.sshKey },
            { label: 'api key', type: 'CONCEALED', value: S.apiKey },
            { label: 'tagged', type: 'CONCEALED', value: S.tagged },
          ],
        },
        // Two items with one title: a manifest cannot hold both.
        { title: 'Twin', category: 'PASSWORD', fields: [{ label: 'password', type: 'CONCEALED', purpose: 'PASSWORD', value: S.twinA }] },
        { title: 'Twin', category: 'PASSWORD', fields: [{ label: 'password', type: 'CONCEALED', purpose: 'PASSWORD', value: S.twinB }] },
      ],
    },
    { name: 'Staging', items: [] },
  ],
};

let srv: Awaited<ReturnType<typeof startTestServer>>;
let dir: string;
let env: Record<string, string>;

beforeEach(async () => {
  dir = tempProject({ 'seed.yaml': stringify(SEED) });
  srv = await startTestServer({ seedFiles: [join(dir, 'seed.yaml')] });
  env = { OP_CONNECT_HOST: srv.url, OP_CONNECT_TOKEN: srv.token };
});

afterEach(async () => {
  await srv.close();
});

const cli = (args: string[], extraEnv: Record<string, string> = {}) => runCli(args, { cwd: dir, env: { ...env, ...extraEnv } });
const read = (path: string) => readFileSync(join(dir, path), 'utf8');

/** The CLI with the values file loaded the documented way: `set -a; . FILE; set +a`. */
function withValues(valuesFile: string, args: string[]): Promise<CliResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn('sh', ['-c', `set -a; . ./${valuesFile}; set +a; exec "$0" "$@"`, process.execPath, BIN, ...args], {
      cwd: dir,
      env: cliEnv(env),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolvePromise({ code: code ?? -1, stdout, stderr }));
  });
}

function expectNoSecret(where: string, text: string): void {
  for (const s of ALL_SECRETS) expect(text.includes(s), `a secret value in ${where}`).toBe(false);
}

describe('opsync export', () => {
  it('exports a varied vault with --import; with the values loaded, plan shows no changes', async () => {
    const r = await cli(['export', '--vault', 'Production', '--out', 'manifests', '--values-file', 'vals.env', '--import']);
    expect(r.code, r.stderr).toBe(0);

    // The manifest: every item but the second twin, secrets as {env}, notes as they are.
    const text = read('manifests/production.yaml');
    const doc = parse(text) as { vault: string; items: Record<string, Record<string, unknown>> };
    expect(doc.vault).toBe('Production');
    expect(Object.keys(doc.items)).toHaveLength(ITEM_CATEGORIES.length + 4);
    for (const c of ITEM_CATEGORIES) expect(doc.items[`category-${c.toLowerCase().replace(/_/g, '-')}`]).toMatchObject({ category: c });
    const web = doc.items['web-app'] as { fields: Record<string, unknown>; sections: Record<string, string>; urls: unknown[]; tags: string[] };
    expect(web.tags).toEqual(['prod', 'web']);
    expect(web.urls).toEqual([{ href: 'https://app.example.com/login', primary: true }, { href: 'https://admin.example.com', label: 'admin' }]);
    expect(web.sections).toEqual({ db: 'Database', Section_x7: '', cache: 'Cache' });
    expect(web.fields['db.host']).toEqual({ label: 'host', section: 'db', value: 'db.internal' });
    expect(web.fields['cache.host']).toEqual({ label: 'host', section: 'cache', value: 'cache.internal' });
    expect(web.fields['db.key']).toEqual({ label: 'key', section: 'db', type: 'CONCEALED', value: { env: 'OPSYNC_PRODUCTION_WEB_APP_DB_KEY' } });
    expect(web.fields['one-time password']).toEqual({ type: 'OTP', value: { env: 'OPSYNC_PRODUCTION_WEB_APP_ONE_TIME_PASSWORD' } });
    expect(web.fields.spare).toEqual({ type: 'CONCEALED' });
    expect(web.fields.pin).toEqual({ type: 'CONCEALED', value: { env: 'OPSYNC_PRODUCTION_WEB_APP_PIN' } });
    expect(web.fields.notesPlain).toEqual({ purpose: 'NOTES', value: NOTE });
    expect(doc.items.runbook.fields).toEqual({ notesPlain: { purpose: 'NOTES', value: NOTE } });
    expect(text).not.toContain('generate');

    // Stdout: one line per variable, no values; the mapping matches the manifest.
    const lines = r.stdout.trim().split('\n');
    expect(lines).toContain('OPSYNC_PRODUCTION_WEB_APP_PASSWORD\tProduction/web-app\tfield password');
    expect(lines).toContain('OPSYNC_PRODUCTION_WEB_APP_DB_KEY\tProduction/web-app\tfield db.key');
    expect(lines).toContain('OPSYNC_PRODUCTION_WEB_APP_CACHE_KEY\tProduction/web-app\tfield cache.key');
    expect(lines).toHaveLength(ITEM_CATEGORIES.length + 9);
    for (const l of lines) expect(l).toMatch(/^OPSYNC_[A-Z0-9_]+\tProduction\/[a-z0-9-]+\tfield .+$/);
    expect(r.stderr).toContain(`Exported ${ITEM_CATEGORIES.length + 4} item(s) from vault Production to manifests/production.yaml; ${lines.length} secret value(s)`);
    expect(r.stderr).toMatch(/warning: item [a-z0-9]{26} \("Twin"\) left out: item [a-z0-9]{26} has the same title/);
    expect(r.stderr).toContain('vals.env (mode 0600): it holds secret values, never commit it');
    expect(r.stderr).not.toContain('plan would still change');

    // The values file is the only place with values, and only its owner can read it.
    expect(statSync(join(dir, 'vals.env')).mode & 0o777).toBe(0o600);
    const values = read('vals.env');
    expect(values).toContain(`OPSYNC_PRODUCTION_WEB_APP_PASSWORD='Web-Pa55 it'\\''s $HOME`);
    expect(readdirSync(join(dir, 'manifests'))).toEqual(['production.yaml']); // no temporary left behind

    // State: every exported item, with a digest, so that the next plan needs no item fetched.
    const state = JSON.parse(read('.opsync/state.json')) as StateFile;
    expect(Object.keys(state.resources)).toHaveLength(ITEM_CATEGORIES.length + 4);
    for (const res of Object.values(state.resources)) expect(res.digest).toMatch(/^hmac-sha256:/);
    expect(state.connect).toBe(srv.url);

    for (const [where, t] of [['the manifest', text], ['stdout', r.stdout], ['stderr', r.stderr], ['the state', read('.opsync/state.json')]] as const) {
      expectNoSecret(where, t);
    }

    // With the values loaded the documented way, plan has nothing to do.
    const plan = await withValues('vals.env', ['plan', 'manifests', '--detailed-exitcode']);
    expect(plan.code, plan.stdout + plan.stderr).toBe(0);
    expect(plan.stdout).toContain('No changes.');
    expect(plan.stdout).toContain(`${ITEM_CATEGORIES.length + 4} unchanged`);
    expectNoSecret('plan output', plan.stdout + plan.stderr);

    // Without them, validation names the missing variable.
    const bare = await cli(['plan', 'manifests', '--detailed-exitcode']);
    expect(bare.code).toBe(1);
    expect(bare.stderr).toContain('environment variable OPSYNC_PRODUCTION_WEB_APP_PASSWORD is not set');

    // Exporting again refuses to overwrite, and --import refuses addresses already managed; nothing is written.
    const again = await cli(['export', '--vault', 'Production', '--out', 'manifests', '--import']);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/^opsync: error: manifests\/production\.yaml already exists/m);
    const other = await cli(['export', '--vault', 'Production', '--out', 'other', '--import']);
    expect(other.code).toBe(1);
    expect(other.stderr).toContain('cannot --import: Production/');
    expect(other.stderr).toContain('is already in state');
    expect(existsSync(join(dir, 'other/production.yaml'))).toBe(false);
    expect(other.stderr.trim().split('\n').filter((l) => l.startsWith('opsync: error'))).toHaveLength(1);
    expect(other.stderr).not.toMatch(/\n\s+at /); // no stack
  });

  it('without --import, plan refuses the unmanaged items and points to import', async () => {
    const r = await cli(['export', '--vault', 'Production']);
    expect(r.code, r.stderr).toBe(0);
    expect(existsSync(join(dir, 'manifests/production.yaml'))).toBe(true);
    expect(existsSync(join(dir, '.opsync/state.json'))).toBe(false);
    expect(r.stderr).toContain('not managed yet');
    expect(r.stderr).toContain('--import');
    expectNoSecret('stdout', r.stdout);
    expectNoSecret('stderr', r.stderr);

    // Even with the values, plan refuses: the items exist and opsync does not manage them.
    const v = await cli(['export', '--vault', 'Production', '--out', 'again', '--values-file', 'v.env']);
    expect(v.code, v.stderr).toBe(0);
    const plan = await withValues('v.env', ['plan', 'manifests']);
    expect(plan.code).toBe(1);
    expect(plan.stdout).toContain('opsync does not manage it');
    expect(plan.stdout).toMatch(/opsync import Production\/web-app Production\/[a-z0-9]{26}/);
  });

  it('exports only what a filter selects, and reports user mistakes in one line', async () => {
    const r = await cli(['export', '--vault', 'Production', '--filter', 'tag eq "x"', '--out', 'm', '--values-file', 'x.env', '--import']);
    expect(r.code, r.stderr).toBe(0);
    const doc = parse(read('m/production.yaml')) as { items: Record<string, unknown> };
    expect(Object.keys(doc.items).sort()).toEqual(['deploy-key', 'runbook']);
    expect(r.stdout.trim().split('\n').map((l) => l.split('\t')[0])).toEqual([
      'OPSYNC_PRODUCTION_DEPLOY_KEY_PRIVATE_KEY',
      'OPSYNC_PRODUCTION_DEPLOY_KEY_API_KEY',
      'OPSYNC_PRODUCTION_DEPLOY_KEY_TAGGED',
    ]);
    expectNoSecret('the manifest', read('m/production.yaml'));
    const plan = await withValues('x.env', ['plan', 'm', '--detailed-exitcode']);
    expect(plan.code, plan.stdout + plan.stderr).toBe(0);

    const unknown = await cli(['export', '--vault', 'Nope']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toBe('opsync: error: vault "Nope" not found, or this token cannot see it (this token sees Production, Staging)\n');

    const bad = await cli(['export', '--vault', 'Production', '--filter', 'title zz "x"', '--out', 'bad']);
    expect(bad.code).toBe(1);
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);
    expect(bad.stderr).toMatch(/^opsync: error: Connect answered 400/);
    expect(existsSync(join(dir, 'bad'))).toBe(false);

    const same = await cli(['export', '--vault', 'Staging', '--out', '.', '--values-file', 'staging.yaml']);
    expect(same.code).toBe(1);
    expect(same.stderr).toContain('is the manifest export writes');

    // An existing values file (a .env, say) is never replaced, and then no manifest is written either.
    writeFileSync(join(dir, '.env'), 'KEEP=1\n');
    const kept = await cli(['export', '--vault', 'Staging', '--out', 'st', '--values-file', '.env']);
    expect(kept.code).toBe(1);
    expect(kept.stderr).toBe('opsync: error: --values-file .env already exists; export never overwrites a file: move it away or pass another file name\n');
    expect(read('.env')).toBe('KEEP=1\n');
    expect(existsSync(join(dir, 'st'))).toBe(false);
  });
});
