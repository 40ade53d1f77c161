// Real Connect's timing, switched on (docs/connect-fidelity.md rows 22-23): reads that see a write only after
// a delay, and overlapping writes to one vault refused. A write answered 2xx is never lost under either.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDuration, REALISTIC } from '../../src/server/realism.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { client } from './helpers.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
// Long enough that the checks right after a write run inside it on a loaded machine.
const DELAY = 1000;

describe('row 22: --consistency-delay', () => {
  let srv: TestServer;
  let call: ReturnType<typeof client>;
  let vault: string;
  beforeAll(async () => {
    srv = await startTestServer({ consistencyDelayMs: DELAY });
    call = client(srv.url, srv.token);
    vault = (await call('GET', '/v1/vaults')).body[0].id;
  });
  afterAll(() => srv.close());

  it('a new item is missing from GET, the list and title filters until the delay has passed', async () => {
    const created = await call('POST', `/v1/vaults/${vault}/items`, { title: 'fresh', category: 'SECURE_NOTE' });
    expect(created.status).toBe(200);
    const id = created.body.id;
    expect((await call('GET', `/v1/vaults/${vault}/items/${id}`)).status).toBe(404);
    expect((await call('GET', `/v1/vaults/${vault}/items`)).body.some((i: any) => i.id === id)).toBe(false);
    expect((await call('GET', `/v1/vaults/${vault}/items?filter=${encodeURIComponent('title eq "fresh"')}`)).body).toEqual([]);
    await sleep(DELAY + 100);
    expect((await call('GET', `/v1/vaults/${vault}/items/${id}`)).status).toBe(200);
    expect((await call('GET', `/v1/vaults/${vault}/items?filter=${encodeURIComponent('title eq "fresh"')}`)).body).toHaveLength(1);
  });

  it('an update is answered at once but read as the old version until the delay has passed', async () => {
    const { body: item } = await call('POST', `/v1/vaults/${vault}/items`, { title: 'v1', category: 'SECURE_NOTE' });
    await sleep(DELAY + 100);
    const put = await call('PUT', `/v1/vaults/${vault}/items/${item.id}`, { ...item, title: 'v2' });
    expect(put.status).toBe(200);
    const stale = (await call('GET', `/v1/vaults/${vault}/items/${item.id}`)).body;
    expect(stale).toMatchObject({ title: 'v1', version: 1 });
    await sleep(DELAY + 100);
    expect((await call('GET', `/v1/vaults/${vault}/items/${item.id}`)).body).toMatchObject({ title: 'v2', version: 2 });
  });

  it('writes act on the latest state: two PATCHes in a row both land (nothing answered 2xx is lost)', async () => {
    const { body: item } = await call('POST', `/v1/vaults/${vault}/items`, { title: 'p', category: 'SECURE_NOTE', tags: ['x'] });
    // The item is not readable yet, but it is writable: writes see the truth.
    const a = await call('PATCH', `/v1/vaults/${vault}/items/${item.id}`, [{ op: 'add', path: '/tags/-', value: 'a' }]);
    const b = await call('PATCH', `/v1/vaults/${vault}/items/${item.id}`, [{ op: 'add', path: '/tags/-', value: 'b' }]);
    expect([a.status, b.status]).toEqual([200, 200]);
    expect(b.body.tags).toEqual(['x', 'a', 'b']);
    await sleep(DELAY + 100);
    expect((await call('GET', `/v1/vaults/${vault}/items/${item.id}`)).body).toMatchObject({ tags: ['x', 'a', 'b'], version: 3 });
  });

  it('a deleted item is still read until the delay has passed, then gone', async () => {
    const { body: item } = await call('POST', `/v1/vaults/${vault}/items`, { title: 'gone', category: 'SECURE_NOTE' });
    await sleep(DELAY + 100);
    expect((await call('DELETE', `/v1/vaults/${vault}/items/${item.id}`)).status).toBe(204);
    expect((await call('GET', `/v1/vaults/${vault}/items/${item.id}`)).status).toBe(200);
    expect((await call('GET', `/v1/vaults/${vault}/items`)).body.some((i: any) => i.id === item.id)).toBe(true);
    await sleep(DELAY + 100);
    expect((await call('GET', `/v1/vaults/${vault}/items/${item.id}`)).status).toBe(404);
  });
});

describe('row 23: --conflicts', () => {
  let srv: TestServer;
  let call: ReturnType<typeof client>;
  let vault: string;
  beforeAll(async () => {
    srv = await startTestServer({ conflicts: true, writeHoldMs: 150 });
    call = client(srv.url, srv.token);
    vault = (await call('GET', '/v1/vaults')).body[0].id;
  });
  afterAll(() => srv.close());

  it('overlapping writes to one vault: one lands, the others get 409 Internal server conflict and change nothing', async () => {
    const answers = await Promise.all(
      [1, 2, 3, 4].map((n) => call('POST', `/v1/vaults/${vault}/items`, { title: `c${n}`, category: 'SECURE_NOTE' })),
    );
    const statuses = answers.map((a) => a.status).sort();
    expect(statuses).toEqual([200, 409, 409, 409]);
    for (const a of answers.filter((x) => x.status === 409)) expect(a.body).toEqual({ status: 409, message: 'Internal server conflict' });
    const titles = (await call('GET', `/v1/vaults/${vault}/items`)).body.map((i: any) => i.title);
    expect(titles).toEqual([answers.find((a) => a.status === 200)!.body.title]);
  });

  it('a conflicting DELETE gets 500 Something went wrong and deletes nothing; retried alone it succeeds', async () => {
    const { body: item } = await call('POST', `/v1/vaults/${vault}/items`, { title: 'del', category: 'SECURE_NOTE' });
    const [put, del] = await Promise.all([
      call('PUT', `/v1/vaults/${vault}/items/${item.id}`, { ...item, title: 'del2' }),
      sleep(20).then(() => call('DELETE', `/v1/vaults/${vault}/items/${item.id}`)),
    ]);
    expect(put.status).toBe(200);
    expect(del.body).toEqual({ status: 500, message: 'Something went wrong' });
    expect((await call('GET', `/v1/vaults/${vault}/items/${item.id}`)).status).toBe(200);
    expect((await call('DELETE', `/v1/vaults/${vault}/items/${item.id}`)).status).toBe(204);
  });

  it('writes one after another never conflict, and reads never do', async () => {
    for (const n of [1, 2, 3]) expect((await call('POST', `/v1/vaults/${vault}/items`, { title: `s${n}`, category: 'SECURE_NOTE' })).status).toBe(200);
    const write = call('POST', `/v1/vaults/${vault}/items`, { title: 'w', category: 'SECURE_NOTE' });
    const reads = await Promise.all([call('GET', `/v1/vaults/${vault}/items`), call('GET', `/v1/vaults/${vault}`)]);
    expect(reads.map((r) => r.status)).toEqual([200, 200]);
    expect((await write).status).toBe(200);
  });
});

describe('--realistic', () => {
  it('turns both on with the documented defaults: 1 s delay, conflicts with a 200 ms hold', async () => {
    expect(REALISTIC).toEqual({ consistencyDelayMs: 1000, conflicts: true, writeHoldMs: 200 });
    const srv = await startTestServer({ realistic: true });
    try {
      const call = client(srv.url, srv.token);
      const vault = (await call('GET', '/v1/vaults')).body[0].id;
      const [a, b] = await Promise.all([
        call('POST', `/v1/vaults/${vault}/items`, { title: 'a', category: 'SECURE_NOTE' }),
        call('POST', `/v1/vaults/${vault}/items`, { title: 'b', category: 'SECURE_NOTE' }),
      ]);
      expect([a.status, b.status].sort()).toEqual([200, 409]);
      const made = [a, b].find((x) => x.status === 200)!.body;
      expect((await call('GET', `/v1/vaults/${vault}/items/${made.id}`)).status).toBe(404);
    } finally {
      await srv.close();
    }
  });

  it('durations are given with a unit', () => {
    expect([parseDuration('500ms'), parseDuration('1s'), parseDuration('1.5s'), parseDuration('2m'), parseDuration('0')]).toEqual([500, 1000, 1500, 120000, 0]);
    expect(() => parseDuration('100')).toThrow(/not a duration/);
  });
});
