// The engine end to end: the real CLI as a process against a real opsync server on 127.0.0.1.
import { existsSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { filterEq } from '../../src/connect/client.js';
import type { FullItem } from '../../src/connect/types.js';
import { useSeededProject } from './cli.js';

const SEED = `vaults:
  - name: Production
    description: prod
  - name: Staging
    description: staging
`;

const ctx = useSeededProject(SEED);
const { cli, write, state } = ctx;

async function vaultId(name: string): Promise<string> {
  return (await ctx.client.findVault(name))!.id;
}

async function liveByTitle(vault: string, title: string): Promise<FullItem[]> {
  const id = await vaultId(vault);
  const found = await ctx.client.listItems(id, filterEq('title', title));
  return Promise.all(found.map((s) => ctx.client.getItem(id, s.id)));
}

const fieldValue = (item: FullItem, label: string) => item.fields!.find((f) => f.label === label)?.value;

const BASIC = (title = 'Primary database', tag = 'prod') => `vault: Production
items:
  db:
    title: ${title}
    category: DATABASE
    tags: [${tag}]
    sections: { conn: Connection }
    fields:
      username: { purpose: USERNAME, value: app }
      password: { purpose: PASSWORD, value: { env: DB_PASSWORD } }
      host: { section: conn, value: db.example.com }
      admin: { type: CONCEALED, generate: { length: 24, characterSets: [LETTERS, DIGITS] } }
`;

describe('plan and apply', () => {
  it('creates, then plans no changes, then updates by patch', async () => {
    write('m.yaml', BASIC());
    const secretEnv = { DB_PASSWORD: 'first-Secret-1' };
    let r = await cli(['plan', 'm.yaml', '--detailed-exitcode'], secretEnv);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(2);
    expect(r.stdout).toContain('Production/db');

    r = await cli(['apply', 'm.yaml', '--auto-approve'], secretEnv);
    expect(r.code, r.stderr).toBe(0);
    const [item] = await liveByTitle('Production', 'Primary database');
    expect(fieldValue(item, 'password')).toBe('first-Secret-1');
    expect(fieldValue(item, 'admin')).toMatch(/^[A-Za-z0-9]{24}$/);
    expect(state().resources['Production/db'].itemId).toBe(item.id);

    r = await cli(['plan', 'm.yaml', '--detailed-exitcode'], secretEnv);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/No changes/);

    write('m.yaml', BASIC('Primary DB', 'postgres'));
    r = await cli(['plan', 'm.yaml', '--detailed-exitcode', '--format', 'json'], { DB_PASSWORD: 'second-Secret-2' });
    expect(r.code).toBe(2);
    const plan = JSON.parse(r.stdout);
    const change = plan.resource_changes.find((c: { address: string }) => c.address === 'Production/db');
    expect(change.action).toBe('update');
    expect(change.method).toBe('patch');

    r = await cli(['apply', 'm.yaml', '--auto-approve'], { DB_PASSWORD: 'second-Secret-2' });
    expect(r.code, r.stderr).toBe(0);
    const [after] = await liveByTitle('Production', 'Primary DB');
    expect(after.id).toBe(item.id);
    expect(after.tags).toEqual(['postgres']);
    expect(fieldValue(after, 'password')).toBe('second-Secret-2');
    expect(fieldValue(after, 'admin')).toBe(fieldValue(item, 'admin'));
  });

  it('reports drift and reverts it; drift in ignored paths is tolerated', async () => {
    write('m.yaml', BASIC());
    const e = { DB_PASSWORD: 'pw' };
    expect((await cli(['apply', 'm.yaml', '--auto-approve'], e)).code).toBe(0);
    const [item] = await liveByTitle('Production', 'Primary database');
    const host = item.fields!.find((f) => f.label === 'host')!;
    await ctx.client.patchItem(item.vault.id, item.id, [{ op: 'replace', path: `/fields/${host.id}/value`, value: 'evil.example.com' }]);

    let r = await cli(['plan', 'm.yaml', '--detailed-exitcode'], e);
    expect(r.code).toBe(2);
    expect(r.stdout).toMatch(/drift/i);
    expect((await cli(['apply', 'm.yaml', '--auto-approve'], e)).code).toBe(0);
    expect(fieldValue((await liveByTitle('Production', 'Primary database'))[0], 'host')).toBe('db.example.com');

    write('m.yaml', BASIC().replace('    tags: [prod]\n', '    tags: [prod]\n    ignore: [tags]\n'));
    expect((await cli(['apply', 'm.yaml', '--auto-approve'], e)).code).toBe(0);
    await ctx.client.patchItem(item.vault.id, item.id, [{ op: 'replace', path: '/tags', value: ['by-hand'] }]);
    r = await cli(['plan', 'm.yaml', '--detailed-exitcode'], e);
    expect(r.code, r.stdout).toBe(0);
    // refresh records the new version, so the next plan takes the fast path again
    r = await cli(['refresh', 'm.yaml'], e);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('Production/db');
    expect(state().resources['Production/db'].version).toBe((await ctx.client.getItem(item.vault.id, item.id)).version);
  });

  it('never touches an unmanaged item: refuses, points to import, and adopts only when asked', async () => {
    const vid = await vaultId('Production');
    const existing = await ctx.client.createItem(vid, { title: 'Primary database', category: 'DATABASE', fields: [] });
    write('m.yaml', BASIC());
    let r = await cli(['plan', 'm.yaml'], { DB_PASSWORD: 'pw' });
    expect(r.code).toBe(1);
    expect(r.stdout + r.stderr).toContain('opsync import');
    r = await cli(['apply', 'm.yaml', '--auto-approve'], { DB_PASSWORD: 'pw' });
    expect(r.code).toBe(1);
    expect((await ctx.client.getItem(vid, existing.id)).version).toBe(existing.version);

    write('m.yaml', BASIC().replace('    category: DATABASE\n', '    category: DATABASE\n    adopt: true\n'));
    r = await cli(['apply', 'm.yaml', '--auto-approve'], { DB_PASSWORD: 'pw' });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const all = await liveByTitle('Production', 'Primary database');
    expect(all.map((i) => i.id)).toEqual([existing.id]);
    expect(fieldValue(all[0], 'password')).toBe('pw');
  });

  it('deletes only what it manages; protect refuses deletion and recreation', async () => {
    const vid = await vaultId('Production');
    const bystander = await ctx.client.createItem(vid, { title: 'Not ours', category: 'LOGIN', fields: [] });
    write('m.yaml', `vault: Production
items:
  a: { title: A, category: LOGIN, fields: { user: app } }
  b: { title: B, category: LOGIN, protect: true, fields: { user: app } }
`);
    expect((await cli(['apply', 'm.yaml', '--auto-approve'])).code).toBe(0);

    write('m.yaml', `vault: Production
items:
  b: { title: B, category: SERVER, protect: true, fields: { user: app } }
`);
    let r = await cli(['plan', 'm.yaml']);
    expect(r.code).toBe(1);
    expect(r.stdout + r.stderr).toMatch(/protected/);

    write('m.yaml', `vault: Production
items:
  b: { title: B, category: LOGIN, protect: true, fields: { user: app } }
`);
    r = await cli(['plan', 'm.yaml', '--format', 'json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).resource_changes.map((c: { address: string; action: string }) => `${c.address}:${c.action}`)).toEqual([
      'Production/a:delete',
      'Production/b:noop',
    ]);
    expect((await cli(['apply', 'm.yaml', '--auto-approve'])).code).toBe(0);
    expect(await liveByTitle('Production', 'A')).toEqual([]);
    expect((await ctx.client.getItem(vid, bystander.id)).title).toBe('Not ours');

    write('m.yaml', 'vault: Production\nitems: {}\n');
    r = await cli(['destroy', 'm.yaml', '--auto-approve']);
    expect(r.code).toBe(1);
    expect(r.stdout + r.stderr).toMatch(/protected/);
    expect(await liveByTitle('Production', 'B')).toHaveLength(1);
  });

  it('records protect set or removed on an unchanged item, so that a destroy from the state alone honours it', async () => {
    const item = (protect: string) => `vault: Production\nitems:\n  c: { title: C, category: LOGIN,${protect} fields: { user: app } }\n`;
    write('m.yaml', item(''));
    expect((await cli(['apply', 'm.yaml', '--auto-approve'])).code).toBe(0);

    write('m.yaml', item(' protect: true,'));
    let r = await cli(['plan', 'm.yaml', '--detailed-exitcode']);
    expect(r.code, r.stdout).toBe(2);
    expect(r.stdout).toContain('> protect Production/c');
    expect(r.stdout).toContain('because: protect: true (recorded in state)');
    // refresh records live versions only; a manifest's protect is apply's to record, after review.
    expect((await cli(['refresh', 'm.yaml'])).code).toBe(0);
    expect(state().resources['Production/c'].protect).toBeUndefined();
    r = await cli(['apply', 'm.yaml', '--auto-approve']);
    expect(r.code, r.stderr).toBe(0);
    expect(state().resources['Production/c'].protect).toBe(true);
    expect((await cli(['plan', 'm.yaml', '--detailed-exitcode'])).code).toBe(0);
    r = await cli(['destroy', '--auto-approve']);
    expect(r.code).toBe(1);
    expect(await liveByTitle('Production', 'C')).toHaveLength(1);

    write('m.yaml', item(''));
    r = await cli(['plan', 'm.yaml', '--format', 'json']);
    expect(JSON.parse(r.stdout).resource_changes[0]).toMatchObject({ address: 'Production/c', action: 'noop', protect_changed: true });
    expect((await cli(['apply', 'm.yaml', '--auto-approve'])).code).toBe(0);
    expect(state().resources['Production/c'].protect).toBeUndefined();
    expect((await cli(['destroy', '--auto-approve'])).code).toBe(0);
    expect(await liveByTitle('Production', 'C')).toEqual([]);
  });

  it('replaces an item whose category changed, and destroys everything managed', async () => {
    write('m.yaml', `vault: Production
items:
  a: { title: A, category: LOGIN, fields: { user: app } }
`);
    expect((await cli(['apply', 'm.yaml', '--auto-approve'])).code).toBe(0);
    const [before] = await liveByTitle('Production', 'A');
    write('m.yaml', `vault: Production
items:
  a: { title: A, category: SERVER, fields: { user: app } }
`);
    const r = await cli(['apply', 'm.yaml', '--auto-approve']);
    expect(r.code, r.stderr).toBe(0);
    const after = await liveByTitle('Production', 'A');
    expect(after).toHaveLength(1);
    expect(after[0].category).toBe('SERVER');
    expect(after[0].id).not.toBe(before.id);

    // destroy needs no manifests: the state lists what opsync manages
    expect((await cli(['destroy', '--auto-approve'])).code).toBe(0);
    expect(await liveByTitle('Production', 'A')).toEqual([]);
    expect(state().resources).toEqual({});
  });

  it('rotates a generated value when its rotate key changes or on --rotate', async () => {
    const m = (rotate: string) => `vault: Production
items:
  svc:
    title: Service
    category: PASSWORD
    fields:
      password: { purpose: PASSWORD, generate: { length: 32, rotate: "${rotate}" } }
`;
    write('m.yaml', m('2026-01'));
    expect((await cli(['apply', 'm.yaml', '--auto-approve'])).code).toBe(0);
    const v1 = fieldValue((await liveByTitle('Production', 'Service'))[0], 'password');
    expect((await cli(['plan', 'm.yaml', '--detailed-exitcode'])).code).toBe(0);

    write('m.yaml', m('2026-02'));
    let r = await cli(['plan', 'm.yaml']);
    expect(r.stdout).toMatch(/rotat/);
    expect((await cli(['apply', 'm.yaml', '--auto-approve'])).code).toBe(0);
    const v2 = fieldValue((await liveByTitle('Production', 'Service'))[0], 'password');
    expect(v2).not.toBe(v1);
    expect((await cli(['plan', 'm.yaml', '--detailed-exitcode'])).code).toBe(0);

    r = await cli(['apply', 'm.yaml', '--auto-approve', '--rotate', 'Production/svc']);
    expect(r.code, r.stderr).toBe(0);
    expect(fieldValue((await liveByTitle('Production', 'Service'))[0], 'password')).not.toBe(v2);
  });

  it('resolves every value source', async () => {
    write('cert.pem', '-----BEGIN FAKE-----\nabc\n-----END FAKE-----\n');
    const vid = await vaultId('Staging');
    await ctx.client.createItem(vid, {
      title: 'Upstream',
      category: 'PASSWORD',
      fields: [{ id: 'password', label: 'password', type: 'CONCEALED', purpose: 'PASSWORD', value: 'from-upstream' }],
    });
    write('m.yaml', `vault: Production
items:
  all:
    title: All sources
    category: SERVER
    fields:
      literal: plain-text
      literal secret: { type: CONCEALED, value: not-so-secret, allowLiteral: true }
      from env: { type: CONCEALED, value: { env: SOURCE_ENV } }
      from file: { type: CONCEALED, value: { file: ./cert.pem } }
      from ref: { type: CONCEALED, value: { ref: "op://Staging/Upstream/password" } }
      generated: { type: CONCEALED, generate: true }
      unmanaged: { type: CONCEALED }
`);
    const r = await cli(['apply', 'm.yaml', '--auto-approve'], { SOURCE_ENV: 'env-value' });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const [item] = await liveByTitle('Production', 'All sources');
    expect(fieldValue(item, 'literal')).toBe('plain-text');
    expect(fieldValue(item, 'literal secret')).toBe('not-so-secret');
    expect(fieldValue(item, 'from env')).toBe('env-value');
    expect(fieldValue(item, 'from file')).toBe('-----BEGIN FAKE-----\nabc\n-----END FAKE-----\n');
    expect(fieldValue(item, 'from ref')).toBe('from-upstream');
    expect(fieldValue(item, 'generated')).toHaveLength(32);
    expect(fieldValue(item, 'unmanaged')).toBe('');

    // an unmanaged value set by hand is left alone
    const f = item.fields!.find((x) => x.label === 'unmanaged')!;
    await ctx.client.patchItem(item.vault.id, item.id, [{ op: 'replace', path: `/fields/${f.id}/value`, value: 'set by hand' }]);
    expect((await cli(['plan', 'm.yaml', '--detailed-exitcode'], { SOURCE_ENV: 'env-value' })).code).toBe(0);
  });

  it('reports validation errors with file:line:col, and a missing env var', async () => {
    write('bad.yaml', `vault: Production
items:
  a:
    category: NOPE
    fields:
      pw: { type: CONCEALED, value: { env: NOT_SET_ANYWHERE } }
`);
    const r = await cli(['validate', '--check-sources', 'bad.yaml']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/bad\.yaml:4:\d+: error: .*category/);
    expect(r.stderr).toMatch(/bad\.yaml:6:\d+: error: .*NOT_SET_ANYWHERE/);
    expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
  });

  it('refuses a stale saved plan and applies a fresh one exactly', async () => {
    write('m.yaml', BASIC());
    const e = { DB_PASSWORD: 'pw' };
    let r = await cli(['plan', 'm.yaml', '-out', 'p.opsplan'], e);
    expect(r.code, r.stderr).toBe(0);
    r = await cli(['apply', 'p.opsplan', '--auto-approve'], e);
    expect(r.code, r.stderr).toBe(0);
    expect(await liveByTitle('Production', 'Primary database')).toHaveLength(1);

    write('m.yaml', BASIC('Renamed'));
    expect((await cli(['plan', 'm.yaml', '-out', 'p2.opsplan'], e)).code).toBe(0);
    const [item] = await liveByTitle('Production', 'Primary database');
    await ctx.client.patchItem(item.vault.id, item.id, [{ op: 'replace', path: '/tags', value: ['moved-on'] }]);
    r = await cli(['apply', 'p2.opsplan', '--auto-approve'], e);
    expect(r.code).toBe(1);
    expect(r.stdout + r.stderr).toMatch(/plan again/);
    expect((await ctx.client.getItem(item.vault.id, item.id)).title).toBe('Primary database');

    // the state moved since p3 was made: refused as a whole
    expect((await cli(['plan', 'm.yaml', '-out', 'p3.opsplan'], e)).code).toBe(0);
    expect((await cli(['apply', 'm.yaml', '--auto-approve'], e)).code).toBe(0);
    r = await cli(['apply', 'p3.opsplan', '--auto-approve'], e);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/state changed since the plan was made/);
  });

  it('names the holder of the state lock and refuses to run', async () => {
    write('m.yaml', BASIC());
    expect((await cli(['apply', 'm.yaml', '--auto-approve'], { DB_PASSWORD: 'pw' })).code).toBe(0);
    const lock = join(ctx.dir, '.opsync/state.json.lock');
    writeFileSync(lock, JSON.stringify({ pid: process.pid, host: hostname(), command: 'opsync apply', createdAt: new Date().toISOString() }));
    const r = await cli(['apply', 'm.yaml', '--auto-approve', '--lock-timeout', '0s'], { DB_PASSWORD: 'pw' });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`pid ${process.pid}`);
    expect(existsSync(lock)).toBe(true);
  });

  it('records what succeeded when part of an apply fails', async () => {
    const token = ctx.srv.server.createToken({
      name: 'partial',
      vaults: [
        { vault: 'Production', read: true, write: true },
        { vault: 'Staging', read: true, write: false },
      ],
    });
    write('prod.yaml', 'vault: Production\nitems:\n  ok: { title: OK, category: LOGIN, fields: { user: app } }\n');
    write('stg.yaml', 'vault: Staging\nitems:\n  no: { title: NO, category: LOGIN, fields: { user: app } }\n');
    const r = await cli(['apply', 'prod.yaml', 'stg.yaml', '--auto-approve'], { OP_CONNECT_TOKEN: token });
    expect(r.code).toBe(1);
    expect(r.stdout + r.stderr).toMatch(/Staging\/no/);
    expect(Object.keys(state().resources)).toEqual(['Production/ok']);
    expect(await liveByTitle('Production', 'OK')).toHaveLength(1);
  });

  it('refuses to apply without a terminal unless --auto-approve', async () => {
    write('m.yaml', BASIC());
    const r = await cli(['apply', 'm.yaml'], { DB_PASSWORD: 'pw' });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/--auto-approve/);
    expect(await liveByTitle('Production', 'Primary database')).toEqual([]);
  });

  it('apply --format json keeps stdout one JSON document (the result), with progress on stderr', async () => {
    write('m.yaml', BASIC());
    const r = await cli(['apply', 'm.yaml', '--auto-approve', '--format', 'json'], { DB_PASSWORD: 'pw' });
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).operations[0]).toMatchObject({ address: 'Production/db', action: 'create', outcome: 'done' });
    expect(r.stderr).toContain('Production/db');
    expect(r.stderr).toContain('Apply complete: 1 done');
  });

  it('limits a plan to --target addresses', async () => {
    write('m.yaml', `vault: Production
items:
  a: { title: A, category: LOGIN, fields: { user: app } }
  b: { title: B, category: LOGIN, fields: { user: app } }
`);
    const r = await cli(['apply', 'm.yaml', '--auto-approve', '--target', 'Production/a']);
    expect(r.code, r.stderr).toBe(0);
    expect(Object.keys(state().resources)).toEqual(['Production/a']);
  });
});
