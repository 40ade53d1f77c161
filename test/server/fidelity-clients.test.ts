// 1Password's own clients, unchanged, against opsync server (docs/connect-fidelity.md rows 13, 14, 28): the
// exact requests they send, reproduced from their source, and the checks they make on the answers.
// - connect-sdk-go 1.5.3 (the Terraform provider, the Kubernetes operator and External Secrets use it):
//   connect/client.go, onepassword/items.go (json.Marshal of Item: no omitempty on id, vault, fields' id and type;
//   time.Time zero values), connect/version.go (file methods need `1Password-Connect-Version` >= 1.3.0).
// - connect-sdk-python 2.0: serializer.py drops None members of models but keeps `favorite`/`trashed`/`generate`
//   defaults; client.update_item sets id and vault and PUTs the item it deserialized (datetimes in isoformat).
// - ansible-onepasswordconnect-collection 2.4: module_utils/vault.py assemble_item and fields.py
//   field_from_params send `section: null`, `recipe: null`, `value: null` and `purpose: ""` on every write.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../support/server.js';

let srv: TestServer;
let vault: string;

beforeAll(async () => {
  srv = await startTestServer();
  vault = ((await (await fetch(`${srv.url}/v1/vaults`, { headers: { Authorization: `Bearer ${srv.token}` } })).json()) as { id: string }[])[0].id;
});
afterAll(() => srv.close());

/** A request with the headers a client sends and a body given as the exact JSON text it marshals. */
async function send(method: string, path: string, headers: Record<string, string>, text?: string) {
  const res = await fetch(`${srv.url}${path}`, { method, headers: { Authorization: `Bearer ${srv.token}`, ...headers }, body: text });
  const raw = await res.text();
  return { status: res.status, headers: res.headers, raw, json: raw && (res.headers.get('content-type') ?? '').includes('json') ? JSON.parse(raw) : undefined };
}

/** connect-sdk-go's version.go: getServerVersion + IsGreaterOrEqualThan({1,3,0}). */
function goSdkAcceptsFileMethods(headers: Headers): boolean {
  const v = headers.get('1Password-Connect-Version');
  if (!v) return false; // "need at least version 1.3.0 of Connect for this function, detected version 1.2.0 (or earlier)"
  const parts = v.split('.');
  if (parts.length !== 3 || parts.some((p) => !/^\d+$/.test(p))) return true; // unparseable: the SDK lets it pass
  const [major, minor, patch] = parts.map(Number);
  return major !== 1 ? major > 1 : minor !== 3 ? minor > 3 : patch >= 0;
}

describe('connect-sdk-go', () => {
  const GO = { 'Content-Type': 'application/json', 'User-Agent': 'connect-sdk-go/1.5.3' };

  it('CreateItem with the vault left unset: "vault":{"id":""}, "id":"" on item and fields, zero timestamps', async () => {
    // json.Marshal(&onepassword.Item{Title: "Secret String", Category: onepassword.Login,
    //   Fields: []*onepassword.ItemField{{Value: "mysecret", Type: "STRING"}}}) - the SDK README's example.
    const body =
      '{"id":"","title":"Secret String","vault":{"id":""},"category":"LOGIN","fields":[{"id":"","type":"STRING","value":"mysecret"}],"createdAt":"0001-01-01T00:00:00Z","updatedAt":"0001-01-01T00:00:00Z"}';
    const r = await send('POST', `/v1/vaults/${vault}/items`, GO, body);
    expect(r.status, r.raw).toBe(200);
    expect(r.json).toMatchObject({ title: 'Secret String', vault: { id: vault }, category: 'LOGIN', version: 1 });
    expect(r.json.fields.find((f: any) => f.value === 'mysecret')).toMatchObject({ type: 'STRING', id: expect.stringMatching(/^[a-z0-9]{26}$/) });
    expect(r.json.createdAt).not.toMatch(/^0001/);
  });

  it('an untyped field ("type":"") is a STRING; UpdateItem PUTs the whole item back as it was answered', async () => {
    const created = await send(
      'POST',
      `/v1/vaults/${vault}/items`,
      GO,
      '{"id":"","title":"Go item","vault":{"id":""},"category":"PASSWORD","fields":[{"id":"password","type":"CONCEALED","purpose":"PASSWORD","value":"p"},{"id":"","type":"","label":"note","value":"n"}],"createdAt":"0001-01-01T00:00:00Z","updatedAt":"0001-01-01T00:00:00Z"}',
    );
    expect(created.status, created.raw).toBe(200);
    expect(created.json.fields.find((f: any) => f.label === 'note').type).toBe('STRING');
    // UpdateItem: json.Marshal of the Item the SDK unmarshalled (its own field order and omitempty rules).
    const it = created.json;
    const goItem = {
      id: it.id,
      title: 'Go item renamed',
      version: it.version,
      vault: { id: it.vault.id },
      category: it.category,
      fields: it.fields.map((f: any) => ({ id: f.id, type: f.type, ...(f.purpose ? { purpose: f.purpose } : {}), ...(f.label ? { label: f.label } : {}), ...(f.value ? { value: f.value } : {}) })),
      lastEditedBy: it.lastEditedBy,
      createdAt: it.createdAt,
      updatedAt: it.updatedAt,
    };
    const put = await send('PUT', `/v1/vaults/${it.vault.id}/items/${it.id}`, GO, JSON.stringify(goItem));
    expect(put.status, put.raw).toBe(200);
    // terraform-provider-onepassword: "UpdateItem doesn't return increased item version"; it polls for + 1.
    expect(put.json.version).toBe(it.version);
    const got = await send('GET', `/v1/vaults/${vault}/items/${it.id}`, GO);
    expect(got.json).toMatchObject({ title: 'Go item renamed', version: it.version + 1 });
  });

  it('GetVaultsByTitle and GetItemsByTitle: url.QueryEscape(`title eq "..."`), spaces as +', async () => {
    const q = (s: string) => encodeURIComponent(s).replace(/%20/g, '+');
    const vaults = await send('GET', `/v1/vaults?filter=${q('title eq "private"')}`, GO);
    expect(vaults.json.map((v: any) => v.id)).toEqual([vault]);
    const items = await send('GET', `/v1/vaults/${vault}/items?filter=${q('title eq "Secret String"')}`, GO);
    expect(items.json).toHaveLength(1);
  });

  it('file methods: every answer carries a 1Password-Connect-Version the SDK accepts (>= 1.3.0)', async () => {
    const list = await send('GET', `/v1/vaults/${vault}/items`, GO);
    const [first] = list.json;
    for (const path of [`/v1/vaults/${vault}/items/${first.id}/files`, `/v1/vaults/${vault}/items/${first.id}/files/zzzzzzzzzzzzzzzzzzzzzzzzzz`]) {
      const r = await send('GET', path, GO);
      expect(goSdkAcceptsFileMethods(r.headers), path).toBe(true);
    }
  });
});

describe('connect-sdk-python', () => {
  const PY = { 'Content-Type': 'application/json' };

  it('create_item(Item(title, category, tags, fields=[Field(value, purpose="USERNAME")])) - the USAGE example', async () => {
    const body = '{"title": "Example Login Item", "category": "LOGIN", "favorite": false, "tags": ["1password-connect"], "trashed": false, "fields": [{"type": "STRING", "purpose": "USERNAME", "value": "new_user", "generate": false}]}';
    const r = await send('POST', `/v1/vaults/${vault}/items`, PY, body);
    expect(r.status, r.raw).toBe(200);
    expect(r.json.fields.find((f: any) => f.id === 'username')).toEqual({ id: 'username', type: 'STRING', purpose: 'USERNAME', label: 'username', value: 'new_user' });
  });

  it('update_item PUTs the deserialized item: isoformat datetimes with +00:00, generate false, trashed false', async () => {
    const created = await send('POST', `/v1/vaults/${vault}/items`, PY, '{"title": "Py", "category": "SECURE_NOTE", "favorite": false, "trashed": false}');
    const it = created.json;
    const iso = (s: string) => new Date(s).toISOString().replace('Z', '000+00:00');
    const body = JSON.stringify({
      id: it.id,
      title: 'Py renamed',
      vault: { id: vault },
      category: it.category,
      favorite: false,
      version: it.version,
      trashed: false,
      createdAt: iso(it.createdAt),
      updatedAt: iso(it.updatedAt),
      lastEditedBy: it.lastEditedBy,
      fields: it.fields.map((f: any) => ({ ...f, generate: false })),
    });
    const put = await send('PUT', `/v1/vaults/${vault}/items/${it.id}`, PY, body);
    expect(put.status, put.raw).toBe(200);
    expect(put.json.title).toBe('Py renamed');
  });
});

describe('ansible-onepasswordconnect-collection', () => {
  const ANSIBLE = { 'Content-Type': 'application/json', Accept: 'application/json', 'User-Agent': 'op-connect-ansible/2.4.0' };

  it('generic_item create: section, recipe and value null, purpose "" or the login\'s own, urls and tags []', async () => {
    // assemble_item(vault_id, "LOGIN", title, urls=None, favorite=None, fieldset=...) with fields from
    // field_from_params: one plain, one username, one generated password (value None, recipe None).
    const body = JSON.stringify({
      title: 'Ansible login',
      vault: { id: vault },
      category: 'LOGIN',
      urls: [],
      tags: [],
      fields: [
        { type: 'STRING', label: 'username', section: null, recipe: null, generate: false, value: 'admin', purpose: 'USERNAME' },
        { type: 'CONCEALED', label: 'password', section: null, recipe: null, generate: true, value: null, purpose: 'PASSWORD' },
        { type: 'STRING', label: 'Environment', section: null, recipe: null, generate: false, value: 'prod', purpose: '' },
      ],
      favorite: false,
    });
    const r = await send('POST', `/v1/vaults/${vault}/items`, ANSIBLE, body);
    expect(r.status, r.raw).toBe(200);
    const byLabel = Object.fromEntries(r.json.fields.map((f: any) => [f.label, f]));
    expect(byLabel.username).toMatchObject({ id: 'username', value: 'admin' });
    expect(byLabel.password.id).toBe('password');
    expect(byLabel.password.value).toHaveLength(32);
    expect(byLabel.Environment).toMatchObject({ type: 'STRING', value: 'prod' });
    expect(byLabel.Environment).not.toHaveProperty('purpose');
    // update_item: the previous notesPlain field is sent back as Connect answered it, plus the new fields.
    const notes = r.json.fields.find((f: any) => f.id === 'notesPlain');
    const update = JSON.stringify({
      title: 'Ansible login',
      vault: { id: vault },
      category: 'LOGIN',
      urls: [],
      tags: [],
      fields: [notes, { type: 'STRING', label: 'Environment', section: null, recipe: null, generate: false, value: 'staging', purpose: '' }],
      favorite: false,
      id: r.json.id,
    });
    const put = await send('PUT', `/v1/vaults/${vault}/items/${r.json.id}`, ANSIBLE, update);
    expect(put.status, put.raw).toBe(200);
  });

  it('a section given by name: the collection sends {"id": uuid4} on fields and {"id", "label"} in sections', async () => {
    const sid = '0f8fad5b-d9cb-469f-a165-70867728950e';
    const body = JSON.stringify({
      title: 'Sectioned',
      vault: { id: vault },
      category: 'SERVER',
      urls: [],
      tags: [],
      fields: [{ type: 'STRING', label: 'host', section: { id: sid }, recipe: null, generate: false, value: 'h', purpose: '' }],
      favorite: false,
      sections: [{ id: sid, label: 'Connection' }],
    });
    const r = await send('POST', `/v1/vaults/${vault}/items`, ANSIBLE, body);
    expect(r.status, r.raw).toBe(200);
    expect(r.json.fields.find((f: any) => f.label === 'host').section).toEqual({ id: sid });
  });
});
