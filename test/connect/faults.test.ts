// The Connect client through a fault-injecting proxy in front of a real opsync server: retries, resets,
// timeouts, ambiguity of writes, the concurrency bound and keep-alive. Counts and order only, no timings.
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ConnectClient, ConnectError, filterEq, type ConnectClientOptions, type RetryEvent } from '../../src/connect/client.js';
import type { ItemInput } from '../../src/connect/types.js';
import { startFaultProxy, type FaultProxy } from '../support/faultProxy.js';
import { startTestServer, type TestServer } from '../support/server.js';

const SECRET = 'sk-live-0123456789-do-not-print';
const ITEMS_PATH = /^\/v1\/vaults\/[a-z0-9]{26}\/items$/;

let server: TestServer;
let proxy: FaultProxy;
let vaultId: string;
let direct: ConnectClient;
const clients: ConnectClient[] = [];

function connect(opts: Partial<ConnectClientOptions> = {}): { client: ConnectClient; retries: RetryEvent[] } {
  const retries: RetryEvent[] = [];
  const client = new ConnectClient({
    host: proxy.url,
    token: server.token,
    backoffBaseMs: 1,
    backoffMaxMs: 50,
    onRetry: (e) => retries.push(e),
    ...opts,
  });
  clients.push(client);
  return { client, retries };
}

async function caught(p: Promise<unknown>): Promise<ConnectError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(ConnectError);
    return err as ConnectError;
  }
  throw new Error('expected a ConnectError');
}

const itemInput = (title: string): ItemInput => ({
  title,
  category: 'API_CREDENTIAL',
  fields: [{ id: 'credential', label: 'credential', type: 'CONCEALED', value: SECRET }],
});

/** How many items with this title the server holds (asked directly, not through the proxy). */
async function countTitled(title: string): Promise<number> {
  return (await direct.listItems(vaultId, filterEq('title', title))).length;
}

beforeAll(async () => {
  server = await startTestServer();
  proxy = await startFaultProxy(server.url);
  direct = new ConnectClient({ host: server.url, token: server.token });
  vaultId = (await direct.findVault('Private'))!.id;
});

beforeEach(() => {
  proxy.clear();
  proxy.resetCounters();
});

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
});

afterAll(async () => {
  await direct?.close();
  await proxy?.close();
  await server?.close();
});

describe('retries on answers', () => {
  it('retries 503, 500, 502 and 504 on a GET until it succeeds', async () => {
    const { client, retries } = connect();
    for (const status of [503, 500, 502, 504]) proxy.inject({ method: 'GET', path: '/v1/vaults', status });
    const vaults = await client.listVaults();
    expect(vaults.map((v) => v.name)).toContain('Private');
    expect(proxy.seen.map((r) => r.fault ?? 'forwarded')).toEqual([
      'status 503',
      'status 500',
      'status 502',
      'status 504',
      'forwarded',
    ]);
    expect(client.stats).toMatchObject({ total: 5, retries: 4 });
    expect(retries.map((r) => [r.attempt, r.reason])).toEqual([
      [2, '503'],
      [3, '500'],
      [4, '502'],
      [5, '504'],
    ]);
  });

  it('honours Retry-After on 429, in seconds and as an HTTP-date, capped', async () => {
    const { client, retries } = connect({ backoffMaxMs: 1_500 });
    proxy.inject({ path: '/v1/vaults', status: 429, headers: { 'retry-after': '1' } });
    proxy.inject({ path: '/v1/vaults', status: 429, headers: { 'retry-after': new Date(Date.now() - 60_000).toUTCString() } });
    proxy.inject({ path: '/v1/vaults', status: 429, headers: { 'retry-after': '3600' } });
    await client.listVaults();
    expect(proxy.seen).toHaveLength(4);
    expect(retries.map((r) => [r.reason, r.retryAfterMs, r.delayMs])).toEqual([
      ['429', 1000, 1000],
      ['429', 0, 0],
      ['429', 3_600_000, 1_500 /* the cap, not an hour */],
    ]);
  }, 20_000);

  it('gives up after the configured retries with the last answer', async () => {
    const { client } = connect({ retries: 2 });
    proxy.inject({ path: ITEMS_PATH, status: 503, times: Infinity, body: '{"status":503,"message":"sync in progress"}' });
    const err = await caught(client.listItems(vaultId));
    expect(err).toMatchObject({ status: 503, connectMessage: 'sync in progress', retryable: true, ambiguous: false, attempts: 3 });
    expect(err.message).toBe(`Connect answered 503 for GET /v1/vaults/${vaultId}/items: sync in progress (after 3 attempts)`);
    expect(proxy.seen).toHaveLength(3);
    expect(client.stats).toMatchObject({ total: 3, retries: 2 });
  });

  it('retries a POST on 429 and 503 (not processed) and creates the item once', async () => {
    const { client } = connect();
    proxy.inject({ method: 'POST', status: 429 });
    proxy.inject({ method: 'POST', status: 503 });
    const item = await client.createItem(vaultId, itemInput('post-after-503'));
    expect(proxy.seen.map((r) => r.fault ?? 'forwarded')).toEqual(['status 429', 'status 503', 'forwarded']);
    expect(await countTitled('post-after-503')).toBe(1);
    await direct.deleteItem(vaultId, item.id);
  });

  it('retries writes answered 409 (a conflict: nothing applied), more times than other failures, and halves the vault\'s write limit', async () => {
    const { client, retries } = connect({ retries: 2, concurrency: 8 });
    proxy.inject({ method: 'POST', status: 409, times: 5 });
    const item = await client.createItem(vaultId, itemInput('post-after-409'));
    expect(proxy.seen.map((r) => r.fault ?? 'forwarded')).toEqual([...Array(5).fill('status 409'), 'forwarded']);
    expect(retries.every((r) => r.reason === '409')).toBe(true);
    expect(await countTitled('post-after-409')).toBe(1);
    expect(client.vaultWriteLimit(vaultId)).toBe(2); // 8 -> 4 -> 2 -> 1 -> 1 -> 1, then one success: 2
    proxy.inject({ method: 'DELETE', status: 409, times: 1 });
    await client.deleteItem(vaultId, item.id);
    expect(await countTitled('post-after-409')).toBe(0);
  });

  it('does not resend a POST answered 502: it may have been applied', async () => {
    const { client } = connect();
    proxy.inject({ method: 'POST', status: 502, times: Infinity });
    const err = await caught(client.createItem(vaultId, itemInput('post-502')));
    expect(err).toMatchObject({ status: 502, ambiguous: true, retryable: true, attempts: 1 });
    expect(err.message).toMatch(/may have been applied/);
    expect(proxy.seen).toHaveLength(1);
  });

  it('never retries other 4xx, and surfaces Connect\'s message', async () => {
    const { client } = connect();
    const err = await caught(client.getItem(vaultId, 'c'.repeat(26)));
    expect(err.status).toBe(404);
    expect(err.connectMessage).toBeTruthy();
    expect(err.retryable).toBe(false);
    expect(proxy.seen).toHaveLength(1);

    proxy.inject({ path: '/v1/vaults', status: 403, body: '{"status":403,"message":"Authorization: token does not have access to vault"}' });
    const forbidden = await caught(client.listVaults());
    expect(forbidden.message).toBe('Connect answered 403 for GET /v1/vaults: Authorization: token does not have access to vault');
    expect(proxy.seen).toHaveLength(2);
  });

  it('copes with error bodies that are not JSON', async () => {
    const { client } = connect({ retries: 1 });
    proxy.inject({ path: '/v1/vaults', status: 502, times: 2, headers: { 'content-type': 'text/html' }, body: '<html><body>Bad Gateway</body></html>' });
    const err = await caught(client.listVaults());
    expect(err.status).toBe(502);
    expect(err.connectMessage).toBeUndefined();
    expect(err.message).toBe('Connect answered 502 for GET /v1/vaults: Bad Gateway (after 2 attempts)');

    proxy.inject({ path: '/v1/vaults', status: 400, headers: { 'content-type': 'text/plain' }, body: 'bad request: nope' });
    expect((await caught(client.listVaults())).message).toBe('Connect answered 400 for GET /v1/vaults: bad request: nope');

    proxy.inject({ path: '/v1/vaults', status: 200, headers: { 'content-type': 'application/json' }, body: '{"truncated":' });
    const garbled = await caught(client.listVaults());
    expect(garbled.message).toBe('Connect answered 200 for GET /v1/vaults: the answer is not JSON');
    expect(garbled.retryable).toBe(false);
  });
});

describe('resets and timeouts', () => {
  it('retries a GET whose connection was reset, before or after Connect answered', async () => {
    const { client, retries } = connect();
    proxy.inject({ method: 'GET', reset: 'before' });
    proxy.inject({ method: 'GET', reset: 'after' });
    const vault = await client.getVault(vaultId);
    expect(vault.id).toBe(vaultId);
    expect(proxy.seen.map((r) => r.fault ?? 'forwarded')).toEqual(['reset before', 'reset after', 'forwarded']);
    expect(retries).toHaveLength(2);
  });

  it('does not resend a POST whose connection was reset: ambiguous, and created at most once', async () => {
    const { client } = connect();
    proxy.inject({ method: 'POST', reset: 'after' });
    const err = await caught(client.createItem(vaultId, itemInput('post-reset')));
    expect(err).toMatchObject({ ambiguous: true, retryable: true, attempts: 1 });
    expect(err.status).toBeUndefined();
    expect(err.message).toMatch(
      new RegExp(`^lost the connection to Connect at ${proxy.url} during POST /v1/vaults/${vaultId}/items: .+; the request may have been applied$`),
    );
    expect(proxy.seen.filter((r) => r.method === 'POST')).toHaveLength(1);
    // It was applied: exactly one item, not two.
    expect(await countTitled('post-reset')).toBe(1);
  });

  it('does not resend a PATCH whose connection was reset', async () => {
    const { client } = connect();
    const item = await direct.createItem(vaultId, itemInput('patch-reset'));
    proxy.inject({ method: 'PATCH', reset: 'before' });
    const err = await caught(client.patchItem(vaultId, item.id, [{ op: 'replace', path: '/title', value: 'patched' }]));
    expect(err).toMatchObject({ ambiguous: true, operation: 'PATCH /v1/vaults/{vault}/items/{item}' });
    expect(proxy.seen).toHaveLength(1);
    expect((await direct.getItem(vaultId, item.id)).version).toBe(item.version);
  });

  it('retries a PUT after a reset (replacing twice is replacing once)', async () => {
    const { client } = connect();
    const item = await direct.createItem(vaultId, itemInput('put-reset'));
    proxy.inject({ method: 'PUT', reset: 'after' });
    const replaced = await client.replaceItem(vaultId, item.id, { ...itemInput('put-reset'), tags: ['replaced'] });
    expect(replaced.tags).toEqual(['replaced']);
    expect(proxy.seen.map((r) => r.method)).toEqual(['PUT', 'PUT']);
    expect(await countTitled('put-reset')).toBe(1);
  });

  it('counts a retried DELETE that finds the item gone as done', async () => {
    const { client } = connect();
    const item = await direct.createItem(vaultId, itemInput('delete-reset'));
    proxy.inject({ method: 'DELETE', reset: 'after' });
    await client.deleteItem(vaultId, item.id);
    expect(proxy.seen.map((r) => r.method)).toEqual(['DELETE', 'DELETE']);
    expect(await countTitled('delete-reset')).toBe(0);
    // A plain 404 on a first attempt is still an error.
    expect((await caught(client.deleteItem(vaultId, item.id))).status).toBe(404);
  });

  it('times out a slow GET and retries it', async () => {
    const { client, retries } = connect({ timeoutMs: 1_000 });
    proxy.inject({ method: 'GET', path: '/v1/vaults', delayMs: 5_000 });
    const vaults = await client.listVaults();
    expect(vaults.length).toBeGreaterThan(0);
    expect(retries.map((r) => r.reason)).toEqual(['TIMEOUT']);
    expect(proxy.seen).toHaveLength(2);
  });

  it('gives up on a GET that keeps timing out', async () => {
    const { client } = connect({ timeoutMs: 200, retries: 1 });
    proxy.inject({ method: 'GET', path: '/v1/vaults', delayMs: 5_000, times: Infinity });
    const err = await caught(client.listVaults());
    expect(err).toMatchObject({ code: 'TIMEOUT', attempts: 2, ambiguous: false, retryable: true });
    expect(err.message).toBe(`Connect at ${proxy.url} did not answer GET /v1/vaults within 200 ms (after 2 attempts)`);
  });

  it('times out an answer whose body stalls after its headers: a GET is retried, a POST is ambiguous', async () => {
    const { client, retries } = connect({ timeoutMs: 300 });
    proxy.inject({ method: 'GET', path: '/v1/vaults', stallBody: true });
    const t0 = Date.now();
    expect((await client.listVaults()).length).toBeGreaterThan(0);
    expect(retries.map((r) => r.reason)).toEqual(['TIMEOUT']);
    expect(Date.now() - t0).toBeLessThan(3_000);
    proxy.inject({ method: 'POST', stallBody: true });
    const err = await caught(client.createItem(vaultId, itemInput('post-stall')));
    expect(err).toMatchObject({ code: 'TIMEOUT', ambiguous: true, attempts: 1 });
    expect(err.message).toMatch(/did not answer POST .* within 300 ms; the request may have been applied/);
  });

  it('does not resend a POST that timed out: ambiguous', async () => {
    const { client } = connect({ timeoutMs: 200 });
    proxy.inject({ method: 'POST', delayMs: 1_000 });
    const err = await caught(client.createItem(vaultId, itemInput('post-timeout')));
    expect(err).toMatchObject({ code: 'TIMEOUT', ambiguous: true, attempts: 1 });
    expect(proxy.seen).toHaveLength(1);
  });
});

describe('secrets', () => {
  it('scrubs the token and request values that Connect echoes back in an error', async () => {
    const { client } = connect({ retries: 0 });
    proxy.inject({
      method: 'POST',
      status: 400,
      body: JSON.stringify({ status: 400, message: `value "${SECRET}" rejected for token ${server.token}` }),
    });
    const err = await caught(client.createItem(vaultId, itemInput('echo')));
    const shown = `${err.message}\n${err.connectMessage}\n${JSON.stringify(err)}`;
    expect(shown).not.toContain(SECRET);
    expect(shown).not.toContain(server.token);
    expect(err.connectMessage).toBe('value "(redacted)" rejected for token (redacted)');
  });
});

describe('connections', () => {
  it('keeps at most `concurrency` requests in flight and queues the rest', async () => {
    const { client } = connect({ concurrency: 3 });
    proxy.inject({ method: 'GET', delayMs: 20, times: Infinity });
    const results = await Promise.all(Array.from({ length: 24 }, () => client.getVault(vaultId)));
    expect(results).toHaveLength(24);
    expect(proxy.seen).toHaveLength(24);
    expect(proxy.maxInFlight).toBeLessThanOrEqual(3);
    expect(proxy.maxInFlight).toBeGreaterThan(1);
    expect(proxy.connections).toBeLessThanOrEqual(3);
  });

  it('reuses connections (keep-alive): far fewer connections than requests', async () => {
    const { client } = connect({ concurrency: 4 });
    for (let i = 0; i < 40; i++) await client.listVaults();
    await Promise.all(Array.from({ length: 40 }, () => client.listItems(vaultId)));
    expect(proxy.seen).toHaveLength(80);
    expect(proxy.connections).toBeLessThanOrEqual(4);
  });

  it('opens a connection per request with keep-alive off', async () => {
    const { client } = connect({ keepAlive: false });
    for (let i = 0; i < 10; i++) await client.listVaults();
    expect(proxy.connections).toBe(10);
  });
});
