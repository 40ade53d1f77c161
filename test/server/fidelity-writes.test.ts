// Writes and versions as real 1Password Connect answers them (docs/connect-fidelity.md rows 21, 24-27).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../support/server.js';
import { client } from './helpers.js';

let srv: TestServer;
let call: ReturnType<typeof client>;
let vault: string;

beforeAll(async () => {
  srv = await startTestServer();
  call = client(srv.url, srv.token);
  vault = (await call('GET', '/v1/vaults')).body[0].id;
});
afterAll(() => srv.close());

async function newItem(title = 'item') {
  const r = await call('POST', `/v1/vaults/${vault}/items`, { title, category: 'SECURE_NOTE', tags: ['a'], fields: [{ id: 'f', label: 'f', value: 'one' }] });
  expect(r.status).toBe(200);
  return r.body;
}
const path = (id: string) => `/v1/vaults/${vault}/items/${id}`;

describe('PUT (row 21)', () => {
  it('answers the new content with the version the item had before the update; GET shows version + 1', async () => {
    const item = await newItem();
    expect(item.version).toBe(1);
    const put = await call('PUT', path(item.id), { ...item, title: 'renamed' });
    expect(put.status).toBe(200);
    expect(put.body).toMatchObject({ title: 'renamed', version: 1 });
    const got = await call('GET', path(item.id));
    expect(got.body).toMatchObject({ title: 'renamed', version: 2 });
    const again = await call('PUT', path(item.id), { ...got.body, title: 'again' });
    expect(again.body.version).toBe(2);
    expect((await call('GET', path(item.id))).body.version).toBe(3);
  });
});

describe('PATCH (rows 26-27)', () => {
  it('row 26: an empty patch leaves the item unmodified (same version, same updatedAt)', async () => {
    const item = await newItem();
    const r = await call('PATCH', path(item.id), []);
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ version: 1, updatedAt: item.updatedAt, title: item.title });
    expect((await call('GET', path(item.id))).body.version).toBe(1);
  });

  it('row 27: add at /fields with one field object appends it (the spec\'s PatchItemField example, lower-case type)', async () => {
    const item = await newItem();
    const r = await call('PATCH', path(item.id), [{ op: 'add', path: '/fields', value: { label: 'New Field', type: 'string', value: 'hunter2' } }]);
    expect(r.status).toBe(200);
    expect(r.body.fields.map((f: any) => f.label)).toEqual(['f', 'notesPlain', 'New Field']);
    expect(r.body.fields[2]).toMatchObject({ type: 'STRING', value: 'hunter2', id: expect.stringMatching(/^[a-z0-9]{26}$/) });
  });

  it('row 27: add at /fields with an array still replaces the fields (RFC 6902)', async () => {
    const item = await newItem();
    const r = await call('PATCH', path(item.id), [{ op: 'add', path: '/fields', value: [{ id: 'only', value: 'x' }] }]);
    expect(r.status).toBe(200);
    expect(r.body.fields.map((f: any) => f.id)).toEqual(['only', 'notesPlain']);
  });

  it('row 27: replace at / replaces the whole item, as a PUT would (the spec\'s ReplaceAllAttributes example)', async () => {
    const item = await newItem();
    const r = await call('PATCH', path(item.id), [
      { op: 'replace', path: '/', value: { title: 'New Title', favorite: true, tags: ['tag1', 'tag2'], category: 'SECURE_NOTE' } },
      { op: 'add', path: '/tags/-', value: 'tag3' },
    ]);
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ id: item.id, title: 'New Title', favorite: true, tags: ['tag1', 'tag2', 'tag3'], vault: { id: vault } });
    expect(r.body.fields.map((f: any) => f.id)).toEqual(['notesPlain']);
  });

  it('row 13: null inside a patch value is an absent member', async () => {
    const item = await newItem();
    const r = await call('PATCH', path(item.id), [{ op: 'add', path: '/fields/-', value: { label: 'n', type: 'STRING', value: 'v', section: null, recipe: null } }]);
    expect(r.status).toBe(200);
    expect(r.body.fields.find((f: any) => f.label === 'n')).not.toHaveProperty('section');
  });
});

describe('deletes and titles (rows 24-25)', () => {
  it('row 24: DELETE is permanent: the item is gone from GET and the list, never answered as trashed', async () => {
    const item = await newItem('to delete');
    expect((await call('DELETE', path(item.id))).status).toBe(204);
    expect((await call('GET', path(item.id))).status).toBe(404);
    const list = (await call('GET', `/v1/vaults/${vault}/items`)).body;
    expect(list.some((i: any) => i.id === item.id)).toBe(false);
    expect(list.some((i: any) => i.state !== undefined)).toBe(false);
  });

  it('row 25: duplicate titles in one vault are allowed', async () => {
    const a = await newItem('same title');
    const b = await newItem('same title');
    expect(a.id).not.toBe(b.id);
    const found = (await call('GET', `/v1/vaults/${vault}/items?filter=${encodeURIComponent('title eq "same title"')}`)).body;
    expect(found.map((i: any) => i.id).sort()).toEqual([a.id, b.id].sort());
  });
});
