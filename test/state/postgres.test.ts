// The PostgreSQL state backend against a real server (test/support/postgres.ts: OPSYNC_TEST_PG_URL, or the
// throwaway cluster of the vitest globalSetup). Each test has a schema of its own. What every backend must
// do is the contract suite's (test/state/contract.ts); this is what is PostgreSQL's own: leases, their
// renewal and expiry on the database's clock, the schema's creation, and what its errors say.

import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import pg from 'pg';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { BackendError, LockError, StateConflictError, type LockHolder } from '../../src/state/backend.js';
import { PostgresBackend, type PostgresSettings } from '../../src/state/backends/postgres.js';
import { serialiseState } from '../../src/state/file.js';
import { freshSchema, postgresTarget } from '../support/postgres.js';
import { next, rejection, sampleState } from '../support/states.js';

const target = await postgresTarget();
const url = target.url ?? '';
// Said once where a run's output shows it, not only in the skipped suite's name.
if (!target.url) console.warn(`postgres state backend tests skipped: ${target.reason}`);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function holderInfo(who: string): Omit<LockHolder, 'id'> {
  return { who: `${who}@${hostname()}`, host: hostname(), pid: process.pid, command: `opsync test ${who}`, created: new Date().toISOString() };
}

const sample = sampleState;


describe.skipIf(!target.url)(target.url ? 'postgres state backend' : `postgres state backend (skipped: ${target.reason})`, () => {
  const open: PostgresBackend[] = [];
  const schemas = new Set<string>();

  /** A backend on `schema` (a fresh one unless given), closed after the test. */
  const backend = (over: Partial<PostgresSettings> = {}): PostgresBackend => {
    const schemaName = over.schemaName ?? freshSchema();
    const b = new PostgresBackend({ connStr: url, ...over, schemaName });
    schemas.add(schemaName);
    open.push(b);
    return b;
  };

  /** SQL as the test's superuser, beside the backend. */
  async function sql<R extends pg.QueryResultRow = pg.QueryResultRow>(text: string, values: unknown[] = []): Promise<R[]> {
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    try {
      return (await c.query<R>(text, values)).rows;
    } finally {
      await c.end();
    }
  }

  afterEach(async () => {
    await Promise.all(open.splice(0).map((b) => b.close()));
  });

  afterAll(async () => {
    // The throwaway cluster goes anyway; a server of OPSYNC_TEST_PG_URL keeps nothing of these tests.
    for (const s of schemas) if (s) await sql(`DROP SCHEMA IF EXISTS ${pg.escapeIdentifier(s)} CASCADE`).catch(() => {});
  });

  it('stores, reads back and deletes a state; a second client sees it; reading nothing creates nothing', async () => {
    const schemaName = freshSchema();
    const a = backend({ schemaName, name: 'prod' });
    expect(await a.read()).toBeUndefined();
    expect((await sql(`SELECT to_regnamespace($1) AS ns`, [schemaName]))[0].ns).toBeNull();

    const s = sample();
    await a.write(s);
    expect(serialiseState((await a.read())!)).toBe(serialiseState(s));
    const b = backend({ schemaName, name: 'prod' });
    expect(serialiseState((await b.read())!)).toBe(serialiseState(s));
    // Another name in the same tables is another state.
    expect(await backend({ schemaName, name: 'staging' }).read()).toBeUndefined();

    const row = (await sql<{ lineage: string; serial: string; document: string }>(`SELECT lineage, serial, document FROM ${schemaName}.states WHERE name = 'prod'`))[0];
    expect(row).toMatchObject({ lineage: s.lineage, serial: '1', document: serialiseState(s) });

    await b.delete();
    expect(await a.read()).toBeUndefined();
    expect(a.name).toMatch(new RegExp(`^postgres 127\\.0\\.0\\.1:\\d+/postgres ${schemaName}\\.prod$`));
  });

  it('stores the state as it was when write was called, not as the caller changes it after', async () => {
    const a = backend();
    const s = sample();
    const writing = a.write(s);
    s.serial = 99;
    delete s.resources['Private/db'];
    await writing;
    const got = (await a.read())!;
    expect(got.serial).toBe(1);
    expect(Object.keys(got.resources).sort()).toEqual(['Private/api', 'Private/db']);
  });

  it('a held lock refuses another with LockError naming the holder; unlock frees it', async () => {
    const schemaName = freshSchema();
    const a = backend({ schemaName });
    const b = backend({ schemaName });
    const held = await a.lock(holderInfo('alice'));
    const err = await rejection(b.lock(holderInfo('bob')));
    expect(err).toBeInstanceOf(LockError);
    const holder = (err as LockError).holder!;
    expect(holder).toEqual(held);
    expect(err.message).toContain(held.id);
    expect(err.message).toContain('opsync test alice');
    // The holder's own backend cannot take it twice either.
    await expect(a.lock(holderInfo('alice'))).rejects.toBeInstanceOf(LockError);

    const unlockErr = await rejection(b.unlock(randomUUID()));
    expect(unlockErr).toBeInstanceOf(LockError);
    await expect(b.lock(holderInfo('bob'))).rejects.toBeInstanceOf(LockError);
    await a.unlock(held.id);
    const bobs = await b.lock(holderInfo('bob'));
    expect(bobs.id).not.toBe(held.id);
  });

  it('forceUnlock takes the holder id only: another id names the holder, none says not locked', async () => {
    const schemaName = freshSchema();
    const a = backend({ schemaName });
    const b = backend({ schemaName });
    const none = await rejection(b.forceUnlock(randomUUID()));
    expect(none).toBeInstanceOf(LockError);
    expect(none.message).toMatch(/is not locked$/);

    const held = await a.lock(holderInfo('alice'));
    const wrong = await rejection(b.forceUnlock(randomUUID()));
    expect(wrong).toBeInstanceOf(LockError);
    expect((wrong as LockError).holder?.id).toBe(held.id);
    expect(wrong.message).toContain(`locked under ${held.id}`);
    await b.forceUnlock(held.id);
    const bobs = await b.lock(holderInfo('bob'));
    // A's id no longer unlocks anything.
    await expect(a.unlock(held.id)).rejects.toBeInstanceOf(LockError);
    await expect(a.forceUnlock(held.id)).rejects.toBeInstanceOf(LockError);
    await b.unlock(bobs.id);
  });

  it('renews its lease while it holds the lock (600 ms lease, 1.5 s later still held)', async () => {
    const schemaName = freshSchema();
    const a = backend({ schemaName, leaseMs: 600 });
    const b = backend({ schemaName, leaseMs: 600 });
    const held = await a.lock(holderInfo('alice'));
    await sleep(1500);
    const err = await rejection(b.lock(holderInfo('bob')));
    expect((err as LockError).holder?.id).toBe(held.id);
    await a.write(sample(), { lockId: held.id });
    const [lease] = await sql<{ left: number }>(`SELECT extract(epoch FROM expires - now()) * 1000 AS left FROM ${schemaName}.leases`);
    expect(Number(lease.left)).toBeGreaterThan(0);
  });

  it('a lease that is no longer renewed (its process gone) runs out and is taken over', async () => {
    const schemaName = freshSchema();
    const a = backend({ schemaName, leaseMs: 600 });
    const b = backend({ schemaName, leaseMs: 600 });
    const held = await a.lock(holderInfo('alice'));
    await a.write(sample(), { lockId: held.id });
    await a.close(); // no unlock: renewal stops, the lease stays until it runs out
    await expect(b.lock(holderInfo('bob'))).rejects.toBeInstanceOf(LockError);
    await sleep(900);
    const bobs = await b.lock(holderInfo('bob'));
    expect(bobs.id).not.toBe(held.id);
    // Alice's id writes nothing now, from any client.
    const c = backend({ schemaName });
    const err = await rejection(c.write(next((await c.read())!), { lockId: held.id }));
    expect(err).toBeInstanceOf(StateConflictError);
    expect(err.message).toContain(bobs.id);
  });

  it('a holder whose lease was taken from it says so at its next write', async () => {
    const schemaName = freshSchema();
    const a = backend({ schemaName, leaseMs: 600 });
    const b = backend({ schemaName });
    const held = await a.lock(holderInfo('alice'));
    await a.write(sample(), { lockId: held.id });
    await b.forceUnlock(held.id);
    const bobs = await b.lock(holderInfo('bob'));
    await sleep(800); // renewals every 200 ms: one of them finds the lease gone
    const err = await rejection(a.write(next((await a.read())!), { lockId: held.id }));
    expect(err).toBeInstanceOf(StateConflictError);
    expect(err.message).toContain(`lost its lock ${held.id}`);
    expect(err.message).toContain(bobs.id);
    await expect(a.delete({ lockId: held.id })).rejects.toBeInstanceOf(StateConflictError);
    expect((await b.read())!.serial).toBe(1);
  });

  it('while locked, a write or delete without the lock id, or with another, is refused', async () => {
    const schemaName = freshSchema();
    const a = backend({ schemaName });
    const b = backend({ schemaName });
    const s = sample();
    await a.write(s);
    const held = await a.lock(holderInfo('alice'));
    for (const opts of [{}, { lockId: randomUUID() }, { force: true }, { lockId: randomUUID(), force: true }]) {
      const err = await rejection(b.write(next(s), opts));
      expect(err).toBeInstanceOf(StateConflictError);
      expect(err.message).toContain(`locked under ${held.id}`);
    }
    await expect(b.delete()).rejects.toBeInstanceOf(StateConflictError);
    await expect(b.delete({ lockId: randomUUID() })).rejects.toBeInstanceOf(StateConflictError);
    expect((await b.read())!.serial).toBe(1);
    // The holder's id writes, from another client too (the lock is the state's, not a connection's).
    await b.write(next(s), { lockId: held.id });
    expect((await a.read())!.serial).toBe(2);
    await a.unlock(held.id);
    // Once released, its id is refused: that run no longer holds the lock.
    await expect(a.write(next(s, 3), { lockId: held.id })).rejects.toBeInstanceOf(StateConflictError);
    await a.write(next(s, 3));
  });

  it('refuses another lineage and a serial not above the stored one, unless forced', async () => {
    const a = backend();
    const s = sample(randomUUID(), 5);
    await a.write(s);
    for (const bad of [sample(randomUUID(), 6), next(s, 5), next(s, 4)]) {
      const err = await rejection(a.write(bad));
      expect(err).toBeInstanceOf(StateConflictError);
      expect(serialiseState((await a.read())!)).toBe(serialiseState(s));
    }
    await a.write(next(s, 6));
    const other = sample(randomUUID(), 1);
    await a.write(other, { force: true });
    expect((await a.read())!.lineage).toBe(other.lineage);
    await a.write(next(other, 0), { force: true });
    expect((await a.read())!.serial).toBe(0);
  });

  it('several processes creating the schema at once all succeed', async () => {
    const schemaName = freshSchema();
    // Each of its own state, so only the creation of the tables could make one fail.
    const clients = Array.from({ length: 8 }, (_, i) => backend({ schemaName, name: `n${i}` }));
    await Promise.all(clients.map((c, i) => (i % 2 ? c.lock(holderInfo(`p${i}`)) : c.write(sample()))));
    const tables = await sql<{ t: string }>(`SELECT table_name AS t FROM information_schema.tables WHERE table_schema = $1 ORDER BY 1`, [schemaName]);
    expect(tables.map((r) => r.t)).toEqual(['leases', 'states']);
    expect((await sql(`SELECT name FROM ${schemaName}.states`)).length).toBe(4);
    expect((await sql(`SELECT name FROM ${schemaName}.leases`)).length).toBe(4);
  });

  it('of writers racing for a state nothing stored yet, one wins; of lockers, one', async () => {
    const schemaName = freshSchema();
    const states = Array.from({ length: 6 }, () => sample());
    // The tables made and every client connected first, so that the writes meet at the first row.
    await backend({ schemaName, name: 'other' }).write(sample());
    const writers = states.map(() => backend({ schemaName }));
    await Promise.all(writers.map((w) => w.read()));
    const writes = await Promise.allSettled(states.map((s, i) => writers[i].write(s)));
    const won = writes.flatMap((r, i) => (r.status === 'fulfilled' ? [states[i]] : []));
    expect(won).toHaveLength(1);
    for (const r of writes) if (r.status === 'rejected') expect(r.reason).toBeInstanceOf(StateConflictError);
    expect((await backend({ schemaName }).read())!.lineage).toBe(won[0].lineage);

    const locks = await Promise.allSettled(Array.from({ length: 6 }, (_, i) => backend({ schemaName }).lock(holderInfo(`p${i}`))));
    expect(locks.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    for (const r of locks) if (r.status === 'rejected') expect(r.reason).toBeInstanceOf(LockError);
  });

  it('works on tables a DBA made, as a role that may not create anything', async () => {
    const schemaName = freshSchema();
    const role = `opsync_user_${schemaName}`;
    const password = `Pw-${randomUUID()}`;
    await backend({ schemaName }).read();
    await backend({ schemaName }).write(sample()); // creates the tables, as the DBA would have
    await sql(`CREATE ROLE ${role} LOGIN PASSWORD '${password}'`);
    try {
      await sql(`GRANT USAGE ON SCHEMA ${schemaName} TO ${role}; GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA ${schemaName} TO ${role}`);
      const u = new URL(url);
      u.username = role;
      u.password = password;
      const b = backend({ schemaName, connStr: u.toString() });
      const held = await b.lock(holderInfo('limited'));
      await b.write(next((await b.read())!), { lockId: held.id });
      await b.unlock(held.id);
      expect((await b.read())!.serial).toBe(2);
    } finally {
      await Promise.all(open.splice(0).map((b) => b.close()));
      await sql(`DROP OWNED BY ${role}; DROP ROLE ${role}`);
    }
  });

  it('never shows the password: a wrong one, a refused port, a malformed URL', async (ctx) => {
    const secret = `S3cret-${randomUUID()}`;
    const wrong = `Wr0ng-${randomUUID()}`;
    const messages: string[] = [];
    const collect = async (p: Promise<unknown>) => {
      const err = await rejection(p);
      messages.push(`${err.name}: ${err.message}`);
      return err;
    };

    // A closed port: one line, host:port and the code.
    const port = await closedPort();
    const refused = backend({ connStr: `postgres://someone:${secret}@127.0.0.1:${port}/db` });
    expect(refused.name).toMatch(new RegExp(`^postgres 127\\.0\\.0\\.1:${port}/db \\w+\\.default$`));
    const err = await collect(refused.read());
    expect(err).toBeInstanceOf(BackendError);
    expect(err.message).toMatch(new RegExp(`cannot reach PostgreSQL at 127\\.0\\.0\\.1:${port}: ECONNREFUSED$`));
    await collect(refused.lock(holderInfo('x')));
    await collect(refused.write(sample()));

    for (const bad of [`postgres://u:${secret}@[::1`, `mysql://u:${secret}@h/db`, `postgres://u:${secret}@127.0.0.1:${port}/db?sslmode=%zz`]) {
      const e = (() => {
        try {
          return backend({ connStr: bad });
        } catch (x) {
          return x as Error;
        }
      })();
      if (e instanceof Error) messages.push(e.message);
      else await collect(e.read());
    }

    if (target.passwordRole) {
      // A role that must give its password (the throwaway cluster's pg_hba.conf): a wrong one is refused.
      const role = target.passwordRole;
      await sql(`DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '${role}') THEN CREATE ROLE ${role} LOGIN; END IF; END $$`);
      await sql(`ALTER ROLE ${role} PASSWORD '${secret}'`);
      const u = new URL(url);
      u.username = role;
      u.password = wrong;
      const b = backend({ connStr: u.toString() });
      expect(b.name).not.toContain(role);
      const login = await collect(b.read());
      expect(login).toBeInstanceOf(BackendError);
      expect(login.message).toContain('refused the login: password authentication failed');
      u.password = secret;
      expect(await backend({ connStr: u.toString() }).read()).toBeUndefined();
    } else {
      await ctx.annotate('the wrong-password case needs the throwaway cluster (OPSYNC_TEST_PG_URL authentication is unknown)');
    }

    for (const m of messages) {
      expect(m).not.toContain(secret);
      expect(m).not.toContain(wrong);
      expect(m).not.toContain(encodeURIComponent(secret));
      expect(m.split('\n')).toHaveLength(1);
    }
    expect(messages.length).toBeGreaterThanOrEqual(6);
  });
});

/** A port on 127.0.0.1 that nothing listens on (just closed). */
async function closedPort(): Promise<number> {
  const { createServer } = await import('node:net');
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}
