// Files (seeded, since Connect has no upload), /heartbeat, /health and /metrics.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../support/server.js';
import { client, ID } from './helpers.js';

let srv: TestServer;
let call: ReturnType<typeof client>;
let vault: string;
let item: any;
const binary = Buffer.from([0, 1, 2, 250, 255, 10, 13]);

beforeAll(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'opsync-files-'));
  const seed = join(dir, 'seed.json');
  writeFileSync(
    seed,
    JSON.stringify({
      vaults: [
        {
          name: 'files',
          description: 'with attachments',
          items: [
            {
              title: 'certs',
              category: 'DOCUMENT',
              sections: [{ id: 'tls', label: 'TLS' }],
              files: [
                { name: 'readme.txt', content: 'héllo\n' },
                { name: 'blob.bin', contentBase64: binary.toString('base64'), section: { id: 'tls' } },
              ],
            },
          ],
        },
      ],
    }),
  );
  srv = await startTestServer({ seedFiles: [seed] });
  call = client(srv.url, srv.token);
  vault = (await call('GET', '/v1/vaults')).body[0].id;
  const summary = (await call('GET', `/v1/vaults/${vault}/items`)).body[0];
  item = (await call('GET', `/v1/vaults/${vault}/items/${summary.id}`)).body;
});
afterAll(() => srv.close());

describe('files', () => {
  it('GET item includes its files', () => {
    expect(item.files).toHaveLength(2);
    expect(item.files[0]).toEqual({
      id: expect.stringMatching(ID),
      name: 'readme.txt',
      size: Buffer.byteLength('héllo\n'),
      content_path: `/v1/vaults/${vault}/items/${item.id}/files/${item.files[0].id}/content`,
    });
    expect(item.files[1]).toMatchObject({ name: 'blob.bin', size: binary.length, section: { id: 'tls' } });
    expect(item.files[0]).not.toHaveProperty('content');
  });

  it('lists files, with base64 content only when inline_files=true', async () => {
    const base = `/v1/vaults/${vault}/items/${item.id}/files`;
    const plain = await call('GET', base);
    expect(plain.status).toBe(200);
    expect(plain.body).toEqual(item.files);
    const inline = await call('GET', `${base}?inline_files=true`);
    expect(Buffer.from(inline.body[1].content, 'base64')).toEqual(binary);
    expect(Buffer.from(inline.body[0].content, 'base64').toString()).toBe('héllo\n');
  });

  it('gets one file, inline or not', async () => {
    const f = item.files[1];
    const base = `/v1/vaults/${vault}/items/${item.id}/files/${f.id}`;
    expect((await call('GET', base)).body).toEqual(f);
    expect((await call('GET', `${base}?inline_files=true`)).body.content).toBe(binary.toString('base64'));
  });

  it('returns raw content as application/octet-stream with a correct length', async () => {
    const f = item.files[1];
    const res = await fetch(`${srv.url}${f.content_path}`, { headers: { Authorization: `Bearer ${srv.token}` } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/octet-stream');
    expect(res.headers.get('content-length')).toBe(String(binary.length));
    expect(Buffer.from(await res.arrayBuffer())).toEqual(binary);
  });

  it('unknown files are 404; files of another item are not reachable', async () => {
    const r = await call('GET', `/v1/vaults/${vault}/items/${item.id}/files/aaaaaaaaaaaaaaaaaaaaaaaaaa`);
    expect(r.body).toEqual({ status: 404, message: 'File not found' });
    const other = (await call('POST', `/v1/vaults/${vault}/items`, { title: 'o', category: 'LOGIN' })).body;
    const cross = await call('GET', `/v1/vaults/${vault}/items/${other.id}/files/${item.files[0].id}/content`);
    expect(cross.status).toBe(404);
    expect((await call('GET', `/v1/vaults/${vault}/items/${other.id}/files`)).body).toEqual([]);
  });

  it('files survive PUT and PATCH and go with DELETE', async () => {
    const put = await call('PUT', `/v1/vaults/${vault}/items/${item.id}`, { ...item, title: 'certs2' });
    expect(put.body.files).toEqual(item.files);
    const patched = await call('PATCH', `/v1/vaults/${vault}/items/${item.id}`, [{ op: 'replace', path: '/title', value: 'certs3' }]);
    expect(patched.body.files).toEqual(item.files);
    expect((await call('DELETE', `/v1/vaults/${vault}/items/${item.id}`)).status).toBe(204);
    expect((await call('GET', `/v1/vaults/${vault}/items/${item.id}/files`)).status).toBe(404);
  });
});

describe('health and metrics', () => {
  it('heartbeat is "." as text/plain', async () => {
    const r = await fetch(`${srv.url}/heartbeat`);
    expect(r.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(await r.text()).toBe('.');
  });

  // Real Connect's shape (ledger row 34): its name, the Connect version spoken, its four dependencies.
  it('health answers as real Connect: its name, the Connect version and ACTIVE dependencies', async () => {
    const r = await client(srv.url)('GET', '/health');
    expect(r.body).toEqual({
      name: '1Password Connect API',
      version: '1.8.1',
      dependencies: [
        { service: 'sqlite', status: 'ACTIVE', message: expect.any(String) },
        { service: 'account_data', status: 'ACTIVE' },
        { service: 'sync', status: 'ACTIVE' },
        { service: '1Password', status: 'ACTIVE' },
      ],
    });
  });

  it('metrics are Prometheus text with request counts, latency by route and status, store size and process metrics', async () => {
    await call('GET', `/v1/vaults/${vault}`);
    await call('GET', '/v1/vaults/bad');
    const r = await fetch(`${srv.url}/metrics`);
    expect(r.headers.get('content-type')).toMatch(/^text\/plain/);
    const text = await r.text();
    expect(text).toMatch(/opsync_http_requests_total\{method="GET",route="\/v1\/vaults\/:vault",status="200"\} \d+/);
    expect(text).toMatch(/opsync_http_requests_total\{method="GET",route="\/v1\/vaults\/:vault",status="400"\} \d+/);
    expect(text).toMatch(/opsync_http_request_duration_seconds_bucket\{le="0\.1",method="GET",route="\/v1\/vaults\/:vault",status="200"\}/);
    expect(text).toMatch(/opsync_store_size_bytes \d+/);
    expect(text).toMatch(/opsync_process_resident_memory_bytes \d+/);
  });
});
