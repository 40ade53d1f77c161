// Headers, queries, errors, /health, activity and files as real 1Password Connect answers them
// (docs/connect-fidelity.md rows 28-36).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../support/server.js';
import { client } from './helpers.js';

const BIG = 'x'.repeat(2048);
const SEED = `
vaults:
  - name: Production
    items:
      - title: With files
        category: SECURE_NOTE
        files:
          - { name: small.txt, content: "tiny" }
          - { name: big.txt, content: "${BIG}" }
          - { name: "na\\"me ü.pem", content: "odd name" }
  - name: Staging
`;

let srv: TestServer;
let call: ReturnType<typeof client>;
let prod: string;
let staging: string;
let dir: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'opsync-wire-'));
  writeFileSync(join(dir, 'seed.yaml'), SEED);
  srv = await startTestServer({ seedFiles: [join(dir, 'seed.yaml')], maxInlineFileBytes: 1024 });
  call = client(srv.url, srv.token);
  const vaults = (await call('GET', '/v1/vaults')).body as { id: string; name: string }[];
  prod = vaults.find((v) => v.name === 'Production')!.id;
  staging = vaults.find((v) => v.name === 'Staging')!.id;
});
afterAll(async () => {
  await srv?.close();
  rmSync(dir, { recursive: true, force: true });
});

async function filesItem() {
  const [s] = (await call('GET', `/v1/vaults/${prod}/items?filter=${encodeURIComponent('title eq "With files"')}`)).body;
  return s.id as string;
}

describe('row 28: the 1Password-Connect-Version header', () => {
  it('is on every answer: API, errors, 404s, health, heartbeat, metrics', async () => {
    const answers = await Promise.all([
      call('GET', '/v1/vaults'),
      call('GET', `/v1/vaults/${prod}/items/zzzzzzzzzzzzzzzzzzzzzzzzzz`),
      call('GET', '/v1/nothing'),
      call('POST', `/v1/vaults/${prod}/items`, '{'),
      client(srv.url)('GET', '/v1/vaults'),
      call('GET', '/health'),
      call('GET', '/heartbeat'),
      call('GET', '/metrics'),
    ]);
    for (const a of answers) expect(a.headers.get('1password-connect-version'), String(a.status)).toBe('1.8.1');
  });
});

describe('rows 29-30: filters', () => {
  it('row 29: vault title eq / name eq match regardless of case', async () => {
    for (const f of ['title eq "production"', 'name eq "PRODUCTION"', 'title eq "Production"']) {
      const r = await call('GET', `/v1/vaults?filter=${encodeURIComponent(f)}`);
      expect(r.body.map((v: any) => v.id), f).toEqual([prod]);
    }
    expect((await call('GET', `/v1/vaults?filter=${encodeURIComponent('name sw "stag"')}`)).body.map((v: any) => v.id)).toEqual([staging]);
  });

  it('row 30: item titles stay case-sensitive; a single-quoted value is a 400', async () => {
    expect((await call('GET', `/v1/vaults/${prod}/items?filter=${encodeURIComponent('title eq "with files"')}`)).body).toEqual([]);
    expect((await call('GET', `/v1/vaults/${prod}/items?filter=${encodeURIComponent("title eq 'With files'")}`)).status).toBe(400);
  });
});

describe('rows 31-33: errors', () => {
  it('row 31: 401 Invalid bearer token; 401 for a write with a read-only token; 403 outside the token\'s vaults', async () => {
    expect((await client(srv.url, 'a.b.c')('GET', '/v1/vaults')).body).toEqual({ status: 401, message: 'Invalid bearer token' });
    const readOnly = client(srv.url, srv.server.createToken({ vaults: [{ vault: prod, read: true, write: false }] }));
    expect((await readOnly('POST', `/v1/vaults/${prod}/items`, { title: 't', category: 'LOGIN' })).body).toEqual({
      status: 401,
      message: 'Unauthorized Request, token does not have write access to the Vault',
    });
    expect((await readOnly('GET', `/v1/vaults/${staging}`)).body).toEqual({ status: 403, message: 'Authorization: token does not have access to vault' });
  });

  it('row 32: a path id of the wrong shape is 400 Invalid Vault UUID / Invalid Item UUID', async () => {
    expect((await call('GET', '/v1/vaults/not-an-id')).body).toEqual({ status: 400, message: 'Invalid Vault UUID' });
    expect((await call('GET', `/v1/vaults/${prod}/items/not-an-id`)).body).toEqual({ status: 400, message: 'Invalid Item UUID' });
  });
});

describe('row 34: /health', () => {
  it('answers in real Connect\'s shape: name, version and its four dependencies', async () => {
    const r = await call('GET', '/health');
    expect(r.status).toBe(200);
    expect(r.body).toEqual({
      name: '1Password Connect API',
      version: '1.8.1',
      dependencies: [
        { service: 'sqlite', status: 'ACTIVE', message: 'Connected to :memory:' },
        { service: 'account_data', status: 'ACTIVE' },
        { service: 'sync', status: 'ACTIVE' },
        { service: '1Password', status: 'ACTIVE' },
      ],
    });
  });
});

describe('row 35: activity', () => {
  it('entries have action READ / CREATE / UPDATE / DELETE and resource type ITEM / VAULT; the page has Content-Range', async () => {
    const { body: item } = await call('POST', `/v1/vaults/${staging}/items`, { title: 'a', category: 'SECURE_NOTE' });
    await call('GET', `/v1/vaults/${staging}/items/${item.id}`);
    await call('PATCH', `/v1/vaults/${staging}/items/${item.id}`, [{ op: 'replace', path: '/title', value: 'b' }]);
    await call('DELETE', `/v1/vaults/${staging}/items/${item.id}`);
    await call('GET', `/v1/vaults/${staging}`);
    const r = await call('GET', '/v1/activity?limit=5');
    expect(r.body.map((a: any) => [a.action, a.resource.type])).toEqual([
      ['READ', 'VAULT'],
      ['DELETE', 'ITEM'],
      ['UPDATE', 'ITEM'],
      ['READ', 'ITEM'],
      ['CREATE', 'ITEM'],
    ]);
    expect(r.headers.get('content-range')).toMatch(/^1-5\/\d+$/);
    const all = Number(/\/(\d+)$/.exec(r.headers.get('content-range')!)![1]);
    const page = await call('GET', `/v1/activity?limit=2&offset=3`);
    // Reading the activity log is not itself an entry: real Connect logs ITEM and VAULT requests only.
    expect(page.headers.get('content-range')).toBe(`4-5/${all}`);
    expect(page.body).toEqual(r.body.slice(3, 5));
  });
});

describe('row 36: files', () => {
  it('inline content above the limit is 413 File is too large to inline; below it is inlined', async () => {
    const itemId = await filesItem();
    const list = await call('GET', `/v1/vaults/${prod}/items/${itemId}/files?inline_files=true`);
    expect(list.status).toBe(413);
    const big = (await call('GET', `/v1/vaults/${prod}/items/${itemId}/files`)).body.find((f: any) => f.name === 'big.txt');
    expect(list.body.message).toBe(
      `File is too large to inline in request. Use the /v1/vaults/${prod}/items/${itemId}/files/${big.id}/content endpoint instead.`,
    );
    const one = await call('GET', `/v1/vaults/${prod}/items/${itemId}/files/${big.id}?inline_files=true`);
    expect(one.status).toBe(413);
    const small = (await call('GET', `/v1/vaults/${prod}/items/${itemId}/files`)).body.find((f: any) => f.name === 'small.txt');
    const inlined = await call('GET', `/v1/vaults/${prod}/items/${itemId}/files/${small.id}?inline_files=true`);
    expect(Buffer.from(inlined.body.content, 'base64').toString()).toBe('tiny');
    expect((await call('GET', `/v1/vaults/${prod}/items/${itemId}/files/${big.id}/content`)).text).toBe(BIG);
  });

  it('file content answers carry Content-Disposition: attachment; filename="..."', async () => {
    const itemId = await filesItem();
    const files = (await call('GET', `/v1/vaults/${prod}/items/${itemId}/files`)).body;
    const small = files.find((f: any) => f.name === 'small.txt');
    const r = await call('GET', `/v1/vaults/${prod}/items/${itemId}/files/${small.id}/content`);
    expect(r.headers.get('content-disposition')).toBe('attachment; filename="small.txt"');
    const odd = files.find((f: any) => f.name.startsWith('na'));
    const o = await call('GET', `/v1/vaults/${prod}/items/${itemId}/files/${odd.id}/content`);
    expect(o.headers.get('content-disposition')).toBe(`attachment; filename="na\\"me _.pem"; filename*=UTF-8''${encodeURIComponent('na"me ü.pem')}`);
  });
});
