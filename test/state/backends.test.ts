// Every state backend against the one contract (test/state/contract.ts).

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { HttpBackend, type HttpSettings } from '../../src/state/backends/http.js';
import { LocalBackend } from '../../src/state/backends/local.js';
import { PostgresBackend } from '../../src/state/backends/postgres.js';
import { startGitlabState } from '../support/gitlabState.js';
import { freshSchema, postgresTarget } from '../support/postgres.js';
import { startTestServer } from '../support/server.js';
import { backendContract } from './contract.js';

/** Short waits: the contract makes hundreds of requests and provokes failures on purpose. */
const FAST: Partial<HttpSettings> = { retryWaitMinMs: 5, retryWaitMaxMs: 20 };
/** Nothing listens on port 1: refused at once. */
const CLOSED = 'http://127.0.0.1:1';

backendContract('local', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'opsync-contract-'));
  const path = join(dir, '.opsync/state.json');
  return { backend: () => new LocalBackend(path), cleanup: async () => rmSync(dir, { recursive: true, force: true }) };
});

backendContract('http (opsync server)', async ({ secret }) => {
  const srv = await startTestServer();
  const token = srv.stateToken(['contract']);
  const address = `${srv.url}/state/contract`;
  const settings = (over: Partial<HttpSettings> = {}): HttpSettings => ({ address, lockAddress: address, username: 'opsync', password: token, ...FAST, ...over });
  return {
    backend: () => new HttpBackend(settings()),
    cleanup: () => srv.close(),
    // The server refuses a write or delete made without holding the lock (/tmp/opsync-coord/server.md).
    writesNeedLock: true,
    secrets: [token, srv.token],
    broken: () => [
      new HttpBackend(settings({ password: secret, retryMax: 0 })),
      new HttpBackend(settings({ address: `${CLOSED}/state/contract`, lockAddress: `${CLOSED}/state/contract`, retryMax: 0 })),
      new HttpBackend({ address: `http://opsync:${encodeURIComponent(secret)}@127.0.0.1:1/state/contract`, lockAddress: `${CLOSED}/state/contract`, retryMax: 0 }),
    ],
  };
});

backendContract('http (GitLab layout)', async ({ secret }) => {
  const gitlab = await startGitlabState({ username: 'ci-bot', password: secret });
  const settings = (over: Partial<HttpSettings> = {}): HttpSettings => ({
    address: gitlab.address('contract'),
    lockAddress: gitlab.lockAddress('contract'),
    lockMethod: 'POST',
    unlockMethod: 'DELETE',
    username: 'ci-bot',
    password: secret,
    ...FAST,
    ...over,
  });
  return {
    backend: () => new HttpBackend(settings()),
    cleanup: () => gitlab.close(),
    // GitLab's lock answer names the holder by its id, GitLab user name and time only.
    keepsHolderInfo: false,
    broken: () => [
      new HttpBackend(settings({ password: `${secret}-not-it`, retryMax: 0 })),
      new HttpBackend(settings({ address: `${CLOSED}/api/v4/projects/1/terraform/state/contract`, lockAddress: `${CLOSED}/api/v4/projects/1/terraform/state/contract/lock`, retryMax: 0 })),
    ],
  };
});

backendContract('postgres', async ({ secret }) => {
  const target = await postgresTarget();
  if (!target.url) return { skip: target.reason ?? 'no PostgreSQL server' };
  const url = target.url;
  // A schema per store: the cases never meet each other's rows (nor postgres.test.ts's).
  const schemaName = freshSchema('contract');
  const withAuth = (user: string, host?: string) => {
    const u = new URL(url);
    u.username = user;
    u.password = secret;
    if (host) u.host = host;
    return u.toString();
  };
  return {
    backend: () => new PostgresBackend({ connStr: url, schemaName, name: 'contract' }),
    cleanup: async () => {
      const c = new pg.Client({ connectionString: url });
      await c.connect();
      try {
        await c.query(`DROP SCHEMA IF EXISTS ${pg.escapeIdentifier(schemaName)} CASCADE`);
      } finally {
        await c.end();
      }
    },
    broken: () => [
      new PostgresBackend({ connStr: withAuth('opsync', '127.0.0.1:1'), schemaName, name: 'contract' }),
      // The throwaway cluster makes this role log in with a password: `secret` is not it (whoever set one).
      ...(target.passwordRole ? [new PostgresBackend({ connStr: withAuth(target.passwordRole), schemaName, name: 'contract' })] : []),
    ],
  };
});
