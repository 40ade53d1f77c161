// Issue 17, drift as a scheduled check, end to end: `opsync plan --refresh-only` against a real opsync server reports
// only what changed outside opsync since the state recorded it (a value, a generated value, a deleted item, a title,
// tags, a renamed vault), exits 2 on it under --detailed-exitcode, and never shows an edit of the manifests that is
// not applied yet. Its JSON validates against the schema; no secret value reaches any output.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { ConnectClient } from '../../src/connect/client.js';
import type { FullItem, JsonPatchOp } from '../../src/connect/types.js';
import { DB_FILE } from '../../src/server/defaults.js';
import { findLeak } from '../support/leaks.js';
import { startTestServer } from '../support/server.js';
import { runCli, tempProject, useSeededProject, type CliResult } from './cli.js';

const schema = JSON.parse(readFileSync(new URL('../../schemas/plan-output.schema.json', import.meta.url), 'utf8')) as object;
const ajv = new Ajv2020({ allErrors: true, strict: true });
addFormats.default(ajv);
const validPlan = ajv.compile(schema);

const SEED = `vaults:
  - name: Production
    description: prod
`;
const ctx = useSeededProject(SEED);
const { cli, write } = ctx;

/** The manifest's secret (from the environment) and what a user types by hand over it. */
const DB_PASSWORD = 'Zq8vT3wKp9xRm2jL';
const HAND_PASSWORD = 'Hb7#Qe4Ws1Yx6Uv!';
const HAND_KEY = 'Kc3Jn8Pf2Tg5Vb9W';
const ENV = { DB_PASSWORD };

const MANIFEST = `vault: Production
items:
  db:
    title: Database
    category: LOGIN
    tags: [prod]
    fields:
      username: { purpose: USERNAME, value: db-user }
      password: { purpose: PASSWORD, value: { env: DB_PASSWORD } }
  api:
    title: API key
    category: API_CREDENTIAL
    fields:
      credential: { type: CONCEALED, generate: { length: 32 } }
  web:
    title: Web login
    category: LOGIN
    tags: [web]
    fields:
      username: { purpose: USERNAME, value: web-user }
`;

const REFRESH_ONLY = ['plan', 'm.yaml', '--refresh-only', '--detailed-exitcode'];
const NOTE = 'manifest changes not shown (--refresh-only)';

async function item(title: string): Promise<FullItem> {
  const vault = (await ctx.client.findVault('Production'))!;
  const [s] = await ctx.client.findItemsByTitle(vault.id, title);
  return ctx.client.getItem(vault.id, s.id);
}

/** A change by hand: a PATCH to the Connect API with the token, as a user's script would send it. */
async function patchByHand(title: string, ops: (i: FullItem) => JsonPatchOp[]): Promise<void> {
  const i = await item(title);
  const res = await fetch(`${ctx.srv.url}/v1/vaults/${i.vault.id}/items/${i.id}`, {
    method: 'PATCH',
    headers: { Authorization: `Bearer ${ctx.srv.token}`, 'Content-Type': 'application/json' },
    body: JSON.stringify(ops(i)),
  });
  expect(res.status).toBe(200);
  await res.arrayBuffer();
}
const fieldId = (i: FullItem, pred: (f: NonNullable<FullItem['fields']>[number]) => boolean) => i.fields!.find(pred)!.id;

async function applied(): Promise<void> {
  write('m.yaml', MANIFEST);
  const r = await cli(['apply', 'm.yaml', '--auto-approve'], ENV);
  expect(r.code, r.stdout + r.stderr).toBe(0);
}

function expectNoLeak(results: CliResult[], secrets: string[]): void {
  for (const r of results) for (const text of [r.stdout, r.stderr]) for (const s of secrets) expect(findLeak(text, s), `${s} in:\n${text}`).toBeUndefined();
}

describe('opsync plan --refresh-only', () => {
  it('reports nothing right after an apply, and nothing for an edit of the manifests not applied yet (exit 0), which plain plan shows', async () => {
    await applied();
    const quiet = await cli(REFRESH_ONLY, ENV);
    expect(quiet.code, quiet.stdout + quiet.stderr).toBe(0);
    expect(quiet.stdout).toContain(`No drift. Live items match what the state recorded: 0 drifted, 3 in sync; ${NOTE}.`);

    // Every kind of manifest edit at once: a title, tags, a literal, a secret's source value, a new and a gone resource.
    write(
      'm.yaml',
      MANIFEST.replace('title: Database', 'title: Primary database')
        .replace('tags: [prod]', 'tags: [prod, eu]')
        .replace('value: web-user', 'value: web-admin')
        .replace(/  web:[\s\S]*$/, '  new:\n    title: New one\n    category: LOGIN\n    fields:\n      username: { value: x }\n'),
    );
    const edited = { DB_PASSWORD: 'Nm5Xr1Bq7Zs4Dh8F' };
    const plain = await cli(['plan', 'm.yaml', '--detailed-exitcode'], edited);
    expect(plain.code, plain.stdout).toBe(2);
    const r = await cli(REFRESH_ONLY, edited);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/No drift/);
    expect(r.stdout).not.toMatch(/Primary database|eu|web-admin|New one|to create|to delete/);
    const json = await cli([...REFRESH_ONLY, '--format', 'json'], edited);
    expect(json.code).toBe(0);
    const doc = JSON.parse(json.stdout);
    expect(validPlan(doc), JSON.stringify(validPlan.errors)).toBe(true);
    expect(doc.mode).toBe('refresh-only');
    expect(doc.has_changes).toBe(false);
    // The resources the state manages, as the state knows them; nothing the manifests only propose.
    expect(doc.resource_changes.map((c: { address: string; action: string }) => [c.address, c.action])).toEqual([
      ['Production/api', 'noop'],
      ['Production/db', 'noop'],
      ['Production/web', 'noop'],
    ]);
    expectNoLeak([quiet, plain, r, json], [DB_PASSWORD, edited.DB_PASSWORD]);
  });

  it('reports a value changed by hand through the Connect API, never the value, and exits 2', async () => {
    await applied();
    await patchByHand('Database', (i) => [{ op: 'replace', path: `/fields/${fieldId(i, (f) => f.purpose === 'PASSWORD')}/value`, value: HAND_PASSWORD }]);
    const text = await cli(REFRESH_ONLY, ENV);
    expect(text.code, text.stdout + text.stderr).toBe(2);
    expect(text.stdout).toContain('! drift Production/db');
    expect(text.stdout).toContain('~ field password: (changed outside opsync)');
    expect(text.stdout).toContain(`Drift: 1 drifted, 2 in sync; ${NOTE}.`);
    expect(text.stdout).not.toContain('Production/api');

    const json = await cli([...REFRESH_ONLY, '--format', 'json'], ENV);
    expect(json.code).toBe(2);
    const doc = JSON.parse(json.stdout);
    expect(validPlan(doc), JSON.stringify(validPlan.errors)).toBe(true);
    expect(doc.has_changes).toBe(true);
    expect(doc.summary).toMatchObject({ create: 0, update: 0, replace: 0, delete: 0, noop: 3, drifted: 1 });
    const db = doc.resource_changes.find((c: { address: string }) => c.address === 'Production/db');
    expect(db.drift).toMatchObject({ live_missing: false, ignored: false });
    expect(db.changes).toEqual([{ path: 'field password', kind: 'change', sensitive: true, note: 'changed outside opsync' }]);

    const md = await cli([...REFRESH_ONLY, '--format', 'markdown'], ENV);
    expect(md.code).toBe(2);
    expect(md.stdout).toContain('### opsync drift check (plan --refresh-only)');
    expect(md.stdout).toContain('| ± | Attribute | Recorded | Live |');
    expect(md.stdout).toContain('manifest changes not shown (--refresh-only)');
    expect(md.stdout).not.toContain('apply with');

    // The same live change stays drift when the manifests change the same secret too (its digest says which is which).
    const edited = { DB_PASSWORD: 'Nm5Xr1Bq7Zs4Dh8F' };
    const both = await cli([...REFRESH_ONLY, '--format', 'json'], edited);
    expect(both.code).toBe(2);
    expect(JSON.parse(both.stdout).resource_changes.find((c: { address: string }) => c.address === 'Production/db').changes).toEqual(db.changes);

    // The state is not touched: plain plan still proposes to put the manifest's value back.
    const plain = await cli(['plan', 'm.yaml', '--detailed-exitcode'], ENV);
    expect(plain.code).toBe(2);
    expect(plain.stdout).toContain('~ update');
    expectNoLeak([text, json, md, both, plain], [DB_PASSWORD, HAND_PASSWORD, edited.DB_PASSWORD]);
  });

  it('reports a generated value changed by hand', async () => {
    await applied();
    const generated = (await item('API key')).fields!.find((f) => f.label === 'credential')!.value!;
    await patchByHand('API key', (i) => [{ op: 'replace', path: `/fields/${fieldId(i, (f) => f.label === 'credential')}/value`, value: HAND_KEY }]);
    const r = await cli(REFRESH_ONLY, ENV);
    expect(r.code, r.stdout + r.stderr).toBe(2);
    expect(r.stdout).toContain('! drift Production/api');
    expect(r.stdout).toContain('~ field credential: (changed outside opsync (generated value; --rotate to replace it))');
    const json = await cli([...REFRESH_ONLY, '--format', 'json'], ENV);
    expect(validPlan(JSON.parse(json.stdout)), JSON.stringify(validPlan.errors)).toBe(true);
    // The check writes nothing; `opsync refresh` accepts what there is nothing to send for, and it stops.
    const again = await cli(REFRESH_ONLY, ENV);
    expect(again.code).toBe(2);
    const refresh = await cli(['refresh', 'm.yaml'], ENV);
    expect(refresh.code, refresh.stdout + refresh.stderr).toBe(0);
    const after = await cli(REFRESH_ONLY, ENV);
    expect(after.code, after.stdout).toBe(0);
    expectNoLeak([r, json, again, refresh, after], [generated, HAND_KEY, DB_PASSWORD]);
  });

  it('reports an item deleted by hand', async () => {
    await applied();
    const web = await item('Web login');
    await ctx.client.deleteItem(web.vault.id, web.id);
    const r = await cli(REFRESH_ONLY, ENV);
    expect(r.code, r.stdout + r.stderr).toBe(2);
    expect(r.stdout).toContain('! drift Production/web');
    expect(r.stdout).toContain('deleted outside opsync');
    const doc = JSON.parse((await cli([...REFRESH_ONLY, '--format', 'json'], ENV)).stdout);
    expect(validPlan(doc), JSON.stringify(validPlan.errors)).toBe(true);
    const change = doc.resource_changes.find((c: { address: string }) => c.address === 'Production/web');
    expect(change).toMatchObject({ action: 'noop', drift: { live_missing: true, live_version: 0 } });
  });

  it('reports a title and tags changed by hand, as recorded -> live, and only them beside an edit of the manifests', async () => {
    await applied();
    await patchByHand('Web login', () => [
      { op: 'replace', path: '/title', value: 'Web login (old)' },
      { op: 'replace', path: '/tags', value: ['web', 'legacy'] },
    ]);
    const r = await cli(REFRESH_ONLY, ENV);
    expect(r.code, r.stdout + r.stderr).toBe(2);
    expect(r.stdout).toContain('~ title: "Web login" -> "Web login (old)"');
    expect(r.stdout).toContain('+ tag legacy');

    // The manifests now change the username of the same item: the title still shows (the state records it), the
    // username (an edit not applied) does not, and the tags, which the state does not record, are named only.
    write('m.yaml', MANIFEST.replace('value: web-user', 'value: web-admin'));
    const both = await cli([...REFRESH_ONLY, '--format', 'json'], ENV);
    expect(both.code).toBe(2);
    const doc = JSON.parse(both.stdout);
    expect(validPlan(doc), JSON.stringify(validPlan.errors)).toBe(true);
    const web = doc.resource_changes.find((c: { address: string }) => c.address === 'Production/web');
    expect(web.changes).toEqual([{ path: 'title', kind: 'change', sensitive: false, before: 'Web login', after: 'Web login (old)' }]);
    expect(web.reasons.join('; ')).toMatch(/differs from the manifests in tags: drift or an edit not applied yet/);
    expect(both.stdout).not.toContain('web-admin');
    expectNoLeak([r, both], [DB_PASSWORD]);
  });

  it('tolerates a change in ignored paths (exit 0), as plan does', async () => {
    write('m.yaml', MANIFEST.replace('    tags: [web]\n', '    tags: [web]\n    ignore: [tags]\n'));
    expect((await cli(['apply', 'm.yaml', '--auto-approve'], ENV)).code).toBe(0);
    await patchByHand('Web login', () => [{ op: 'replace', path: '/tags', value: ['web', 'by-hand'] }]);
    const r = await cli(REFRESH_ONLY, ENV);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain('drift (ignored) Production/web');
    expect(r.stdout).toContain('0 drifted, 1 changed only in ignored paths (tolerated), 2 in sync');
  });

  it('limits the check to --target and refuses what would make or keep a proposal, in one line each', async () => {
    await applied();
    await patchByHand('Database', () => [{ op: 'replace', path: '/title', value: 'Database!' }]);
    const other = await cli([...REFRESH_ONLY, '--target', 'Production/web'], ENV);
    expect(other.code, other.stdout + other.stderr).toBe(0);
    const typo = await cli([...REFRESH_ONLY, '--target', 'Production/dbb'], ENV);
    expect(typo.code).toBe(1);
    expect(typo.stdout + typo.stderr).toMatch(/did you mean Production\/db/);
    for (const [flag, message] of [
      [['--out', 'x.opsplan'], /--refresh-only plans cannot be saved or applied/],
      [['--rotate', 'Production/api'], /--refresh-only proposes no change: drop --rotate/],
      [['--replace', 'Production/api'], /--refresh-only proposes no change: drop --replace/],
      [['--json-stream'], /--refresh-only writes no event stream/],
    ] as const) {
      const r = await cli([...REFRESH_ONLY, ...flag], ENV);
      expect(r.code, r.stderr).toBe(1);
      expect(r.stdout).toBe('');
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(message);
    }
  });
});

describe('opsync plan --refresh-only and a renamed vault', () => {
  it('reports a vault renamed outside opsync for each of its items', async () => {
    const dir = tempProject({ 'seed.yaml': SEED });
    const dataDir = join(dir, 'server');
    const srv = await startTestServer({ dataDir, memory: false, seedFiles: [join(dir, 'seed.yaml')] });
    const client = new ConnectClient({ host: srv.url, token: srv.token, backoffBaseMs: 5 });
    try {
      const env = { OP_CONNECT_HOST: srv.url, OP_CONNECT_TOKEN: srv.token, ...ENV };
      const run = (args: string[]) => runCli(args, { cwd: dir, env });
      writeFileSync(join(dir, 'm.yaml'), MANIFEST);
      expect((await run(['apply', 'm.yaml', '--auto-approve'])).code).toBe(0);
      // Connect has no call that renames a vault (1Password's apps do): the server's store is changed instead.
      const db = new Database(join(dataDir, DB_FILE));
      db.prepare('UPDATE vaults SET name = ? WHERE name = ?').run('Production (EU)', 'Production');
      db.close();
      expect((await client.listVaults()).map((v) => v.name)).toContain('Production (EU)');

      const r = await run([...REFRESH_ONLY, '--format', 'json']);
      expect(r.code, r.stdout + r.stderr).toBe(2);
      const doc = JSON.parse(r.stdout);
      expect(validPlan(doc), JSON.stringify(validPlan.errors)).toBe(true);
      for (const c of doc.resource_changes) {
        expect(c.changes).toContainEqual({ path: 'vault', kind: 'change', sensitive: false, before: 'Production', after: 'Production (EU)' });
        expect(c.reasons).toContain('vault renamed outside opsync');
      }
      // Plain plan cannot even find the vault the manifests name.
      const plain = await run(['plan', 'm.yaml']);
      expect(plain.code).toBe(1);
    } finally {
      await client.close();
      await srv.close();
    }
  });
});
