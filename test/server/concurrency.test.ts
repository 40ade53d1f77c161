// Concurrent writes to one item never lose an update (issue 9, item 2): every write reads, checks and writes
// in one store transaction after its body has arrived, so versions strictly increase per committed write and
// list positions are never shared, in one server, across two stores on one file, and across two processes.
import { spawn, type ChildProcess } from 'node:child_process';
import { request } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Store } from '../../src/server/store.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { client } from './helpers.js';

interface Target {
  url: string;
  token: string;
}

/** One request whose body arrives in two parts, `delayMs` apart (as a slow client sends it). */
function slowRequest(t: Target, method: string, path: string, body: unknown, delayMs = 300): Promise<{ status: number; body: any }> {
  const text = Buffer.from(JSON.stringify(body));
  const half = Math.floor(text.length / 2);
  return new Promise((resolve, reject) => {
    const u = new URL(`${t.url}${path}`);
    const req = request(
      {
        host: u.hostname,
        port: u.port,
        path: u.pathname,
        method,
        agent: false,
        headers: { Authorization: `Bearer ${t.token}`, 'Content-Type': 'application/json', 'Content-Length': text.length },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) }));
      },
    );
    req.on('error', reject);
    req.write(text.subarray(0, half));
    setTimeout(() => req.end(text.subarray(half)), delayMs);
  });
}

const N = 40;
/** An item with a field and a tag, so that `/fields/-` and `/tags/-` can append. */
const BASE = { category: 'LOGIN', fields: [{ id: 'base', value: 'b' }], tags: ['base'] };
/** The LOGIN template's own fields, which real Connect adds, empty, to every login (docs/connect-fidelity.md row 11). */
const BUILT_INS = ['username', 'password', 'notesPlain'];
const sent = (fields: { id: string }[]) => fields.filter((f) => !BUILT_INS.includes(f.id));

function expectNoLostUpdate(answers: { status: number; body: any }[], final: any, startVersion: number) {
  expect(answers.map((a) => a.status)).toEqual(answers.map(() => 200));
  const versions = answers.map((a) => a.body.version as number);
  expect(new Set(versions).size).toBe(answers.length);
  expect(Math.min(...versions)).toBe(startVersion + 1);
  expect(Math.max(...versions)).toBe(startVersion + answers.length);
  expect(final.version).toBe(startVersion + answers.length);
}

describe('one server', () => {
  let srv: TestServer;
  let call: ReturnType<typeof client>;
  let vault: string;
  beforeAll(async () => {
    srv = await startTestServer();
    call = client(srv.url, srv.token);
    vault = (await call('GET', '/v1/vaults')).body[0].id;
    // Warm up (the schemas compile on first use): a stall there would let every body arrive before the
    // next request is even read, and the writers would run one after another instead of overlapping.
    const warm = (await call('POST', `/v1/vaults/${vault}/items`, { ...BASE, title: 'warm' })).body;
    await call('PATCH', `/v1/vaults/${vault}/items/${warm.id}`, [{ op: 'replace', path: '/title', value: 'w' }]);
    await call('PUT', `/v1/vaults/${vault}/items/${warm.id}`, { ...BASE, title: 'w' });
  });
  afterAll(() => srv.close());

  it(`${N} parallel slow-body PATCHes: distinct versions, final version 1 + ${N}, every change kept`, async () => {
    const item = (await call('POST', `/v1/vaults/${vault}/items`, { ...BASE, title: 'counter' })).body;
    const before = (await call('GET', `/v1/vaults/${vault}`)).body.contentVersion;
    const answers = await Promise.all(
      Array.from({ length: N }, (_, i) =>
        slowRequest(srv, 'PATCH', `/v1/vaults/${vault}/items/${item.id}`, [
          { op: 'add', path: '/fields/-', value: { id: `f${i}`, label: `f${i}`, value: `v${i}` } },
          { op: 'add', path: '/tags/-', value: `t${i}` },
        ]),
      ),
    );
    const final = (await call('GET', `/v1/vaults/${vault}/items/${item.id}`)).body;
    expectNoLostUpdate(answers, final, 1);
    expect(sent(final.fields).map((f: any) => f.id).sort()).toEqual(['base', ...Array.from({ length: N }, (_, i) => `f${i}`)].sort());
    expect([...final.tags].sort()).toEqual(['base', ...Array.from({ length: N }, (_, i) => `t${i}`)].sort());
    // Each answer shows its own write on top of the ones committed before it.
    for (const a of answers) expect(sent(a.body.fields)).toHaveLength(a.body.version);
    expect((await call('GET', `/v1/vaults/${vault}`)).body.contentVersion).toBe(before + N);
  });

  it(`${N} parallel slow-body PUTs: distinct versions, final version 1 + ${N}`, async () => {
    const item = (await call('POST', `/v1/vaults/${vault}/items`, { title: 'put', category: 'LOGIN' })).body;
    const answers = await Promise.all(
      Array.from({ length: N }, (_, i) =>
        slowRequest(srv, 'PUT', `/v1/vaults/${vault}/items/${item.id}`, { title: `put ${i}`, category: 'LOGIN', fields: [{ id: 'n', value: `${i}` }] }),
      ),
    );
    const final = (await call('GET', `/v1/vaults/${vault}/items/${item.id}`)).body;
    // Real Connect answers a PUT with the version the item had before it (row 21): each write's own is that + 1.
    const own = answers.map((a) => ({ ...a, body: { ...a.body, version: a.body.version + 1 } }));
    expectNoLostUpdate(own, final, 1);
    // The stored item is the write that got the last version.
    const last = own.find((a) => a.body.version === final.version)!;
    expect(final.title).toBe(last.body.title);
  });

  it('a write to an item deleted while its body was arriving is a 404, not a resurrection', async () => {
    const item = (await call('POST', `/v1/vaults/${vault}/items`, { title: 'doomed', category: 'LOGIN' })).body;
    const patch = slowRequest(srv, 'PATCH', `/v1/vaults/${vault}/items/${item.id}`, [{ op: 'replace', path: '/title', value: 'x' }], 150);
    await new Promise((r) => setTimeout(r, 40));
    expect((await call('DELETE', `/v1/vaults/${vault}/items/${item.id}`)).status).toBe(204);
    const r = await patch;
    expect(r).toEqual({ status: 404, body: { status: 404, message: 'Item not found' } });
    expect((await call('GET', `/v1/vaults/${vault}/items/${item.id}`)).status).toBe(404);
  });
});

describe('two stores on one file', () => {
  let dir: string;
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('take list positions and versions from the database, never from a counter of their own', () => {
    dir = mkdtempSync(join(tmpdir(), 'opsync-two-stores-'));
    const file = join(dir, 'opsync.db');
    const a = new Store(file);
    const b = new Store(file);
    try {
      const now = new Date().toISOString();
      a.insertVault({ id: 'v'.repeat(26), name: 'V', type: 'USER_CREATED', now });
      const item = (i: number) => ({ id: `${String(i).padStart(26, 'i')}`, title: `t${i}`, vault: { id: 'v'.repeat(26) }, category: 'LOGIN' as const, version: 1, createdAt: now, updatedAt: now });
      for (let i = 0; i < 30; i++) (i % 2 ? a : b).insertItem(item(i));
      const listed = a.listItems('v'.repeat(26)).map((x) => x.title);
      expect(listed).toEqual(Array.from({ length: 30 }, (_, i) => `t${i}`));
      for (let i = 0; i < 20; i++) {
        (i % 2 ? a : b).updateItem('v'.repeat(26), item(0).id, (cur) => ({ ...cur, version: cur.version + 1, tags: [...(cur.tags ?? []), `x${i}`] }));
      }
      const final = b.getItem('v'.repeat(26), item(0).id)!;
      expect(final.version).toBe(21);
      expect(final.tags).toHaveLength(20);
      expect(a.getVault('v'.repeat(26))!.contentVersion).toBe(1 + 30 + 20);
    } finally {
      a.close();
      b.close();
    }
  });
});

describe('two server processes on one data folder', () => {
  let dir: string;
  let local: TestServer;
  let child: ChildProcess;
  let other: Target;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'opsync-two-servers-'));
    local = await startTestServer({ memory: false, dataDir: dir });
    child = spawn(process.execPath, ['--import', './test/server/support/ts-register.mjs', 'test/server/support/server-child.ts', dir], {
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    other = await new Promise<Target>((resolve, reject) => {
      child.once('error', reject);
      child.once('exit', (code) => reject(new Error(`server child exited with ${code}`)));
      createInterface({ input: child.stdout! }).once('line', (line) => resolve(JSON.parse(line) as Target));
    });
  });
  afterAll(async () => {
    child?.stdin?.end();
    if (child && child.exitCode === null) await new Promise((r) => child.once('exit', r));
    await local?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('slow-body PATCHes split between them lose nothing; creates split between them get distinct list positions', async () => {
    const call = client(local.url, local.token);
    const vault = (await call('GET', '/v1/vaults')).body[0].id;
    const item = (await call('POST', `/v1/vaults/${vault}/items`, { ...BASE, title: 'shared' })).body;
    for (const t of [local, other]) await client(t.url, t.token)('PATCH', `/v1/vaults/${vault}/items/${item.id}`, []); // warm up
    const start = (await call('GET', `/v1/vaults/${vault}/items/${item.id}`)).body.version;
    const answers = await Promise.all(
      Array.from({ length: N }, (_, i) =>
        slowRequest(i % 2 ? local : other, 'PATCH', `/v1/vaults/${vault}/items/${item.id}`, [
          { op: 'add', path: '/fields/-', value: { id: `f${i}`, value: `v${i}` } },
        ]),
      ),
    );
    const final = (await call('GET', `/v1/vaults/${vault}/items/${item.id}`)).body;
    expectNoLostUpdate(answers, final, start);
    expect(sent(final.fields)).toHaveLength(N + 1);

    const created = await Promise.all(
      Array.from({ length: N }, (_, i) => slowRequest(i % 2 ? local : other, 'POST', `/v1/vaults/${vault}/items`, { title: `c${i}`, category: 'LOGIN' }, 20)),
    );
    expect(created.every((c) => c.status === 200)).toBe(true);
    const fromLocal = (await call('GET', `/v1/vaults/${vault}/items`)).body.map((x: any) => x.id);
    const fromOther = (await client(other.url, other.token)('GET', `/v1/vaults/${vault}/items`)).body.map((x: any) => x.id);
    expect(fromLocal).toHaveLength(N + 1);
    expect(new Set(fromLocal).size).toBe(N + 1);
    // Both see one order: positions come from the shared file, so none is shared or shuffled.
    expect(fromOther).toEqual(fromLocal);
  });
});
