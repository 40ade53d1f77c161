// Remote states (issue 15) under racing and killed applies, the CLI run as real processes, for the http
// backend on opsync server's /state and for PostgreSQL (skipped, saying why, when there is none):
//  - two applies started at the same moment: without --lock-timeout one wins and the other names it; with
//    --lock-timeout both succeed and the second finds nothing to do;
//  - kill -9 mid-apply at several moments, then a plain apply (no force-unlock) takes over the dead holder's
//    lock (same host, dead pid) and converges, creating nothing twice; so does an apply already waiting
//    with --lock-timeout when the holder is killed;
//  - a holder on another host is never taken over, even with a pid that is dead here;
//  - (http) a state write whose answer is lost is retried without failing the run.
// Every check counts items by title on the Connect server, reads the final state from the remote, and ends
// with a plan --detailed-exitcode that must find nothing to do.

import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import pg from 'pg';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConnectClient } from '../../src/connect/client.js';
import { PostgresBackend } from '../../src/state/backends/postgres.js';
import type { StateFile } from '../../src/state/types.js';
import { startFaultProxy, type FaultProxy } from '../support/faultProxy.js';
import { freshSchema, postgresTarget } from '../support/postgres.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { runCli, spawnCli, tempProject, type CliResult } from './cli.js';

const pgTarget = await postgresTarget();
if (!pgTarget.url) console.warn(`remote-race postgres cases skipped: ${pgTarget.reason}`);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const CREATE = /^\/v1\/vaults\/[^/]+\/items$/;

/** Who holds a remote state's lock, as far as the check needs: its lock id and pid. */
interface Held {
  id: string;
  pid?: number;
  host?: string;
}

/** One remote backend as the tests see it. */
interface Remote {
  /** opsync.yaml for state `name` on this backend. */
  config(name: string): string;
  /** The CLI's environment for the backend's secrets. */
  env(): Record<string, string>;
  read(name: string): Promise<StateFile | undefined>;
  /** The lock's holder now, or undefined when it is free (looking takes nothing). */
  holder(name: string): Promise<Held | undefined>;
  /** Lock `name` as an opsync of another host would; release() unlocks it under its id (failing if it is gone). */
  lockAsOtherHost(name: string, pid: number): Promise<{ id: string; release(): Promise<void> }>;
  close(): Promise<void>;
}

function httpRemote(srv: TestServer): Remote {
  const token = srv.stateToken();
  const auth = { authorization: `Bearer ${token}` };
  const url = (name: string) => `${srv.url}/state/${name}`;
  const lockInfo = (id: string, who: string, info: object) =>
    JSON.stringify({ ID: id, Operation: 'opsync apply', Info: JSON.stringify(info), Who: who, Version: '0.1.0', Created: new Date().toISOString(), Path: '' });
  const unlock = async (name: string, id: string): Promise<number> =>
    (await fetch(`${url(name)}?ID=${encodeURIComponent(id)}`, { method: 'UNLOCK', headers: auth, body: JSON.stringify({ ID: id }) })).status;
  return {
    config: (name) => `backend:\n  type: http\n  address: ${url(name)}\n  lock_address: ${url(name)}\n  username: opsync\n`,
    env: () => ({ OPSYNC_HTTP_PASSWORD: token }),
    async read(name) {
      const r = await fetch(url(name), { headers: auth });
      if (r.status === 404) return undefined;
      expect(r.status).toBe(200);
      return JSON.parse(await r.text()) as StateFile;
    },
    async holder(name) {
      // A LOCK under an id of our own: 423 answers the holder's LockInfo; 200 means it was free (given back).
      const probe = `probe-${randomUUID()}`;
      const r = await fetch(url(name), { method: 'LOCK', headers: auth, body: lockInfo(probe, 'probe', {}) });
      const body = (await r.json()) as { ID: string; Info?: string };
      if (r.status === 200) {
        expect(await unlock(name, probe)).toBe(200);
        return undefined;
      }
      expect(r.status).toBe(423);
      const info = body.Info ? (JSON.parse(body.Info) as { pid?: number; host?: string }) : {};
      return { id: body.ID, ...(info.pid !== undefined ? { pid: info.pid } : {}), ...(info.host ? { host: info.host } : {}) };
    },
    async lockAsOtherHost(name, pid) {
      const id = randomUUID();
      const r = await fetch(url(name), { method: 'LOCK', headers: auth, body: lockInfo(id, 'ci@other-host', { host: 'other-host', pid }) });
      expect(r.status).toBe(200);
      return {
        id,
        release: async () => {
          expect(await unlock(name, id)).toBe(200);
        },
      };
    },
    close: async () => undefined,
  };
}

function postgresRemote(connStr: string): Remote {
  const schemaName = freshSchema('race');
  const others: PostgresBackend[] = [];
  const sql = async <R extends pg.QueryResultRow>(text: string, values: unknown[] = []): Promise<R[]> => {
    const c = new pg.Client({ connectionString: connStr });
    await c.connect();
    try {
      return (await c.query<R>(text, values)).rows;
    } catch (err) {
      if ((err as { code?: string }).code === '42P01') return []; // no tables yet
      throw err;
    } finally {
      await c.end();
    }
  };
  return {
    // A lease far longer than the tests: a dead holder's lease is taken over because it is dead, never because it ran out.
    config: (name) => `backend:\n  type: postgres\n  schema_name: ${schemaName}\n  name: ${name}\n  lease_seconds: 600\n`,
    env: () => ({ OPSYNC_PG_CONN_STR: connStr }),
    async read(name) {
      const rows = await sql<{ document: string }>(`SELECT document FROM ${schemaName}.states WHERE name = $1`, [name]);
      return rows[0] ? (JSON.parse(rows[0].document) as StateFile) : undefined;
    },
    async holder(name) {
      const rows = await sql<{ lock_id: string; holder: { pid?: number; host?: string }; live: boolean }>(
        `SELECT lock_id, holder, expires > now() AS live FROM ${schemaName}.leases WHERE name = $1`,
        [name],
      );
      const row = rows[0];
      if (!row?.live) return undefined;
      return { id: row.lock_id, ...(row.holder.pid !== undefined ? { pid: row.holder.pid } : {}), ...(row.holder.host ? { host: row.holder.host } : {}) };
    },
    async lockAsOtherHost(name, pid) {
      const b = new PostgresBackend({ connStr, schemaName, name });
      others.push(b);
      const held = await b.lock({ who: 'ci@other-host', host: 'other-host', pid, command: 'opsync apply', created: new Date().toISOString() });
      return { id: held.id, release: () => b.unlock(held.id) };
    },
    async close() {
      await Promise.all(others.splice(0).map((b) => b.close()));
      await sql(`DROP SCHEMA IF EXISTS ${pg.escapeIdentifier(schemaName)} CASCADE`);
    },
  };
}

const manifest = (n: number, prefix: string) =>
  `vault: Private\nitems:\n${Array.from({ length: n }, (_, i) => `  item${i}:\n    title: ${prefix} ${i}\n    category: LOGIN\n    fields:\n      username: user${i}\n      password: { purpose: PASSWORD, generate: true }\n`).join('')}`;

/** A pid that is certainly dead on this host: a process that has just exited. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' });
  await new Promise((r) => child.on('exit', r));
  return child.pid!;
}

const backends: { name: string; skip?: string; make: (srv: TestServer) => Remote }[] = [
  { name: 'http (opsync server)', make: (srv) => httpRemote(srv) },
  { name: 'postgres', ...(pgTarget.url ? {} : { skip: pgTarget.reason ?? 'no PostgreSQL server' }), make: () => postgresRemote(pgTarget.url!) },
];

for (const b of backends) {
  describe.skipIf(b.skip !== undefined)(b.skip ? `remote state races on ${b.name} (skipped: ${b.skip})` : `remote state races on ${b.name}`, () => {
    let srv: TestServer;
    let proxy: FaultProxy;
    let client: ConnectClient;
    let remote: Remote;
    let vaultId: string;
    const timings: string[] = [];

    beforeEach(async () => {
      // One opsync server is both the Connect server (behind a proxy that can slow its creates) and, for
      // http, the state server (reached directly: the state's requests are never slowed).
      srv = await startTestServer();
      proxy = await startFaultProxy(srv.url);
      client = new ConnectClient({ host: srv.url, token: srv.token, backoffBaseMs: 5 });
      vaultId = (await client.findVault('Private'))!.id;
      remote = b.make(srv);
    });

    afterEach(async () => {
      await remote.close();
      await client.close();
      await proxy.close();
      await srv.close();
    });

    afterAll(() => {
      if (timings.length) console.info(`remote-race ${b.name}: ${timings.join('; ')}`);
    });

    const project = (state: string, n: number, prefix: string) => tempProject({ 'opsync.yaml': remote.config(state), 'm.yaml': manifest(n, prefix) });
    const env = () => ({ OP_CONNECT_HOST: proxy.url, OP_CONNECT_TOKEN: srv.token, ...remote.env() });
    const cli = (dir: string, args: string[]) => runCli(args, { cwd: dir, env: env() });
    const titles = async () => (await client.listItems(vaultId)).map((i) => i.title);
    const show = (r: CliResult) => `exit ${r.code}\n${r.stdout}\n${r.stderr}`;

    /** Every title of the manifest exactly once on Connect, the remote state holds them all, and a plan finds nothing to do. */
    async function expectConverged(dir: string, state: string, n: number, prefix: string): Promise<void> {
      const got = await titles();
      const want = Array.from({ length: n }, (_, i) => `${prefix} ${i}`);
      const dupes = got.filter((t, i) => got.indexOf(t) !== i);
      expect(dupes, 'items created twice').toEqual([]);
      expect(got.sort()).toEqual(want.sort());
      const s = (await remote.read(state))!;
      expect(Object.keys(s.resources)).toHaveLength(n);
      expect(s.pending).toEqual({});
      expect(Object.values(s.resources).map((r) => r.title).sort()).toEqual(want.sort());
      const plan = await cli(dir, ['plan', 'm.yaml', '--detailed-exitcode']);
      expect(plan.code, show(plan)).toBe(0);
      expect(await remote.holder(state), 'the lock is released').toBeUndefined();
    }

    /** Two applies of one project started at the same moment. */
    async function race(dir: string, extra: string[]): Promise<{ results: CliResult[]; pids: number[] }> {
      const children = [0, 1].map(() => spawnCli(['apply', 'm.yaml', '--auto-approve', '--parallelism', '4', ...extra], { cwd: dir, env: env() }));
      const results = await Promise.all(children.map(collect));
      return { results, pids: children.map((c) => c.pid!) };
    }

    it('racing applies without --lock-timeout: one applies, the other names it and changes nothing', async () => {
      const t0 = Date.now();
      // Slow creates, so that the winner holds the lock well past the loser's start-up on a loaded machine.
      proxy.inject({ method: 'POST', path: CREATE, delayMs: 250, times: Infinity });
      const dir = project('race-a', 30, 'Race A');
      const { results, pids } = await race(dir, []);
      const winners = results.flatMap((r, i) => (r.code === 0 ? [i] : []));
      expect(winners, results.map(show).join('\n---\n')).toHaveLength(1);
      const win = winners[0];
      const loser = results[1 - win];
      expect(loser.code, show(loser)).toBe(1);
      const lines = loser.stderr.trim().split('\n');
      expect(lines, show(loser)).toHaveLength(1);
      const id = /lock ([0-9a-f-]{36}) held by/.exec(lines[0])?.[1];
      expect(id, lines[0]).toBeDefined();
      expect(lines[0]).toContain(`(opsync apply, pid ${pids[win]})`);
      expect(lines[0]).toContain(`@${hostname()}`);
      expect(lines[0]).toContain(`opsync force-unlock ${id}`);
      expect(lines[0]).not.toContain(remote.env()[Object.keys(remote.env())[0]]); // no secret in it
      await expectConverged(dir, 'race-a', 30, 'Race A');
      timings.push(`race without timeout ${Date.now() - t0} ms`);
    });

    it('racing applies with --lock-timeout 60s: both succeed, the second finds nothing to do', async () => {
      const t0 = Date.now();
      proxy.inject({ method: 'POST', path: CREATE, delayMs: 50, times: Infinity });
      const dir = project('race-b', 30, 'Race B');
      const { results } = await race(dir, ['--lock-timeout', '60s']);
      for (const r of results) expect(r.code, show(r)).toBe(0);
      const idle = results.filter((r) => r.stdout.includes('No changes.'));
      expect(idle, results.map(show).join('\n---\n')).toHaveLength(1);
      expect(proxy.seen.filter((r) => r.method === 'POST' && CREATE.test(r.path))).toHaveLength(30);
      await expectConverged(dir, 'race-b', 30, 'Race B');
      timings.push(`race with timeout ${Date.now() - t0} ms`);
    });

    it('kill -9 mid-apply at three moments: a plain apply takes over the dead lock and converges, creating nothing twice', async () => {
      const t0 = Date.now();
      const N = 200;
      // Every create waits at the proxy and still reaches the server: kills land with creates in flight.
      proxy.inject({ method: 'POST', path: CREATE, delayMs: 40, times: Infinity });
      const dir = project('killed', N, 'Killed');
      const runs: string[] = [];
      let previous: number | undefined;
      let leftPending = 0;
      for (const atLeast of [20, 80, 140]) {
        if (previous !== undefined) {
          // The dead run's lock is still there (its lease live, for postgres): the next run must take it over.
          const held = await remote.holder('killed');
          expect(held, 'the killed run left its lock').toBeDefined();
          expect(held!.pid).toBe(previous);
        }
        const before = (await titles()).length;
        const started = Date.now();
        const child = spawnCli(['apply', 'm.yaml', '--auto-approve', '--parallelism', '4'], { cwd: dir, env: env() });
        const exited = collect(child);
        let done = false;
        void exited.then(() => (done = true));
        let count = before;
        // At least `atLeast` on the server, and this run made some of them.
        while (!done && (count < atLeast || count < before + 10)) {
          await sleep(15);
          count = (await titles()).length;
        }
        child.kill('SIGKILL');
        const r = await exited;
        expect(r.signal, `the run ended before it was killed: ${show(r)}`).toBe('SIGKILL');
        previous = child.pid!;
        // Let the creates the dead run left in flight reach the server before the next run looks.
        while (proxy.inFlight > 0) await sleep(10);
        const pending = Object.keys((await remote.read('killed'))?.pending ?? {}).length;
        leftPending += pending;
        runs.push(`killed at ${count} items after ${Date.now() - started} ms, ${pending} pending`);
      }
      // The kills landed with creates in flight, stored as pending before they were sent: the next run adopts them.
      expect(leftPending, runs.join('; ')).toBeGreaterThan(0);
      expect((await titles()).length, runs.join('; ')).toBeLessThan(N);
      const held = await remote.holder('killed');
      expect(held?.pid, 'the last killed run left its lock').toBe(previous);
      expect(held?.host).toBe(hostname());

      const last = Date.now();
      const r = await cli(dir, ['apply', 'm.yaml', '--auto-approve', '--parallelism', '4']);
      expect(r.code, show(r)).toBe(0);
      expect(r.stderr, show(r)).not.toMatch(/force-unlock|is locked/);
      runs.push(`then converged in ${Date.now() - last} ms`);
      await expectConverged(dir, 'killed', N, 'Killed');
      timings.push(`kill -9 x3 of ${N} items ${Date.now() - t0} ms (${runs.join(', ')})`);
    });

    it('kill -9 of the holder while another apply waits with --lock-timeout: the waiter takes over and converges', async () => {
      const t0 = Date.now();
      const N = 60;
      // 60 creates at 4 at a time, 100 ms each: the holder runs for 1.5 s and more, well past the kill.
      proxy.inject({ method: 'POST', path: CREATE, delayMs: 100, times: Infinity });
      const dir = project('waiter', N, 'Waiter');
      const holder = spawnCli(['apply', 'm.yaml', '--auto-approve', '--parallelism', '4'], { cwd: dir, env: env() });
      const holderExit = collect(holder);
      while ((await titles()).length < 4) await sleep(15);
      const waiter = spawnCli(['apply', 'm.yaml', '--auto-approve', '--parallelism', '4', '--lock-timeout', '60s'], { cwd: dir, env: env() });
      const waiterExit = collect(waiter);
      let waiterDone = false;
      void waiterExit.then(() => (waiterDone = true));
      await sleep(700); // the waiter has started and is polling the held lock
      expect(waiterDone, 'the waiter did not wait').toBe(false);
      holder.kill('SIGKILL');
      const killed = await holderExit;
      expect(killed.signal, `the holder ended before it was killed: ${show(killed)}`).toBe('SIGKILL');
      expect((await titles()).length, 'killed mid-way').toBeLessThan(N);
      const r = await waiterExit;
      expect(r.code, show(r)).toBe(0);
      while (proxy.inFlight > 0) await sleep(10);
      await expectConverged(dir, 'waiter', N, 'Waiter');
      timings.push(`waiter takes over ${Date.now() - t0} ms`);
    });

    it('a holder on another host is not taken over, even when its pid is dead here: apply fails naming it', async () => {
      const t0 = Date.now();
      const dir = project('other-host', 3, 'Other');
      const pid = await deadPid();
      const other = await remote.lockAsOtherHost('other-host', pid);
      const r = await cli(dir, ['apply', 'm.yaml', '--auto-approve']);
      expect(r.code, show(r)).toBe(1);
      const lines = r.stderr.trim().split('\n');
      expect(lines, show(r)).toHaveLength(1);
      expect(lines[0]).toContain(`lock ${other.id} held by ci@other-host (opsync apply, pid ${pid})`);
      expect(lines[0]).toContain(`opsync force-unlock ${other.id}`);
      expect(await titles()).toEqual([]);
      expect(await remote.read('other-host')).toBeUndefined();
      // Still theirs: it unlocks under its own id.
      expect((await remote.holder('other-host'))?.id).toBe(other.id);
      await other.release();
      expect(await remote.holder('other-host')).toBeUndefined();
      timings.push(`other host ${Date.now() - t0} ms`);
    });
  });
}

function collect(child: ChildProcess): Promise<CliResult & { signal: NodeJS.Signals | null }> {
  return new Promise((resolve, reject) => {
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code: code ?? -1, stdout, stderr, signal }));
  });
}

// A state write whose answer is lost after the server stored it (the connection drops): the client retries
// it, as Terraform's does, and the retry finds its own document stored. The run must go on as if the first
// answer had come. FAILS today (/tmp/opsync-coord/bugs.md, "http write retried after a lost answer"): the
// retry is refused 409 serial and every create of the run fails; drop `.fails` once HttpBackend.write takes
// its own stored document for success.
describe('http backend: a state write whose answer was lost', () => {
  let srv: TestServer;
  let stateProxy: FaultProxy;
  beforeEach(async () => {
    srv = await startTestServer();
    stateProxy = await startFaultProxy(srv.url);
  });
  afterEach(async () => {
    await stateProxy.close();
    await srv.close();
  });

  it('is retried and the apply succeeds, every item once', async () => {
    const address = `${stateProxy.url}/state/lost`;
    const dir = tempProject({
      'opsync.yaml': `backend:\n  type: http\n  address: ${address}\n  lock_address: ${address}\n  username: opsync\n  retry_wait_min: 0.01\n  retry_wait_max: 0.05\n`,
      'm.yaml': manifest(5, 'Lost'),
    });
    // The second write of the state (the first is the Connect address, then pending creates go out).
    let writes = 0;
    const drop = stateProxy.inject({ method: 'POST', path: (p) => p.startsWith('/state/lost?') && ++writes === 2, reset: 'after', times: 1 });
    const env = { OP_CONNECT_HOST: srv.url, OP_CONNECT_TOKEN: srv.token, OPSYNC_HTTP_PASSWORD: srv.stateToken() };
    const r = await runCli(['apply', 'm.yaml', '--auto-approve'], { cwd: dir, env });
    expect(drop.hits).toBe(1);
    expect(r.code, `exit ${r.code}\n${r.stdout}\n${r.stderr}`).toBe(0);
    const client = new ConnectClient({ host: srv.url, token: srv.token });
    const titles = (await client.listItems((await client.findVault('Private'))!.id)).map((i) => i.title).sort();
    await client.close();
    expect(titles).toEqual(Array.from({ length: 5 }, (_, i) => `Lost ${i}`).sort());
    const plan = await runCli(['plan', 'm.yaml', '--detailed-exitcode'], { cwd: dir, env });
    expect(plan.code, plan.stdout + plan.stderr).toBe(0);
  });
});
