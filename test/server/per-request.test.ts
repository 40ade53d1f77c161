// What the per-request savings (issue 12) must not cost: activity entries are written in batches, yet every
// request is an entry that the next read of the log sees and that closing the store keeps; verified tokens are
// remembered, yet a token removed from the store (by this process or another one on the file) is refused at once.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import type { ApiRequest } from '../../src/connect/types.js';
import { DB_FILE } from '../../src/server/defaults.js';
import { openStore } from '../../src/server/index.js';
import { ACTIVITY_BATCH_MAX, Store } from '../../src/server/store.js';
import { hashToken, issueToken, verifyToken } from '../../src/server/tokens.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { client } from './helpers.js';

let srv: TestServer | undefined;
let dir: string | undefined;
afterEach(async () => {
  await srv?.close();
  srv = undefined;
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

const total = (range: string | null) => Number((range ?? '').split('/')[1]);

function entry(i: number): ApiRequest {
  return {
    requestId: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
    timestamp: new Date().toISOString(),
    action: 'READ',
    result: 'SUCCESS',
    actor: { id: 'a'.repeat(26), jti: 'j'.repeat(26), account: 'opsync', userAgent: 'test', requestIp: '127.0.0.1' },
    resource: { type: 'VAULT', vault: { id: 'v'.repeat(26) } },
  };
}

describe('activity in batches', () => {
  it('N concurrent requests are N entries, in the log read right after them', async () => {
    srv = await startTestServer();
    const call = client(srv.url, srv.token);
    const vault = (await call('GET', '/v1/vaults')).body[0].id as string;
    const created = await call('POST', `/v1/vaults/${vault}/items`, { title: 'one', category: 'LOGIN' });
    const before = total((await call('GET', '/v1/activity?limit=1')).headers.get('content-range'));
    const n = 300;
    const replies = await Promise.all(
      Array.from({ length: n }, (_, i) =>
        i % 3 === 0
          ? call('POST', `/v1/vaults/${vault}/items`, { title: `t${i}`, category: 'LOGIN' }, { 'User-Agent': `batch-${i}` })
          : call('GET', `/v1/vaults/${vault}/items/${created.body.id}`, undefined, { 'User-Agent': `batch-${i}` }),
      ),
    );
    expect(replies.every((r) => r.status === 200)).toBe(true);
    const page = await call('GET', '/v1/activity?limit=1000');
    expect(total(page.headers.get('content-range'))).toBe(before + n);
    const agents = (page.body as ApiRequest[]).map((e) => e.actor.userAgent).filter((a) => a.startsWith('batch-'));
    expect(new Set(agents).size).toBe(n);
    // Newest first, as before: the entries are written in the order they were made.
    const seqs = (page.body as ApiRequest[]).map((e) => e.timestamp);
    expect([...seqs].sort().reverse()).toEqual(seqs);
  });

  it('a store writes buffered entries on every read and when it closes', () => {
    dir = mkdtempSync(join(tmpdir(), 'opsync-activity-batch-'));
    const file = join(dir, 'opsync.db');
    const store = new Store(file);
    const other = new Store(file);
    try {
      const n = ACTIVITY_BATCH_MAX + 10;
      for (let i = 0; i < n; i++) store.addActivity(entry(i));
      // A full batch is written at once; another connection sees it without waiting for the event loop.
      expect(other.countActivity()).toBe(ACTIVITY_BATCH_MAX);
      expect(store.countActivity()).toBe(n);
      expect(store.listActivity(1, 0)[0].requestId).toBe(entry(n - 1).requestId);
      store.addActivity(entry(n));
      store.close();
      expect(other.countActivity()).toBe(n + 1);
    } finally {
      store.close();
      other.close();
    }
  });

  it('entries that cannot be written are reported, not thrown at the request', () => {
    const store = new Store(':memory:');
    const lost: number[] = [];
    store.onActivityError = (_err, n) => lost.push(n);
    try {
      store.addActivity(entry(1));
      // A write that fails (the table is gone) is reported with the entries it lost.
      (store as unknown as { db: Database.Database }).db.exec('DROP TABLE activity');
      expect(() => store.flushActivity()).not.toThrow();
      expect(lost).toEqual([1]);
    } finally {
      store.close();
    }
  });
});

describe('verified tokens remembered', () => {
  it('a token deleted from the store by another connection is refused at the next request', async () => {
    dir = mkdtempSync(join(tmpdir(), 'opsync-token-cache-'));
    srv = await startTestServer({ memory: false, dataDir: dir });
    // Another process's token (as `opsync server token create` makes while the server runs).
    const { store } = openStore({ dataDir: dir });
    const token = issueToken(store, { name: 'other' });
    store.close();
    const call = client(srv.url, token);
    expect((await call('GET', '/v1/vaults')).status).toBe(200);
    expect((await call('GET', '/v1/vaults')).status).toBe(200);
    const db = new Database(join(dir, DB_FILE));
    db.prepare('DELETE FROM tokens WHERE hash = ?').run(hashToken(token));
    db.close();
    expect((await call('GET', '/v1/vaults')).status).toBe(401);
    // The server's own token was remembered too, and is still good.
    expect((await client(srv.url, srv.token)('GET', '/v1/vaults')).status).toBe(200);
  });

  it('a change of the token row in this process forgets it too; a forged or unknown token is never remembered', () => {
    const store = new Store(':memory:');
    try {
      const token = issueToken(store, { name: 't' });
      const record = verifyToken(store, token)!;
      expect(record.name).toBe('t');
      expect(verifyToken(store, token)).toBe(record);
      expect(Object.isFrozen(record)).toBe(true);
      (store as unknown as { db: Database.Database }).db.prepare("UPDATE tokens SET name = 'renamed' WHERE hash = ?").run(hashToken(token));
      expect(verifyToken(store, token)!.name).toBe('renamed');
      const [h, p] = token.split('.');
      expect(verifyToken(store, `${h}.${p}.${'A'.repeat(43)}`)).toBeUndefined();
      expect(verifyToken(store, 'not-a-token')).toBeUndefined();
    } finally {
      store.close();
    }
  });
});
