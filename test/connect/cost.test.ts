// The request counter (src/connect/cost.ts) and write pacing (src/connect/pacing.ts): the counter's kinds and
// sums, and, through a fault proxy in front of a real server, that the client counts every request sent, its
// retries among them and apart, by kind, as the proxy saw them; the token bucket with an injected clock (no
// test sleeps for real), and the client taking a token before each write attempt and none before a read.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ConnectClient } from '../../src/connect/client.js';
import { costSince, RequestCounter, requestKind, type RequestKind } from '../../src/connect/cost.js';
import { aboutDuration, formatPace, pacedDurationMs, TokenBucket, type PacingClock, type WritePacer } from '../../src/connect/pacing.js';
import type { ItemInput } from '../../src/connect/types.js';
import { requestsJson, requestsLine } from '../../src/ui/requests.js';
import { startFaultProxy, type FaultProxy } from '../support/faultProxy.js';
import { startTestServer, type TestServer } from '../support/server.js';

/**
 * A clock that moves only when told to; its sleep records the wait and resolves at once (no timer runs), moving
 * the clock on by it when `advance` (one taker at a time), not when takers ask together (each waits from now).
 */
function fakeClock(advance = true): PacingClock & { t: number; sleeps: number[] } {
  const c = {
    t: 1000,
    sleeps: [] as number[],
    now: () => c.t,
    sleep: async (ms: number) => {
      c.sleeps.push(ms);
      if (advance) c.t += ms;
    },
  };
  return c;
}

describe('RequestCounter', () => {
  it('names each request the client sends by kind', () => {
    const cases: [string, string, RequestKind][] = [
      ['GET', '/v1/vaults', 'list_vaults'],
      ['GET', '/v1/vaults/{vault}', 'get_vault'],
      ['GET', '/v1/vaults/{vault}/items', 'list_items'],
      ['GET', '/v1/vaults/{vault}/items/{item}', 'get_item'],
      ['POST', '/v1/vaults/{vault}/items', 'create'],
      ['PUT', '/v1/vaults/{vault}/items/{item}', 'update'],
      ['PATCH', '/v1/vaults/{vault}/items/{item}', 'patch'],
      ['DELETE', '/v1/vaults/{vault}/items/{item}', 'delete'],
      ['GET', '/v1/vaults/{vault}/items/{item}/files/{file}/content', 'get_file_content'],
      ['GET', '/heartbeat', 'health'],
      ['POST', '/somewhere/else', 'other'],
    ];
    for (const [method, template, kind] of cases) expect(requestKind(method, template), `${method} ${template}`).toBe(kind);
  });

  it('sums reads, writes and retries, by kind, and copies on snapshot', () => {
    const c = new RequestCounter();
    c.record('GET', '/v1/vaults', false);
    c.record('GET', '/v1/vaults/{vault}/items/{item}', false);
    c.record('GET', '/v1/vaults/{vault}/items/{item}', true);
    c.record('POST', '/v1/vaults/{vault}/items', false);
    c.record('POST', '/v1/vaults/{vault}/items', true);
    c.record('PATCH', '/v1/vaults/{vault}/items/{item}', false);
    const first = c.snapshot();
    expect(first).toEqual({
      total: 6,
      reads: 3,
      writes: 3,
      retries: 2,
      byKind: { list_vaults: 1, get_item: 2, create: 2, patch: 1 },
      retriesByKind: { get_item: 1, create: 1 },
    });
    c.record('DELETE', '/v1/vaults/{vault}/items/{item}', false);
    expect(first.writes).toBe(3); // a snapshot never moves
    expect(costSince(c.snapshot(), first)).toEqual({ total: 1, reads: 0, writes: 1, retries: 0, byKind: { delete: 1 }, retriesByKind: {} });
    c.reset();
    expect(c.snapshot().total).toBe(0);
  });

  it('renders as one line and as JSON with every kind', () => {
    const c = new RequestCounter();
    c.record('GET', '/v1/vaults', false);
    c.record('GET', '/v1/vaults/{vault}/items', false);
    c.record('GET', '/v1/vaults/{vault}/items', true);
    c.record('PUT', '/v1/vaults/{vault}/items/{item}', false);
    expect(requestsLine(c.snapshot())).toBe(
      'Connect requests: 3 reads (1 list vaults, 2 list items), 1 write (1 update (PUT)); 1 retry included (1 list items).',
    );
    expect(requestsLine(new RequestCounter().snapshot())).toBe('Connect requests: no requests.');
    const json = requestsJson(c.snapshot());
    expect(json).toMatchObject({ total: 4, reads: 3, writes: 1, retries: 1, retries_by_kind: { list_items: 1 } });
    expect(json.by_kind).toMatchObject({ list_vaults: 1, list_items: 2, update: 1, create: 0, delete: 0, get_item: 0 });
  });
});

describe('TokenBucket', () => {
  it('lets the first write go at once, then spaces them at the pace, in the order they asked', async () => {
    const clock = fakeClock(false);
    const bucket = new TokenBucket(4, 1, clock); // one every 250 ms
    // Five takers at once: each reserves the next turn before it sleeps.
    await Promise.all([0, 1, 2, 3, 4].map(() => bucket.take()));
    expect(clock.sleeps).toEqual([250, 500, 750, 1000]);
    expect(bucket.waitMs()).toBe(1250); // a sixth now would wait behind them
    clock.t += 1250;
    expect(bucket.waitMs()).toBe(0);
  });

  it('refills while idle, never past its capacity', async () => {
    const clock = fakeClock();
    const bucket = new TokenBucket(1, 2, clock);
    await bucket.take();
    await bucket.take();
    expect(clock.sleeps).toEqual([]); // a burst of two
    await bucket.take();
    expect(clock.sleeps).toEqual([1000]);
    clock.t += 60_000; // a minute idle refills two, not sixty
    await bucket.take();
    await bucket.take();
    await bucket.take();
    expect(clock.sleeps).toEqual([1000, 1000]);
  });

  it('paces an hourly budget: 1,200 an hour is one every 3 s, an hour for 1,201', async () => {
    const clock = fakeClock();
    const bucket = new TokenBucket(1200 / 3600, 1, clock);
    for (let i = 0; i < 1201; i++) await bucket.take();
    expect(clock.t - 1000).toBeCloseTo(3_600_000, 3);
    expect(pacedDurationMs(1201, 1200 / 3600)).toBeCloseTo(3_600_000, 3);
    expect(formatPace(1200 / 3600)).toBe('0.33/s');
    expect(formatPace(5)).toBe('5/s');
    expect(aboutDuration(3_600_000)).toBe('about 1 h');
    expect(aboutDuration(4_320_000)).toBe('about 1 h 12 min');
    expect(aboutDuration(12_400)).toBe('about 12 s');
    expect(aboutDuration(300)).toBe('under a second');
  });

  it('refuses a pace that is not a positive number', () => {
    expect(() => new TokenBucket(0)).toThrow(RangeError);
    expect(() => new TokenBucket(Number.NaN)).toThrow(RangeError);
  });
});

describe('the client, through a fault proxy', () => {
  let server: TestServer;
  let proxy: FaultProxy;
  let vaultId: string;
  const clients: ConnectClient[] = [];
  const connect = () => {
    const c = new ConnectClient({ host: proxy.url, token: server.token, backoffBaseMs: 1, backoffMaxMs: 20 });
    clients.push(c);
    return c;
  };
  const item = (title: string): ItemInput => ({ title, category: 'LOGIN', fields: [{ id: 'username', label: 'username', type: 'STRING', purpose: 'USERNAME', value: 'u' }] });

  beforeAll(async () => {
    server = await startTestServer();
    proxy = await startFaultProxy(server.url);
    const direct = new ConnectClient({ host: server.url, token: server.token });
    vaultId = (await direct.findVault('Private'))!.id;
    await direct.close();
  });
  afterEach(async () => {
    proxy.clear();
    proxy.resetCounters();
    await Promise.all(clients.splice(0).map((c) => c.close()));
  });
  afterAll(async () => {
    await proxy?.close();
    await server?.close();
  });

  it('counts every request sent, retries included and apart, by kind, as the proxy saw them', async () => {
    const client = connect();
    proxy.inject({ method: 'GET', path: '/v1/vaults', status: 503, times: 2 });
    proxy.inject({ method: 'POST', status: 429 });
    await client.listVaults();
    const created = await client.createItem(vaultId, item('counted'));
    await client.getItem(vaultId, created.id);
    await client.patchItem(vaultId, created.id, [{ op: 'replace', path: '/title', value: 'counted again' }]);
    await client.deleteItem(vaultId, created.id);
    const seen = proxy.seen.map((r) => `${r.method} ${r.path.replace(/[a-z0-9]{26}/g, 'ID')}`);
    expect(seen).toEqual([
      'GET /v1/vaults',
      'GET /v1/vaults',
      'GET /v1/vaults',
      'POST /v1/vaults/ID/items',
      'POST /v1/vaults/ID/items',
      'GET /v1/vaults/ID/items/ID',
      'PATCH /v1/vaults/ID/items/ID',
      'DELETE /v1/vaults/ID/items/ID',
    ]);
    expect(client.cost).toEqual({
      total: 8,
      reads: 4,
      writes: 4,
      retries: 3,
      byKind: { list_vaults: 3, create: 2, get_item: 1, patch: 1, delete: 1 },
      retriesByKind: { list_vaults: 2, create: 1 },
    });
  });

  it('does not count a request that never reached Connect', async () => {
    const dead = new ConnectClient({ host: 'http://127.0.0.1:1', token: 'x', retries: 1, backoffBaseMs: 1 });
    clients.push(dead);
    await expect(dead.listVaults()).rejects.toThrow();
    expect(dead.stats.total).toBe(2); // attempts
    expect(dead.cost.total).toBe(0); // requests sent
  });

  it('takes a token before every write attempt, retries included, and none before a read', async () => {
    const client = connect();
    let takes = 0;
    const pacer: WritePacer = { take: async () => void takes++ };
    client.paceWrites(pacer);
    proxy.inject({ method: 'POST', status: 503 });
    await client.listVaults();
    const created = await client.createItem(vaultId, item('paced'));
    await client.getItem(vaultId, created.id);
    await client.deleteItem(vaultId, created.id);
    expect(takes).toBe(3); // the create twice (503, retried) and the delete
    client.paceWrites(undefined);
    await client.listItems(vaultId);
    expect(takes).toBe(3);
  });

  it('keeps reads going while writes wait for their turn', async () => {
    const client = connect();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    client.paceWrites({ take: () => gate });
    const write = client.createItem(vaultId, item('held'));
    await client.listVaults(); // not held behind the write
    await client.listItems(vaultId);
    expect(proxy.seen.map((r) => r.method)).toEqual(['GET', 'GET']);
    release();
    const created = await write;
    expect(proxy.seen.map((r) => r.method)).toEqual(['GET', 'GET', 'POST']);
    client.paceWrites(undefined);
    await client.deleteItem(vaultId, created.id);
  });
});
