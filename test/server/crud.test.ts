import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../support/server.js';
import { client, ID } from './helpers.js';

let srv: TestServer;
let call: ReturnType<typeof client>;
let vaultId: string;

beforeAll(async () => {
  srv = await startTestServer();
  call = client(srv.url, srv.token);
  const vaults = await call('GET', '/v1/vaults');
  vaultId = vaults.body[0].id;
});
afterAll(() => srv.close());

describe('vaults', () => {
  it('lists the default Private vault', async () => {
    const r = await call('GET', '/v1/vaults');
    expect(r.status).toBe(200);
    expect(r.body).toHaveLength(1);
    expect(r.body[0]).toMatchObject({ name: 'Private', type: 'USER_CREATED', attributeVersion: 1 });
    expect(r.body[0].id).toMatch(ID);
  });

  it('gets one vault, tolerating trailing slashes like the JS SDK sends', async () => {
    const r = await call('GET', `/v1/vaults/${vaultId}/`);
    expect(r.status).toBe(200);
    expect(r.body.name).toBe('Private');
  });
});

describe('items CRUD', () => {
  it('creates, reads, replaces, patches and deletes an item', async () => {
    const before = (await call('GET', `/v1/vaults/${vaultId}`)).body;
    const created = await call('POST', `/v1/vaults/${vaultId}/items`, {
      title: 'db',
      category: 'LOGIN',
      tags: ['prod'],
      sections: [{ id: 'conn', label: 'Connection' }],
      fields: [
        { label: 'username', type: 'STRING', purpose: 'USERNAME', value: 'admin' },
        { id: 'pw', label: 'password', type: 'CONCEALED', purpose: 'PASSWORD', generate: true, recipe: { length: 20 } },
        { label: 'host', value: 'db.local', section: { id: 'conn' } },
      ],
    });
    expect(created.status).toBe(200);
    const item = created.body;
    expect(item.id).toMatch(ID);
    expect(item.version).toBe(1);
    expect(item.vault).toEqual({ id: vaultId });
    expect(item.lastEditedBy).toMatch(ID);
    // A USERNAME field sent without an id is the LOGIN template's own `username` (real Connect, ledger row 11).
    expect(item.fields[0].id).toBe('username');
    expect(item.fields[2].id).toMatch(ID);
    const pw = item.fields.find((f: any) => f.id === 'pw');
    expect(pw.value).toHaveLength(20);
    expect(pw.entropy).toBeGreaterThan(0);
    expect(pw).not.toHaveProperty('generate');
    expect(pw).not.toHaveProperty('recipe');

    const after = (await call('GET', `/v1/vaults/${vaultId}`)).body;
    expect(after.items).toBe(before.items + 1);
    expect(after.contentVersion).toBe(before.contentVersion + 1);

    const got = await call('GET', `/v1/vaults/${vaultId}/items/${item.id}`);
    expect(got.body).toEqual(item);

    const list = await call('GET', `/v1/vaults/${vaultId}/items`);
    expect(list.body.map((i: any) => i.id)).toContain(item.id);
    expect(list.body[0]).not.toHaveProperty('fields');

    const put = await call('PUT', `/v1/vaults/${vaultId}/items/${item.id}`, { ...item, title: 'db2' });
    expect(put.status).toBe(200);
    expect(put.body.title).toBe('db2');
    // Real Connect answers a PUT with the version from before it (ledger row 21); GET shows the new one.
    expect(put.body.version).toBe(1);
    expect((await call('GET', `/v1/vaults/${vaultId}/items/${item.id}`)).body.version).toBe(2);

    const patched = await call('PATCH', `/v1/vaults/${vaultId}/items/${item.id}`, [
      { op: 'replace', path: '/fields/pw/value', value: 'new-secret' },
    ]);
    expect(patched.status).toBe(200);
    expect(patched.body.version).toBe(3);
    expect(patched.body.fields.find((f: any) => f.id === 'pw').value).toBe('new-secret');

    const del = await call('DELETE', `/v1/vaults/${vaultId}/items/${item.id}`);
    expect(del.status).toBe(204);
    expect((await call('GET', `/v1/vaults/${vaultId}/items/${item.id}`)).status).toBe(404);
  });
});

describe('items in detail', () => {
  const base = () => `/v1/vaults/${vaultId}/items`;
  const create = async (body: Record<string, unknown>) => {
    const r = await call('POST', base(), { category: 'LOGIN', ...body });
    expect(r.status).toBe(200);
    return r.body;
  };

  it('keeps client field and section ids and generates missing ones', async () => {
    const item = await create({
      title: 'ids',
      sections: [{ id: 'Section_abc', label: 'A' }, { label: 'B' }],
      fields: [{ id: 'password', label: 'password', value: 'x', section: { id: 'Section_abc' } }, { id: '', label: 'empty id' }],
    });
    expect(item.sections[0].id).toBe('Section_abc');
    expect(item.sections[1].id).toMatch(ID);
    expect(item.fields[0].id).toBe('password');
    expect(item.fields[0].section).toEqual({ id: 'Section_abc' });
    expect(item.fields[1].id).toMatch(ID);
    expect(item.fields[1].type).toBe('STRING');
  });

  it('filters the list by title and tag with and/or and parentheses', async () => {
    await create({ title: 'alpha-web', tags: ['web', 'prod'] });
    await create({ title: 'alpha-db', tags: ['db', 'prod'] });
    await create({ title: 'beta-web', tags: ['web'] });
    const titles = async (filter: string) =>
      (await call('GET', `${base()}?filter=${encodeURIComponent(filter)}`)).body.map((i: any) => i.title).sort();
    expect(await titles('title eq "alpha-db"')).toEqual(['alpha-db']);
    expect(await titles('title sw "alpha"')).toEqual(['alpha-db', 'alpha-web']);
    expect(await titles('title co "web"')).toEqual(['alpha-web', 'beta-web']);
    expect(await titles('tag eq "prod" and (title co "db" or title co "web")')).toEqual(['alpha-db', 'alpha-web']);
    expect(await titles('tag eq "web" or title eq "alpha-db"')).toEqual(['alpha-db', 'alpha-web', 'beta-web']);
  });

  it('answers 400 naming the column for a malformed filter', async () => {
    const r = await call('GET', `${base()}?filter=${encodeURIComponent('title eq alpha')}`);
    expect(r.status).toBe(400);
    expect(r.body).toEqual({ status: 400, message: expect.stringMatching(/column \d+/) });
  });

  it('filters vaults by name', async () => {
    expect((await call('GET', `/v1/vaults?filter=${encodeURIComponent('name eq "Private"')}`)).body).toHaveLength(1);
    expect((await call('GET', `/v1/vaults?filter=${encodeURIComponent('name eq "Nope"')}`)).body).toEqual([]);
  });

  // OTP, not TOTP: real Connect refuses the spec's TOTP (ledger row 1; fidelity-input.test.ts).
  it('returns the current code for OTP fields, never storing it', async () => {
    const item = await create({
      title: 'otp',
      fields: [
        { id: 'otp', type: 'OTP', label: 'one-time password', value: 'otpauth://totp/x?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ' },
        { id: 'b32', type: 'OTP', label: 'base32', value: 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ' },
        { id: 'junk', type: 'OTP', label: 'junk', value: 'not a secret!' },
      ],
    });
    expect(item.fields[0].totp).toMatch(/^\d{6}$/);
    expect(item.fields[1].totp).toMatch(/^\d{6}$/);
    expect(item.fields[2]).not.toHaveProperty('totp');
    // PUT the item back with its totp: the code is recomputed, not stored.
    const put = await call('PUT', `${base()}/${item.id}`, { ...item, fields: item.fields.map((f: any) => ({ ...f, totp: '000000' })) });
    expect(put.status).toBe(200);
    expect(put.body.fields[2]).not.toHaveProperty('totp');
  });

  it('generates values on create, PUT and PATCH following the recipe', async () => {
    const item = await create({
      title: 'gen',
      fields: [{ id: 'pin', label: 'pin', type: 'CONCEALED', generate: true, recipe: { length: 8, characterSets: ['DIGITS'] } }],
    });
    const pin = item.fields[0];
    expect(pin.value).toMatch(/^\d{8}$/);
    expect(pin.entropy).toBeGreaterThan(20);
    // GET keeps the entropy but no generate/recipe.
    const got = (await call('GET', `${base()}/${item.id}`)).body.fields[0];
    expect(got).toEqual(pin);

    const put = await call('PUT', `${base()}/${item.id}`, {
      ...item,
      fields: [{ id: 'pin', label: 'pin', type: 'CONCEALED', generate: true, recipe: { length: 12, characterSets: ['LETTERS'] } }],
    });
    expect(put.body.fields[0].value).toMatch(/^[A-Za-z]{12}$/);

    const patched = await call('PATCH', `${base()}/${item.id}`, [
      { op: 'add', path: '/fields/-', value: { id: 'key', label: 'key', type: 'CONCEALED', generate: true, recipe: { length: 40 } } },
    ]);
    expect(patched.status).toBe(200);
    const key = patched.body.fields.find((f: any) => f.id === 'key');
    expect(key.value).toHaveLength(40);
    expect(key).not.toHaveProperty('generate');
    expect(key).not.toHaveProperty('recipe');
  });

  it('answers 400 for an impossible recipe', async () => {
    const r = await call('POST', base(), {
      category: 'LOGIN',
      title: 'bad recipe',
      fields: [{ label: 'p', generate: true, recipe: { length: 65 } }],
    });
    expect(r.status).toBe(400);
    expect(r.body.message).toMatch(/recipe|length/);
  });

  it('keeps entropy only while the generated value is unchanged', async () => {
    const item = await create({ title: 'entropy', fields: [{ id: 'p', label: 'p', generate: true }] });
    expect(item.fields[0].entropy).toBeGreaterThan(0);
    const same = await call('PUT', `${base()}/${item.id}`, item);
    expect(same.body.fields[0].entropy).toBe(item.fields[0].entropy);
    const changed = await call('PUT', `${base()}/${item.id}`, { ...item, fields: [{ ...item.fields[0], value: 'typed' }] });
    expect(changed.body.fields[0]).not.toHaveProperty('entropy');
  });

  it('PUT: ids in body and path must agree; the body vault must be the path vault', async () => {
    const a = await create({ title: 'put-a' });
    const b = await create({ title: 'put-b' });
    const r = await call('PUT', `${base()}/${a.id}`, { ...b, title: 'x' });
    expect(r.status).toBe(400);
    expect(r.body.message).toMatch(/id/);
    const v = await call('PUT', `${base()}/${a.id}`, { ...a, vault: { id: 'zzzzzzzzzzzzzzzzzzzzzzzzzz' } });
    expect(v.status).toBe(400);
    expect(v.body.message).toMatch(/vault/);
    // Without id and vault in the body, PUT replaces the item of the path.
    const { id: _id, vault: _v, ...rest } = a;
    const ok = await call('PUT', `${base()}/${a.id}`, { ...rest, title: 'put-a2' });
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ id: a.id, title: 'put-a2', version: 1, createdAt: a.createdAt }); // the version before the PUT (row 21)
  });

  it('PATCH is all or nothing and the result is validated', async () => {
    const item = await create({ title: 'patch', fields: [{ id: 'u', label: 'u', value: 'v1' }] });
    const bad = await call('PATCH', `${base()}/${item.id}`, [
      { op: 'replace', path: '/title', value: 'changed' },
      { op: 'replace', path: '/fields/nope/value', value: 'x' },
    ]);
    expect(bad.status).toBe(400);
    const unchanged = (await call('GET', `${base()}/${item.id}`)).body;
    expect(unchanged.title).toBe('patch');
    expect(unchanged.version).toBe(1);

    const wrongType = await call('PATCH', `${base()}/${item.id}`, [{ op: 'replace', path: '/fields/u/type', value: 'NOT_A_TYPE' }]);
    expect(wrongType.status).toBe(400);
    expect(wrongType.body.message).toMatch(/type/);

    const byIndex = await call('PATCH', `${base()}/${item.id}`, [
      { op: 'replace', path: '/fields/0/value', value: 'v2' },
      { op: 'add', path: '/tags', value: ['t'] },
      { op: 'add', path: '/urls', value: [{ href: 'https://example.com', primary: true }] },
      { op: 'add', path: '/sections', value: [{ id: 's1', label: 'S' }] },
    ]);
    expect(byIndex.status).toBe(200);
    expect(byIndex.body).toMatchObject({ tags: ['t'], urls: [{ href: 'https://example.com', primary: true }], sections: [{ id: 's1', label: 'S' }] });
    expect(byIndex.body.fields[0].value).toBe('v2');

    const removed = await call('PATCH', `${base()}/${item.id}`, [{ op: 'remove', path: '/fields/u' }]);
    expect(removed.status).toBe(200);
    // Only the LOGIN template's built-ins are left, empty (ledger row 11).
    expect(removed.body.fields.map((f: any) => f.id)).toEqual(['username', 'password', 'notesPlain']);
  });

  it('rejects field references to sections the item does not have and duplicate ids', async () => {
    const r = await call('POST', base(), { category: 'LOGIN', title: 's', fields: [{ label: 'x', section: { id: 'missing' } }] });
    expect(r.status).toBe(400);
    expect(r.body.message).toMatch(/\/fields\/0\/section/);
    const d = await call('POST', base(), { category: 'LOGIN', title: 'd', fields: [{ id: 'a' }, { id: 'a' }] });
    expect(d.status).toBe(400);
    expect(d.body.message).toMatch(/\/fields\/1\/id/);
  });

  it('keeps vault counts and versions true across create, update and delete', async () => {
    const v0 = (await call('GET', `/v1/vaults/${vaultId}`)).body;
    const item = await create({ title: 'count' });
    await call('PATCH', `${base()}/${item.id}`, [{ op: 'replace', path: '/title', value: 'count2' }]);
    const v1 = (await call('GET', `/v1/vaults/${vaultId}`)).body;
    expect(v1.items).toBe(v0.items + 1);
    expect(v1.contentVersion).toBe(v0.contentVersion + 2);
    await call('DELETE', `${base()}/${item.id}`);
    const v2 = (await call('GET', `/v1/vaults/${vaultId}`)).body;
    expect(v2.items).toBe(v0.items);
    expect(v2.contentVersion).toBe(v0.contentVersion + 3);
    const list = (await call('GET', base())).body;
    expect(list.length).toBe(v2.items);
    expect(list.map((i: any) => i.id)).not.toContain(item.id);
  });
});
