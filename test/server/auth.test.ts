// Tokens, scopes and the activity log, over HTTP against a real server.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestServer, type TestServer } from '../support/server.js';
import { client } from './helpers.js';

let srv: TestServer;
let admin: ReturnType<typeof client>;
let dev: string; // vault id
let ops: string; // vault id
let devItem: string;

beforeAll(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'opsync-auth-'));
  const seed = join(dir, 'seed.yaml');
  writeFileSync(
    seed,
    `vaults:
  - name: dev
    items:
      - title: api
        category: API_CREDENTIAL
        fields: [{ id: credential, type: CONCEALED, value: s3cr3t-dev }]
  - name: ops
`,
  );
  srv = await startTestServer({ seedFiles: [seed] });
  admin = client(srv.url, srv.token);
  const vaults = (await admin('GET', '/v1/vaults')).body;
  dev = vaults.find((v: any) => v.name === 'dev').id;
  ops = vaults.find((v: any) => v.name === 'ops').id;
  devItem = (await admin('GET', `/v1/vaults/${dev}/items`)).body[0].id;
});
afterAll(() => srv.close());

describe('authentication', () => {
  it('401 without a token, with a malformed one, and with a forged one', async () => {
    const none = await client(srv.url)('GET', '/v1/vaults');
    expect(none.status).toBe(401);
    expect(none.body).toEqual({ status: 401, message: expect.stringMatching(/Authorization/) });
    for (const bad of ['nope', 'a.b.c', `${srv.token}x`, srv.token.replace(/\.[^.]+$/, '.AAAA')]) {
      const r = await client(srv.url, bad)('GET', '/v1/vaults');
      expect(r.status).toBe(401);
      expect(r.body).toEqual({ status: 401, message: 'Invalid bearer token' });
    }
    const basic = await client(srv.url)('GET', '/v1/vaults', undefined, { Authorization: `Basic ${srv.token}` });
    expect(basic.status).toBe(401);
  });

  it('a token signed by another server is rejected', async () => {
    const other = await startTestServer();
    try {
      const r = await client(srv.url, other.token)('GET', '/v1/vaults');
      expect(r.status).toBe(401);
    } finally {
      await other.close();
    }
  });

  it('heartbeat, health and metrics need no token', async () => {
    const anon = client(srv.url);
    expect((await anon('GET', '/heartbeat')).status).toBe(200);
    expect((await anon('GET', '/health')).status).toBe(200);
    expect((await anon('GET', '/metrics')).status).toBe(200);
  });

  it('tokens are JWT-style strings', () => {
    expect(srv.token.split('.')).toHaveLength(3);
    const payload = JSON.parse(Buffer.from(srv.token.split('.')[1], 'base64url').toString());
    expect(payload).toMatchObject({ jti: expect.stringMatching(/^[a-z0-9]{26}$/), sub: expect.stringMatching(/^[a-z0-9]{26}$/) });
  });
});

describe('scopes', () => {
  it('a token scoped to one vault sees only that vault; others are 403', async () => {
    const t = client(srv.url, srv.server.createToken({ name: 'dev-rw', vaults: [{ vault: 'dev', read: true, write: true }] }));
    const vaults = (await t('GET', '/v1/vaults')).body;
    expect(vaults.map((v: any) => v.name)).toEqual(['dev']);
    const denied = await t('GET', `/v1/vaults/${ops}`);
    expect(denied.status).toBe(403);
    expect(denied.body).toEqual({ status: 403, message: 'Authorization: token does not have access to vault' });
    expect((await t('GET', `/v1/vaults/${ops}/items`)).status).toBe(403);
    expect((await t('POST', `/v1/vaults/${ops}/items`, { title: 'x', category: 'LOGIN' })).status).toBe(403);
    // an unknown vault id is outside the scope too (its existence is not revealed)
    expect((await t('GET', '/v1/vaults/aaaaaaaaaaaaaaaaaaaaaaaaaa')).status).toBe(403);
    expect((await t('POST', `/v1/vaults/${dev}/items`, { title: 'x', category: 'LOGIN' })).status).toBe(200);
  });

  it('a read-only grant reads but gets 401 on every write', async () => {
    const t = client(srv.url, srv.server.createToken({ vaults: [{ vault: dev, read: true, write: false }] }));
    expect((await t('GET', `/v1/vaults/${dev}/items/${devItem}`)).status).toBe(200);
    const msg = { status: 401, message: 'Unauthorized Request, token does not have write access to the Vault' };
    const post = await t('POST', `/v1/vaults/${dev}/items`, { title: 'x', category: 'LOGIN' });
    expect(post.status).toBe(401);
    expect(post.body).toEqual(msg);
    expect((await t('PUT', `/v1/vaults/${dev}/items/${devItem}`, { title: 'x', category: 'LOGIN' })).body).toEqual(msg);
    expect((await t('PATCH', `/v1/vaults/${dev}/items/${devItem}`, [])).body).toEqual(msg);
    expect((await t('DELETE', `/v1/vaults/${dev}/items/${devItem}`)).body).toEqual(msg);
    expect((await admin('GET', `/v1/vaults/${dev}/items/${devItem}`)).body.title).toBe('api');
  });

  it('full-access tokens reach every vault; unknown vaults are 404, malformed ids 400', async () => {
    expect((await admin('GET', '/v1/vaults')).body.length).toBeGreaterThanOrEqual(2);
    const missing = await admin('GET', '/v1/vaults/aaaaaaaaaaaaaaaaaaaaaaaaaa');
    expect(missing).toMatchObject({ status: 404, body: { status: 404, message: 'Vault not found' } });
    const item = await admin('GET', `/v1/vaults/${dev}/items/aaaaaaaaaaaaaaaaaaaaaaaaaa`);
    expect(item).toMatchObject({ status: 404, body: { status: 404, message: 'Item not found' } });
    const badVault = await admin('GET', '/v1/vaults/dev');
    expect(badVault).toMatchObject({ status: 400, body: { status: 400, message: 'Invalid Vault UUID' } });
    const badItem = await admin('GET', `/v1/vaults/${dev}/items/api`);
    expect(badItem).toMatchObject({ status: 400, body: { status: 400, message: 'Invalid Item UUID' } });
  });

  it('createToken refuses an unknown vault', () => {
    expect(() => srv.server.createToken({ vaults: [{ vault: 'nope', read: true, write: false }] })).toThrow(/nope/);
  });
});

describe('activity', () => {
  it('records allowed and denied /v1 requests, newest first, with actor and resource', async () => {
    const readOnly = srv.server.createToken({ vaults: [{ vault: 'dev', read: true, write: false }] });
    const t = client(srv.url, readOnly);
    await t('GET', `/v1/vaults/${dev}/items/${devItem}`, undefined, { 'User-Agent': 'activity-test' });
    await t('DELETE', `/v1/vaults/${dev}/items/${devItem}`, undefined, { 'User-Agent': 'activity-test' });
    await client(srv.url)('GET', '/v1/vaults', undefined, { 'User-Agent': 'activity-anon' });

    const r = await admin('GET', '/v1/activity?limit=3');
    expect(r.status).toBe(200);
    const [anon, del, get] = r.body;
    // Actions are READ / CREATE / UPDATE / DELETE, as real Connect's (ledger row 35).
    expect(anon).toMatchObject({ action: 'READ', result: 'DENY', actor: { userAgent: 'activity-anon' }, resource: { type: 'VAULT' } });
    expect(del).toMatchObject({ action: 'DELETE', result: 'DENY', resource: { type: 'ITEM', vault: { id: dev }, item: { id: devItem } } });
    expect(get).toMatchObject({
      action: 'READ',
      result: 'SUCCESS',
      actor: { id: expect.stringMatching(/^[a-z0-9]{26}$/), jti: expect.stringMatching(/^[a-z0-9]{26}$/), userAgent: 'activity-test', requestIp: expect.any(String) },
      resource: { type: 'ITEM', vault: { id: dev }, item: { id: devItem }, itemVersion: 1 },
    });
    expect(get.requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(new Date(get.timestamp).toString()).not.toBe('Invalid Date');
    const payload = JSON.parse(Buffer.from(readOnly.split('.')[1], 'base64url').toString());
    expect(get.actor).toMatchObject({ id: payload.sub, jti: payload.jti });
  });

  it('pages with limit and offset and bounds limit', async () => {
    const all = (await admin('GET', '/v1/activity?limit=1000')).body;
    const page = (await admin('GET', '/v1/activity?limit=2&offset=1')).body;
    // reading the log is not itself an entry (real Connect logs ITEM and VAULT requests only)
    expect(page).toEqual(all.slice(1, 3));
    expect((await admin('GET', '/v1/activity')).body.length).toBeLessThanOrEqual(50);
    expect((await admin('GET', '/v1/activity?limit=5000')).status).toBe(200);
    const bad = await admin('GET', '/v1/activity?limit=-1');
    expect(bad.status).toBe(400);
    expect(bad.body.message).toMatch(/limit/);
  });

  it('never records values', async () => {
    const all = (await admin('GET', '/v1/activity?limit=1000')).text;
    expect(all).not.toContain('s3cr3t-dev');
  });
});
