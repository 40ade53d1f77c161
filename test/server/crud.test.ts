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
    expect(item.fields[0].id).toMatch(ID);
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
    expect(put.body.version).toBe(2);

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
