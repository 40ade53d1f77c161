// Bad input never crashes the server nor yields 500: every answer is a 4xx {"status","message"} that says
// what is wrong, and never echoes a value from the request.
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../support/server.js';
import { client } from './helpers.js';

let srv: TestServer;
let call: ReturnType<typeof client>;
let vault: string;
let item: string;
const SECRET = 'hunter2-do-not-echo';

beforeAll(async () => {
  srv = await startTestServer({ maxBodyBytes: 4096 });
  call = client(srv.url, srv.token);
  vault = (await call('GET', '/v1/vaults')).body[0].id;
  item = (await call('POST', `/v1/vaults/${vault}/items`, { title: 'x', category: 'LOGIN', fields: [{ id: 'p', value: SECRET }] })).body.id;
});
afterAll(() => srv.close());

function expectError(r: { status: number; body: any; headers: Headers }, status: number, message: RegExp) {
  expect(r.status).toBe(status);
  expect(r.headers.get('content-type')).toMatch(/application\/json/);
  expect(Object.keys(r.body).sort()).toEqual(['message', 'status']);
  expect(r.body.status).toBe(status);
  expect(r.body.message).toMatch(message);
  expect(r.body.message).not.toContain(SECRET);
}

describe('request bodies', () => {
  it('invalid JSON is a 400 that says where, without quoting the body', async () => {
    const r = await call('POST', `/v1/vaults/${vault}/items`, `{"title": "a", "fields": [{"value": ${SECRET}}]}`);
    expectError(r, 400, /not valid JSON/);
    const truncated = await call('POST', `/v1/vaults/${vault}/items`, `{"title": "${SECRET}`);
    expectError(truncated, 400, /not valid JSON/);
    const empty = await call('POST', `/v1/vaults/${vault}/items`, '');
    expectError(empty, 400, /empty/);
  });

  it('wrong types and unknown enum values are 400s naming the place', async () => {
    expectError(await call('POST', `/v1/vaults/${vault}/items`, { title: 5, category: 'LOGIN' }), 400, /\/title must be string/);
    expectError(await call('POST', `/v1/vaults/${vault}/items`, { title: 'a', category: 'NOPE' }), 400, /\/category must be one of: LOGIN/);
    expectError(
      await call('POST', `/v1/vaults/${vault}/items`, { title: 'a', category: 'LOGIN', fields: [{ type: 'SECRET', value: SECRET }] }),
      400,
      // Real Connect's validator text for an unknown type (ledger row 1), then the place.
      /has unsupported field type: secret\}" \(\/fields\/0\/type\)$/,
    );
    expectError(await call('POST', `/v1/vaults/${vault}/items`, { title: 'a', category: 'LOGIN', fields: {} }), 400, /\/fields must be array/);
    expectError(await call('POST', `/v1/vaults/${vault}/items`, [1, 2]), 400, /request body must be object/);
    expectError(await call('POST', `/v1/vaults/${vault}/items`, { title: 'no category' }), 400, /category is required/);
    expectError(
      await call('POST', `/v1/vaults/${vault}/items`, { title: 'a', category: 'LOGIN', fields: [{ generate: true, recipe: { characterSets: ['EMOJI'] } }] }),
      400,
      /characterSets\/0 must be one of/,
    );
  });

  it('invalid patches are 400s', async () => {
    const base = `/v1/vaults/${vault}/items/${item}`;
    expectError(await call('PATCH', base, { op: 'replace' }), 400, /must be array/);
    expectError(await call('PATCH', base, [{ op: 'move', path: '/title', from: '/x' }]), 400, /op must be one of: add, remove, replace/);
    expectError(await call('PATCH', base, [{ op: 'replace' }]), 400, /path/);
    expectError(await call('PATCH', base, [{ op: 'replace', path: '/id', value: 'x' }]), 400, /.+/);
    expectError(await call('PATCH', base, [{ op: 'replace', path: '/title', value: 42 }]), 400, /title/);
    expectError(await call('PATCH', base, [{ op: 'remove', path: '/fields/missing' }]), 400, /.+/);
  });

  it('over-long bodies are 413, whether announced or streamed', async () => {
    const big = { title: 'x'.repeat(5000), category: 'LOGIN' };
    expectError(await call('POST', `/v1/vaults/${vault}/items`, big), 413, /4096 bytes/);
    // chunked, with no Content-Length
    const status = await new Promise<number>((resolve, reject) => {
      const u = new URL(`${srv.url}/v1/vaults/${vault}/items`);
      const req = request(
        { host: u.hostname, port: u.port, path: u.pathname, method: 'POST', headers: { Authorization: `Bearer ${srv.token}`, 'Transfer-Encoding': 'chunked' } },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      );
      req.on('error', reject);
      for (let i = 0; i < 10; i++) req.write(Buffer.alloc(1000, 32));
      req.end();
    });
    expect(status).toBe(413);
    // the server is still fine
    expect((await call('GET', `/v1/vaults/${vault}`)).status).toBe(200);
  });
});

describe('routes and ids', () => {
  it('unknown routes are 404', async () => {
    expectError(await call('GET', '/v1/nothing'), 404, /no route/);
    expectError(await call('GET', '/nothing'), 404, /no route/);
    expectError(await call('GET', '/v1'), 404, /no route/);
    expectError(await call('GET', `/v1/vaults/${vault}/items/${item}/files/x/y/z`), 404, /no route/);
  });

  it('wrong methods are 405 with Allow', async () => {
    const r = await call('POST', '/v1/vaults');
    expectError(r, 405, /POST/);
    expect(r.headers.get('allow')).toContain('GET');
    const d = await call('DELETE', `/v1/vaults/${vault}`);
    expectError(d, 405, /DELETE/);
    const p = await call('POST', `/v1/vaults/${vault}/items/${item}`, {});
    expectError(p, 405, /POST/);
    expect(p.headers.get('allow')).toMatch(/PUT.*PATCH.*DELETE|GET/);
    expectError(await call('PUT', '/heartbeat'), 405, /PUT/);
  });

  it('invalid ids are 400 "Invalid ... UUID", as real Connect answers', async () => {
    expectError(await call('GET', '/v1/vaults/NOT-AN-ID'), 400, /^Invalid Vault UUID$/);
    expectError(await call('GET', `/v1/vaults/${vault.toUpperCase()}/items`), 400, /^Invalid Vault UUID$/);
    expectError(await call('GET', `/v1/vaults/${vault}/items/short`), 400, /^Invalid Item UUID$/);
    expectError(await call('GET', `/v1/vaults/${vault}/items/${item}/files/%E0%A4%A`), 400, /^Invalid File UUID$/);
    expectError(await call('DELETE', `/v1/vaults/${vault}/items/${'a'.repeat(27)}`), 400, /^Invalid Item UUID$/);
  });

  it('HEAD works wherever GET does', async () => {
    const r = await fetch(`${srv.url}/heartbeat`, { method: 'HEAD' });
    expect(r.status).toBe(200);
  });
});
