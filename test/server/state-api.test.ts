// Remote state over Terraform's http backend protocol (issue 15), against a real server over HTTP: documents,
// locks in both layouts (LOCK/UNLOCK and GitLab's POST/DELETE .../lock), the strict write rules, kept
// versions, and auth (Bearer and Basic, state grants apart from vault grants).
import { createHash, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { registerServerCommand } from '../../src/server/command.js';
import { openStore, startServer } from '../../src/server/index.js';
import { issueToken } from '../../src/server/tokens.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { client } from './helpers.js';

let srv: TestServer;
let token: string;
let call: ReturnType<typeof client>;

beforeAll(async () => {
  srv = await startTestServer({ stateVersions: 3 });
  token = srv.stateToken();
  call = client(srv.url, token);
});
afterAll(async () => {
  await srv.close();
});

function state(lineage: string, serial: number, resources: Record<string, unknown> = {}) {
  return { version: 2, lineage, serial, resources, pending: {} };
}

function lockInfo(id = randomUUID()) {
  return { ID: id, Operation: 'OperationTypeApply', Info: '', Who: 'ci@runner', Version: '0.1.0', Created: new Date().toISOString(), Path: '' };
}

let n = 0;
/** A fresh state name per test: the tests share one server. */
function fresh(): string {
  n += 1;
  return `s${n}-${randomUUID().slice(0, 8)}`;
}

/** Locks `name` and writes `doc` under the lock; returns the lock id (still held). */
async function lockAndWrite(name: string, doc: unknown): Promise<string> {
  const info = lockInfo();
  expect((await call('LOCK', `/state/${name}`, info)).status).toBe(200);
  const w = await call('POST', `/state/${name}?ID=${info.ID}`, doc);
  expect(w.status, w.text).toBe(200);
  return info.ID;
}

/** A raw request (node:http), for methods and bodies fetch will not send as they are. */
function raw(method: string, path: string, body: Buffer | string | undefined, headers: Record<string, string> = {}): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const u = new URL(srv.url + path);
    const req = request({ host: u.hostname, port: u.port, path: u.pathname + u.search, method, headers: { Authorization: `Bearer ${token}`, ...headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('documents', () => {
  it('404 with a JSON error when there is no state', async () => {
    const r = await call('GET', `/state/${fresh()}`);
    expect(r.status).toBe(404);
    expect(r.body).toMatchObject({ status: 404 });
  });

  it('round trip: the document as written, with its Content-MD5', async () => {
    const name = fresh();
    const lineage = randomUUID();
    const text = `${JSON.stringify(state(lineage, 1), null, 2)}\n`;
    const info = lockInfo();
    await call('LOCK', `/state/${name}`, info);
    const md5 = createHash('md5').update(text).digest('base64');
    const w = await call('POST', `/state/${name}?ID=${info.ID}`, text, { 'Content-MD5': md5 });
    expect(w.status).toBe(200);
    expect(w.body).toMatchObject({ name, serial: 1, lineage, size: Buffer.byteLength(text) });
    const r = await call('GET', `/state/${name}`);
    expect(r.status).toBe(200);
    expect(r.text).toBe(text);
    expect(r.headers.get('content-md5')).toBe(md5);
    expect((await call('UNLOCK', `/state/${name}`, info)).status).toBe(200);
  });

  it('a Content-MD5 that does not match the body is 400', async () => {
    const name = fresh();
    const info = lockInfo();
    await call('LOCK', `/state/${name}`, info);
    const w = await call('POST', `/state/${name}?ID=${info.ID}`, state(randomUUID(), 1), { 'Content-MD5': 'AAAAAAAAAAAAAAAAAAAAAA==' });
    expect(w.status).toBe(400);
    expect(w.body.message).toMatch(/Content-MD5/);
  });

  it('delete under the lock; the state is gone and a second delete says deleted: false', async () => {
    const name = fresh();
    const id = await lockAndWrite(name, state(randomUUID(), 1));
    expect((await call('DELETE', `/state/${name}`)).status).toBe(409);
    const d = await call('DELETE', `/state/${name}?ID=${id}`);
    expect(d.status).toBe(200);
    expect(d.body).toEqual({ name, deleted: true });
    expect((await call('GET', `/state/${name}`)).status).toBe(404);
    expect((await call('DELETE', `/state/${name}?ID=${id}`)).body).toEqual({ name, deleted: false });
    // After a delete, any lineage may start again.
    expect((await call('POST', `/state/${name}?ID=${id}`, state(randomUUID(), 0))).status).toBe(200);
  });

  it('GET /state lists the states the token may use', async () => {
    const name = fresh();
    await lockAndWrite(name, state(randomUUID(), 4));
    const all = await call('GET', '/state');
    expect(all.status).toBe(200);
    expect(all.body.find((s: { name: string }) => s.name === name)).toMatchObject({ name, serial: 4, locked: true });
    const only = client(srv.url, srv.stateToken(['nope']));
    expect((await only('GET', '/state')).body).toEqual([]);
  });
});

describe('locks', () => {
  it('LOCK when free stores it (200, the LockInfo); when held 423 with the holder', async () => {
    const name = fresh();
    const a = { ...lockInfo(), Extra: 'kept as sent' };
    const first = await call('LOCK', `/state/${name}`, a);
    expect(first.status).toBe(200);
    expect(first.body).toEqual(a);
    const b = lockInfo();
    const second = await call('LOCK', `/state/${name}`, b);
    expect(second.status).toBe(423);
    expect(second.body).toEqual(a);
    // Even under the same id: a lock is not re-entrant.
    expect((await call('LOCK', `/state/${name}`, a)).status).toBe(423);
  });

  it('UNLOCK with another id is 409 with the holder; with the holder id (body or ?ID=) 200', async () => {
    const name = fresh();
    const a = lockInfo();
    await call('LOCK', `/state/${name}`, a);
    const wrong = await call('UNLOCK', `/state/${name}`, lockInfo());
    expect(wrong.status).toBe(409);
    expect(wrong.body).toEqual(a);
    expect((await call('UNLOCK', `/state/${name}`)).status).toBe(409); // no id at all
    // Force-unlock: the same UNLOCK with the holder's id, whoever sends it (here only in the query).
    const ok = await call('UNLOCK', `/state/${name}?ID=${a.ID}`);
    expect(ok.status).toBe(200);
    expect(ok.body).toEqual(a);
    const again = await call('UNLOCK', `/state/${name}`, a);
    expect(again.status).toBe(409);
    expect(again.body).toMatchObject({ status: 409, reason: 'not_locked' });
    expect((await call('LOCK', `/state/${name}`, lockInfo())).status).toBe(200);
  });

  it("GitLab's layout (POST/DELETE /state/NAME/lock) is the same lock", async () => {
    const name = fresh();
    const a = lockInfo();
    expect((await call('POST', `/state/${name}/lock`, a)).status).toBe(200);
    const held = await call('LOCK', `/state/${name}`, lockInfo());
    expect(held.status).toBe(423);
    expect(held.body.ID).toBe(a.ID);
    expect((await call('POST', `/state/${name}/lock`, lockInfo())).status).toBe(423);
    expect((await call('POST', `/state/${name}?ID=${a.ID}`, state(randomUUID(), 1))).status).toBe(200);
    expect((await call('DELETE', `/state/${name}/lock`, lockInfo())).status).toBe(409);
    expect((await call('DELETE', `/state/${name}/lock?ID=${a.ID}`)).status).toBe(200);
    expect((await call('LOCK', `/state/${name}`, lockInfo())).status).toBe(200);
  });

  it('refuses lock bodies without an ID or with non-string fields (400)', async () => {
    const name = fresh();
    for (const body of ['', '{}', '[]', 'null', '{"ID": 7}', '{"ID": ""}', '{"ID": "a b"}', '{"ID": "x", "Who": 3}', '{"ID": "x"']) {
      const r = await raw('LOCK', `/state/${name}`, body, { 'Content-Type': 'application/json' });
      expect(r.status, body).toBe(400);
    }
  });
});

describe('writes are strict', () => {
  it('a write without the lock is 409 not_locked; with no or a wrong ID while held, 409 with the holder', async () => {
    const name = fresh();
    const doc = state(randomUUID(), 1);
    const free = await call('POST', `/state/${name}`, doc);
    expect(free.status).toBe(409);
    expect(free.body).toMatchObject({ status: 409, reason: 'not_locked' });
    const a = lockInfo();
    await call('LOCK', `/state/${name}`, a);
    for (const q of ['', `?ID=${randomUUID()}`]) {
      const r = await call('POST', `/state/${name}${q}`, doc);
      expect(r.status).toBe(409);
      expect(r.body).toEqual(a);
    }
    expect((await call('GET', `/state/${name}`)).status).toBe(404);
  });

  it('another lineage or a serial not above the stored one is 409, unless force=true', async () => {
    const name = fresh();
    const lineage = randomUUID();
    const id = await lockAndWrite(name, state(lineage, 5));
    const other = await call('POST', `/state/${name}?ID=${id}`, state(randomUUID(), 6));
    expect(other.status).toBe(409);
    expect(other.body.reason).toBe('lineage');
    for (const serial of [5, 4]) {
      const r = await call('POST', `/state/${name}?ID=${id}`, state(lineage, serial));
      expect(r.status).toBe(409);
      expect(r.body.reason).toBe('serial');
    }
    expect((await call('GET', `/state/${name}`)).body.serial).toBe(5);
    const forced = await call('POST', `/state/${name}?ID=${id}&force=true`, state(randomUUID(), 1));
    expect(forced.status).toBe(200);
    expect((await call('GET', `/state/${name}`)).body.serial).toBe(1);
    // force skips the lineage and serial checks, never the lock.
    expect((await call('POST', `/state/${name}?force=true`, state(lineage, 9))).status).toBe(409);
    expect((await call('POST', `/state/${name}?ID=${id}&force=yes`, state(lineage, 9))).status).toBe(400);
    expect((await call('POST', `/state/${name}?ID=${id}`, state(lineage, 6))).status).toBe(409);
  });

  it('a body that is not an opsync state is 400 with one line that does not quote it', async () => {
    const name = fresh();
    const info = lockInfo();
    await call('LOCK', `/state/${name}`, info);
    const secret = 'hunter2-SECRET-value';
    const bodies = [
      '',
      `not json ${secret}`,
      `{"version": 2, "lineage": "${secret}`,
      `["${secret}"]`,
      JSON.stringify({ version: `${secret}`, lineage: 'l', serial: 1, resources: {}, pending: {} }),
      JSON.stringify({ version: 99, lineage: 'l', serial: 1, resources: {}, pending: {} }),
      JSON.stringify({ ...state('l', 1), password: secret }),
      JSON.stringify({ ...state('l', -1) }),
      JSON.stringify(state('l', 1, { 'a.b': { address: 'a.b', vaultId: 'v', vaultName: 'n', itemId: 'i', title: 't', category: 'LOGIN', version: 1, digest: 'd', updatedAt: 'x', fields: { password: secret } } })),
      JSON.stringify({ version: 4, serial: 0, lineage: randomUUID(), terraform_version: '1.9.0', resources: [] }),
      '['.repeat(100_000),
    ];
    for (const body of bodies) {
      const r = await call('POST', `/state/${name}?ID=${info.ID}`, body);
      expect(r.status, body.slice(0, 60)).toBe(400);
      expect(r.body.message).not.toContain(secret);
      expect(r.body.message).not.toContain('\n');
      expect(r.body.message.length).toBeLessThanOrEqual(400);
    }
    expect((await call('GET', `/state/${name}`)).status).toBe(404);
  });

  it('a document larger than the limit is 413', async () => {
    const small = await startTestServer({ maxStateBytes: 1024 });
    try {
      const c = client(small.url, small.stateToken(['big']));
      const info = lockInfo();
      await c('LOCK', '/state/big', info);
      const r = await c('POST', `/state/big?ID=${info.ID}`, JSON.stringify(state(randomUUID(), 1, {})) + ' '.repeat(2000));
      expect(r.status).toBe(413);
    } finally {
      await small.close();
    }
  });
});

describe('versions', () => {
  it('keeps the last N (3 here) and lists them newest first, without documents', async () => {
    const name = fresh();
    const lineage = randomUUID();
    const info = lockInfo();
    await call('LOCK', `/state/${name}`, info);
    for (let serial = 1; serial <= 5; serial++) {
      expect((await call('POST', `/state/${name}?ID=${info.ID}`, state(lineage, serial))).status).toBe(200);
    }
    const list = await call('GET', `/state/${name}/versions`);
    expect(list.status).toBe(200);
    expect(list.body.map((v: { serial: number }) => v.serial)).toEqual([5, 4, 3]);
    expect(Object.keys(list.body[0]).sort()).toEqual(['current', 'lineage', 'serial', 'size', 'updated']);
    expect(list.body[0]).toMatchObject({ lineage, current: true });
    expect(list.body[1].current).toBe(false);
    const v4 = await call('GET', `/state/${name}/versions/4`);
    expect(v4.status).toBe(200);
    expect(v4.body).toEqual(state(lineage, 4));
    expect((await call('GET', `/state/${name}/versions/1`)).status).toBe(404);
    expect((await call('GET', `/state/${name}/versions/x`)).status).toBe(400);
    expect((await call('GET', `/state/${fresh()}/versions`)).body).toEqual([]);
  });
});

describe('auth', () => {
  it('HTTP Basic with the token as password (user ignored), as Terraform sends it', async () => {
    const name = fresh();
    const basic = `Basic ${Buffer.from(`anyone:${token}`).toString('base64')}`;
    const c = client(srv.url);
    const info = lockInfo();
    expect((await c('LOCK', `/state/${name}`, info, { Authorization: basic })).status).toBe(200);
    expect((await c('POST', `/state/${name}?ID=${info.ID}`, state(randomUUID(), 1), { Authorization: basic })).status).toBe(200);
    expect((await c('GET', `/state/${name}`, undefined, { Authorization: basic })).status).toBe(200);
    const wrong = `Basic ${Buffer.from(`${token}:nope`).toString('base64')}`;
    expect((await c('GET', `/state/${name}`, undefined, { Authorization: wrong })).status).toBe(401);
  });

  it('401 without or with an invalid token; 403 for a Connect token or another state', async () => {
    const name = fresh();
    const anon = await client(srv.url)('GET', `/state/${name}`);
    expect(anon.status).toBe(401);
    expect(anon.headers.get('www-authenticate')).toMatch(/^Basic /);
    expect((await client(srv.url, 'a.b.c')('GET', `/state/${name}`)).status).toBe(401);
    // The full-access Connect token has no state grant.
    const connect = client(srv.url, srv.token);
    expect((await connect('GET', `/state/${name}`)).status).toBe(403);
    expect((await connect('LOCK', `/state/${name}`, lockInfo())).status).toBe(403);
    expect((await connect('GET', '/state')).status).toBe(403);
    const other = client(srv.url, srv.stateToken(['other']));
    expect((await other('GET', `/state/${name}`)).status).toBe(403);
    expect((await other('GET', '/state/other')).status).toBe(404);
  });

  it('a state token reaches no vault', async () => {
    const c = client(srv.url, token);
    const vaults = await c('GET', '/v1/vaults');
    expect(vaults.status).toBe(200);
    expect(vaults.body).toEqual([]);
    const full = await client(srv.url, srv.token)('GET', '/v1/vaults');
    const vault = (full.body as { id: string }[])[0].id;
    expect((await c('GET', `/v1/vaults/${vault}/items`)).status).toBe(403);
  });
});

describe('tokens on disk', () => {
  it('a store made before state grants gets the column; its tokens keep their meaning', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'opsync-state-migrate-'));
    try {
      const { store } = openStore({ dataDir: dir });
      const old = issueToken(store, { name: 'old' });
      store.close();
      const db = new Database(join(dir, 'opsync.db'));
      db.exec('ALTER TABLE tokens DROP COLUMN states');
      db.close();
      const server = await startServer({ dataDir: dir, host: '127.0.0.1', port: 0, quiet: true });
      try {
        const c = client(server.url, old);
        expect((await c('GET', '/v1/vaults')).status).toBe(200);
        expect((await c('GET', '/state/x')).status).toBe(403);
        expect((await client(server.url, server.stateToken(['x']))('GET', '/state/x')).status).toBe(404);
      } finally {
        await server.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('opsync server token create --state NAME prints a token for that state and no vault', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'opsync-state-token-'));
    const create = async (args: string[]) => {
      const program = new Command().exitOverride();
      registerServerCommand(program);
      let out = '';
      const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => ((out += String(chunk)), true));
      const err = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
      try {
        await program.parseAsync(['node', 'opsync', 'server', 'token', 'create', '--data', dir, ...args]);
        return { ok: true, out };
      } catch {
        return { ok: false, out };
      } finally {
        spy.mockRestore();
        err.mockRestore();
      }
    };
    try {
      const made = await create(['--name', 'ci', '--state', 'prod', '--state', 'staging']);
      expect(made.ok).toBe(true);
      expect(made.out).toMatch(/^\S+\n$/);
      expect((await create(['--state', 'bad/name'])).ok).toBe(false);
      const server = await startServer({ dataDir: dir, host: '127.0.0.1', port: 0, quiet: true });
      try {
        const c = client(server.url, made.out.trim());
        expect((await c('GET', '/state/prod')).status).toBe(404);
        expect((await c('GET', '/state/staging')).status).toBe(404);
        expect((await c('GET', '/state/other')).status).toBe(403);
        expect((await c('GET', '/v1/vaults')).body).toEqual([]);
      } finally {
        await server.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('no 500 on garbage', () => {
  it('odd names, methods, queries, headers and bodies get 4xx', async () => {
    const name = fresh();
    const cases: [string, string, string | undefined, Record<string, string>?][] = [
      ['GET', '/state/..', undefined],
      ['GET', '/state/%2e%2e%2fx', undefined],
      ['GET', '/state/%ZZ', undefined],
      ['GET', `/state/${'a'.repeat(200)}`, undefined],
      ['GET', '/state/a/b/c/d', undefined],
      ['PUT', `/state/${name}`, '{}'],
      ['PATCH', `/state/${name}/lock`, '{}'],
      ['LOCK', `/state/${name}/versions`, '{}'],
      ['POST', `/state/${name}?ID=${'x'.repeat(300)}`, '{}'],
      ['POST', `/state/${name}?ID=a%20b`, '{}'],
      ['UNLOCK', `/state/${name}?ID=a`, '{"ID":"b"}'],
      ['UNLOCK', `/state/${name}`, '\u0000\u0001'],
      ['LOCK', `/state/${name}`, '{"ID":"x"}', { 'Content-MD5': '%%%' }],
      ['GET', `/state/${name}/versions/99999999999999999999`, undefined],
      ['GET', `/state/${name}`, undefined, { Authorization: 'Basic !!!' }],
      ['GET', `/state/${name}`, undefined, { Authorization: 'Basic ' + Buffer.from('no-colon').toString('base64') }],
      ['GET', `/state/${name}`, undefined, { Authorization: 'Digest x' }],
    ];
    for (const [method, path, body, headers] of cases) {
      const r = await raw(method, path, body, headers);
      expect(r.status, `${method} ${path}`).toBeGreaterThanOrEqual(400);
      expect(r.status, `${method} ${path}`).toBeLessThan(500);
    }
  });

  it('random bytes as a state or a lock body are 4xx', async () => {
    const name = fresh();
    const info = lockInfo();
    await call('LOCK', `/state/${name}`, info);
    let seed = 7;
    const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    for (let i = 0; i < 40; i++) {
      const len = Math.floor(rand() * 300);
      const bytes = Buffer.from(Array.from({ length: len }, () => Math.floor(rand() * 256)));
      // Some mutations of a valid document, some plain noise.
      const valid = Buffer.from(JSON.stringify(state('l', i + 1)));
      const body = i % 2 ? bytes : Buffer.concat([valid.subarray(0, Math.floor(rand() * valid.length)), bytes.subarray(0, 5)]);
      const w = await raw('POST', `/state/${name}?ID=${info.ID}`, body);
      expect(w.status).toBeLessThan(500);
      const l = await raw('LOCK', `/state/${fresh()}`, bytes);
      expect(l.status).toBeLessThan(500);
    }
  });
});
