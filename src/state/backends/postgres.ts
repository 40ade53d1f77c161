// The PostgreSQL backend (issue 15): for teams whose shared database is PostgreSQL. One row per state in
// `<schema>.states` (the document as opsync writes it, with its lineage and serial beside it so a write can
// check them in SQL), and the lock as a lease in `<schema>.leases`.
//
// Why leases and not advisory locks: a session advisory lock lives as long as one server connection, and a
// transaction-pooling proxy (PgBouncer, RDS Proxy, Supavisor) hands a client a different connection for each
// transaction, so such a lock is released (or kept by someone else's session) behind the client's back. A
// lease is a row with an expiry on the database's clock (now(), so the clocks of the machines that take it
// never matter); the holder renews it while it runs, and a holder that died stops renewing, so its lease
// runs out and the next lock() takes it over. Every statement here is one transaction at most, and the only
// advisory locks are transaction-scoped ones, which poolers keep within the transaction.

import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { BackendError, describeHolder, LockError, StateConflictError, type LockHolder, type StateBackend, type WriteOptions } from '../backend.js';
import { parseStateDocument, serialiseState, StateError } from '../file.js';
import type { StateFile } from '../types.js';
import { checkWrite } from './compare.js';

export interface PostgresSettings {
  /** postgres://[user[:password]@]host[:port]/database[?sslmode=…]: from the environment only; the caller passes it. */
  connStr: string;
  /** The schema opsync's tables live in (created if missing). Default 'opsync'. */
  schemaName?: string;
  /** The state's name (one row per state, so several states share the tables). Default 'default'. */
  name?: string;
  /** How long a lock lasts without renewal; it is renewed every leaseMs / 3 while held. Default 30 s. */
  leaseMs?: number;
}

const DEFAULT_LEASE_MS = 30_000;
/** A database that does not answer a connection attempt in this long is reported, not waited on. */
const CONNECT_TIMEOUT_MS = 10_000;
/** Node's codes for a server that cannot be reached: reported as that code alone. */
const UNREACHABLE = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'ECONNRESET', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE', 'ENOENT', 'EACCES']);

interface LeaseRow {
  lock_id: string;
  holder: unknown;
  live: boolean;
}

export class PostgresBackend implements StateBackend {
  readonly type = 'postgres' as const;
  readonly name: string;
  private readonly pool: pg.Pool;
  /** The schema as an SQL identifier (quoted). */
  private readonly schema: string;
  private readonly schemaName: string;
  private readonly stateName: string;
  private readonly leaseMs: number;
  /** host:port, for messages. */
  private readonly address: string;
  /** Values to keep out of every message: the password, as written in the URL and decoded. */
  private readonly secrets: string[];
  private schemaReady: Promise<void> | undefined;
  /** The lease this backend holds and renews. */
  private lease: { id: string; timer: NodeJS.Timeout; renewing: boolean } | undefined;
  /** A lease that a renewal found gone, taken over or run out: a write under its id says this run lost it. */
  private lost: { id: string } | undefined;
  private closed = false;

  constructor(settings: PostgresSettings) {
    this.schemaName = settings.schemaName ?? 'opsync';
    this.stateName = settings.name ?? 'default';
    this.leaseMs = settings.leaseMs ?? DEFAULT_LEASE_MS;
    // An unquoted-style name only: it is interpolated into DDL (quoted), and a name that needs quoting is
    // more likely a mistake than a wish.
    if (!/^[A-Za-z_][A-Za-z0-9_]{0,62}$/.test(this.schemaName)) {
      throw new BackendError(`PostgreSQL schema name ${JSON.stringify(this.schemaName)} is not valid: use letters, digits and _ (at most 63), not starting with a digit`);
    }
    if (this.stateName === '') throw new BackendError('PostgreSQL state name must not be empty');
    if (!Number.isInteger(this.leaseMs) || this.leaseMs < 100) throw new BackendError(`PostgreSQL lease must be a whole number of milliseconds of at least 100, not ${this.leaseMs}`);
    this.schema = pg.escapeIdentifier(this.schemaName);

    const target = describeConnStr(settings.connStr, process.env);
    this.address = target.address;
    this.secrets = target.secrets;
    this.name = `postgres ${target.host}/${target.database} ${this.schemaName}.${this.stateName}`;

    this.pool = new pg.Pool({
      connectionString: settings.connStr,
      // One for the command's statements, one for the lease renewal beside them.
      max: 2,
      connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
      idleTimeoutMillis: 10_000,
      // A CLI that forgets close() still exits; the lease timer is unref'd for the same reason.
      allowExitOnIdle: true,
      keepAlive: true,
      // Poolers pass application_name; a URL that sets its own wins.
      fallback_application_name: 'opsync',
    });
    // An idle connection that the server drops emits 'error' on the pool; unhandled, it would end the
    // process. The next query reports it (as BackendError) if it matters.
    this.pool.on('error', () => {});
  }

  async read(): Promise<StateFile | undefined> {
    return this.run('read', async () => {
      let rows: { document: string }[];
      try {
        ({ rows } = await this.pool.query<{ document: string }>(`SELECT document FROM ${this.schema}.states WHERE name = $1`, [this.stateName]));
      } catch (err) {
        // Nothing was ever stored here: reading creates nothing (a read-only role may read).
        if ((err as { code?: string }).code === '42P01') return undefined;
        throw err;
      }
      return rows[0] ? parseStateDocument(rows[0].document, this.name) : undefined;
    });
  }

  async write(state: StateFile, opts: WriteOptions = {}): Promise<void> {
    // What is stored is the state as it is now: a caller that goes on changing it after this call must not
    // change what lands.
    const document = serialiseState(state);
    const next = { lineage: state.lineage, serial: state.serial };
    await this.run('write', async () => {
      await this.ensureSchema();
      await this.tx(async (c) => {
        await this.lockStateRow(c);
        await this.checkLease(c, opts.lockId, 'written');
        const { rows } = await c.query<{ lineage: string; serial: string }>(`SELECT lineage, serial FROM ${this.schema}.states WHERE name = $1 FOR UPDATE`, [this.stateName]);
        const stored = rows[0] ? { lineage: rows[0].lineage, serial: Number(rows[0].serial) } : undefined;
        if (!opts.force) checkWrite(stored, next, this.name);
        await c.query(
          `INSERT INTO ${this.schema}.states (name, lineage, serial, document, updated) VALUES ($1, $2, $3, $4, now())
           ON CONFLICT (name) DO UPDATE SET lineage = EXCLUDED.lineage, serial = EXCLUDED.serial, document = EXCLUDED.document, updated = EXCLUDED.updated`,
          [this.stateName, next.lineage, next.serial, document],
        );
      });
    });
  }

  async delete(opts: WriteOptions = {}): Promise<void> {
    await this.run('delete', async () => {
      await this.ensureSchema();
      await this.tx(async (c) => {
        await this.lockStateRow(c);
        await this.checkLease(c, opts.lockId, 'deleted');
        await c.query(`DELETE FROM ${this.schema}.states WHERE name = $1`, [this.stateName]);
      });
    });
  }

  async lock(info: Omit<LockHolder, 'id'>): Promise<LockHolder> {
    return this.run('lock', async () => {
      await this.ensureSchema();
      const holder: LockHolder = { ...info, id: randomUUID() };
      // A lease that is released between the failed insert and the read of its holder: try again (a few
      // times; a lock that changes hands that fast is held, for what a caller needs to know).
      for (let attempt = 0; ; attempt++) {
        const taken = await this.pool.query(
          `INSERT INTO ${this.schema}.leases AS l (name, lock_id, holder, expires) VALUES ($1, $2, $3::jsonb, now() + $4::int * interval '1 millisecond')
           ON CONFLICT (name) DO UPDATE SET lock_id = EXCLUDED.lock_id, holder = EXCLUDED.holder, expires = EXCLUDED.expires
           WHERE l.expires < now()
           RETURNING lock_id`,
          [this.stateName, holder.id, JSON.stringify(holder), this.leaseMs],
        );
        if (taken.rowCount === 1) {
          this.startRenewal(holder.id);
          return holder;
        }
        const current = await this.readLease();
        if (current || attempt >= 3) {
          const h = current ? toHolder(current) : undefined;
          throw new LockError(h ? `state ${this.name} is locked: ${describeHolder(h)}` : `state ${this.name} is locked`, h);
        }
      }
    });
  }

  async unlock(id: string): Promise<void> {
    await this.run('unlock', async () => {
      if (this.lease?.id === id) this.stopRenewal();
      if (await this.deleteLease(id)) return;
      const current = await this.readLease();
      throw new LockError(`state ${this.name} is not locked under ${id}`, current ? toHolder(current) : undefined);
    });
  }

  async forceUnlock(id: string): Promise<void> {
    await this.run('force-unlock', async () => {
      const current = await this.readLease();
      if (!current) throw new LockError(`state ${this.name} is not locked`);
      const holder = toHolder(current);
      if (holder.id !== id) throw new LockError(`state ${this.name} is locked under ${holder.id}, not ${id}; nothing was unlocked`, holder);
      if (this.lease?.id === id) this.stopRenewal();
      if (!(await this.deleteLease(id))) {
        const now = await this.readLease();
        throw new LockError(`state ${this.name}: the lock changed hands; nothing was unlocked`, now ? toHolder(now) : undefined);
      }
    });
  }

  async close(): Promise<void> {
    this.stopRenewal();
    if (this.closed) return;
    this.closed = true;
    await this.pool.end();
  }

  // --- Leases ---

  private startRenewal(id: string): void {
    this.stopRenewal();
    if (this.lost?.id === id) this.lost = undefined;
    const timer = setInterval(() => void this.renew(), Math.max(10, Math.floor(this.leaseMs / 3)));
    timer.unref();
    this.lease = { id, timer, renewing: false };
  }

  private stopRenewal(): void {
    if (this.lease) clearInterval(this.lease.timer);
    this.lease = undefined;
  }

  /**
   * Push the lease's expiry out again, if it is still ours and still live. A lease that ran out is lost
   * even when nobody took it yet: for a while anyone could have, so what this process does under it is no
   * longer protected. A renewal that cannot reach the database tries again at the next tick (the lease has
   * two more before it runs out).
   */
  private async renew(): Promise<void> {
    const lease = this.lease;
    if (!lease || lease.renewing || this.closed) return;
    lease.renewing = true;
    try {
      const r = await this.pool.query(
        `UPDATE ${this.schema}.leases SET expires = now() + $3::int * interval '1 millisecond' WHERE name = $1 AND lock_id = $2 AND expires > now()`,
        [this.stateName, lease.id, this.leaseMs],
      );
      if (r.rowCount === 0 && this.lease === lease) {
        this.stopRenewal();
        this.lost = { id: lease.id };
      }
    } catch {
      /* unreachable for now: the next tick tries again */
    } finally {
      lease.renewing = false;
    }
  }

  /**
   * Inside a write's transaction: a live lease must be the writer's, and a writer that names a lock must
   * hold it live. The lease row stays locked to the end of the transaction, so it cannot change hands
   * between this check and the write.
   */
  private async checkLease(c: pg.PoolClient, lockId: string | undefined, what: string): Promise<void> {
    const { rows } = await c.query<LeaseRow>(`SELECT lock_id, holder, expires > now() AS live FROM ${this.schema}.leases WHERE name = $1 FOR UPDATE`, [this.stateName]);
    const lease = rows[0];
    const ours = lease?.live && lease.lock_id === lockId;
    if (lockId && !ours && this.lost?.id === lockId) {
      const now = lease?.live ? `; ${describeHolder(toHolder(lease))}` : '';
      throw new StateConflictError(
        `state ${this.name}: this run lost its lock ${lockId} (its lease was not renewed in time, or it was force-unlocked)${now}; nothing was ${what}`,
      );
    }
    if (lease?.live && !ours) {
      throw new StateConflictError(`state ${this.name} is locked under ${lease.lock_id}${lockId ? `, not ${lockId}` : ''}; nothing was ${what}`);
    }
    if (lockId && !ours) {
      throw new StateConflictError(
        lease?.lock_id === lockId
          ? `state ${this.name}: the lease of lock ${lockId} ran out (it was not renewed in time); nothing was ${what}`
          : `state ${this.name} is not locked under ${lockId} (released, or its lease ran out and was taken over); nothing was ${what}`,
      );
    }
  }

  private async readLease(): Promise<LeaseRow | undefined> {
    try {
      const { rows } = await this.pool.query<LeaseRow>(`SELECT lock_id, holder, expires > now() AS live FROM ${this.schema}.leases WHERE name = $1`, [this.stateName]);
      return rows[0];
    } catch (err) {
      if ((err as { code?: string }).code === '42P01') return undefined; // no tables yet: nothing is locked
      throw err;
    }
  }

  private async deleteLease(id: string): Promise<boolean> {
    try {
      const r = await this.pool.query(`DELETE FROM ${this.schema}.leases WHERE name = $1 AND lock_id = $2`, [this.stateName, id]);
      return r.rowCount === 1;
    } catch (err) {
      if ((err as { code?: string }).code === '42P01') return false;
      throw err;
    }
  }

  // --- Schema, transactions, errors ---

  /** Writers of one state one at a time (also when no row exists yet, which FOR UPDATE cannot lock). */
  private async lockStateRow(c: pg.PoolClient): Promise<void> {
    await c.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [`opsync state ${this.schemaName}.${this.stateName}`]);
  }

  private ensureSchema(): Promise<void> {
    this.schemaReady ??= this.createSchema().catch((err: unknown) => {
      this.schemaReady = undefined;
      throw err;
    });
    return this.schemaReady;
  }

  /**
   * The schema and tables, if missing. Tables that exist are only looked at, so a role without the right
   * to create anything works on tables a DBA made. Two processes that create at once are serialised by a
   * transaction-scoped advisory lock (CREATE ... IF NOT EXISTS alone can still fail on a concurrent create).
   */
  private async createSchema(): Promise<void> {
    const tables = [`${this.schema}.states`, `${this.schema}.leases`];
    const exists = async (c: pg.Pool | pg.PoolClient) =>
      (await c.query<{ ok: boolean }>('SELECT to_regclass($1) IS NOT NULL AND to_regclass($2) IS NOT NULL AS ok', tables)).rows[0].ok;
    if (await exists(this.pool)) return;
    await this.tx(async (c) => {
      await c.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [`opsync schema ${this.schemaName}`]);
      if (await exists(c)) return;
      const ns = await c.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [this.schemaName]);
      if (ns.rowCount === 0) await c.query(`CREATE SCHEMA IF NOT EXISTS ${this.schema}`);
      await c.query(
        `CREATE TABLE IF NOT EXISTS ${this.schema}.states (name text PRIMARY KEY, lineage text NOT NULL, serial bigint NOT NULL, document text NOT NULL, updated timestamptz NOT NULL)`,
      );
      await c.query(`CREATE TABLE IF NOT EXISTS ${this.schema}.leases (name text PRIMARY KEY, lock_id text NOT NULL, holder jsonb NOT NULL, expires timestamptz NOT NULL)`);
    });
  }

  private async tx<T>(f: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    const c = await this.pool.connect();
    let broken: Error | undefined;
    try {
      await c.query('BEGIN');
      const result = await f(c);
      await c.query('COMMIT');
      return result;
    } catch (err) {
      // A connection that cannot even roll back is dropped, not put back in the pool.
      await c.query('ROLLBACK').catch((e: unknown) => (broken = e instanceof Error ? e : new Error(String(e))));
      throw err;
    } finally {
      c.release(broken);
    }
  }

  /** `what` of this backend, with every failure of the database turned into one line without a credential. */
  private async run<T>(what: string, f: () => Promise<T>): Promise<T> {
    if (this.closed) throw new BackendError(`state ${this.name}: the backend was closed; cannot ${what}`);
    try {
      return await f();
    } catch (err) {
      if (err instanceof LockError || err instanceof StateConflictError || err instanceof StateError || err instanceof BackendError) throw err;
      throw new BackendError(scrub(`state ${this.name}: cannot ${what}: ${this.describe(err)}`, this.secrets));
    }
  }

  private describe(err: unknown): string {
    const e = err as { code?: unknown; message?: unknown; errors?: unknown };
    const message = typeof e?.message === 'string' ? e.message : String(err);
    if (err instanceof pg.DatabaseError) {
      if (err.code === '28P01' || err.code === '28000') return `PostgreSQL at ${this.address} refused the login: ${message}`;
      if (err.code === '3D000') return `PostgreSQL at ${this.address}: ${message}`;
      return `PostgreSQL at ${this.address}: ${message}${err.code ? ` (SQLSTATE ${err.code})` : ''}`;
    }
    // Node's connection errors (one per address tried, for a name with several, in an AggregateError).
    const codes = [e?.code, ...(Array.isArray(e?.errors) ? e.errors.map((x: { code?: unknown }) => x?.code) : [])].filter((c): c is string => typeof c === 'string');
    const code = codes.find((c) => UNREACHABLE.has(c));
    if (code) return `cannot reach PostgreSQL at ${this.address}: ${code}`;
    if (/timeout/i.test(message)) return `cannot reach PostgreSQL at ${this.address}: no answer in ${CONNECT_TIMEOUT_MS / 1000} s`;
    if (/SASL|password must be/i.test(message)) return `PostgreSQL at ${this.address} asks for a password the connection string does not give`;
    if (/Connection terminated/i.test(message)) return `PostgreSQL at ${this.address} closed the connection`;
    return `PostgreSQL at ${this.address}: ${message.split('\n')[0]}`;
  }
}

/** The holder a lease names; its lock id is the row's, whatever the JSON says. */
function toHolder(row: LeaseRow): LockHolder {
  const h = (typeof row.holder === 'object' && row.holder !== null && !Array.isArray(row.holder) ? row.holder : {}) as Record<string, unknown>;
  const str = (v: unknown) => (typeof v === 'string' ? v : '');
  return {
    id: row.lock_id,
    who: str(h.who),
    host: str(h.host),
    ...(typeof h.pid === 'number' && Number.isInteger(h.pid) ? { pid: h.pid } : {}),
    command: str(h.command),
    ...(typeof h.ciRunUrl === 'string' ? { ciRunUrl: h.ciRunUrl } : {}),
    created: str(h.created),
  };
}

/**
 * What messages may say about a connection string: host (with its port when given), database, host:port,
 * and the values to keep out of them. Parsed here, before pg sees it, so that a malformed one is reported
 * without being quoted (Node's URL errors carry their input).
 */
export function describeConnStr(connStr: string, env: NodeJS.ProcessEnv): { host: string; database: string; address: string; secrets: string[] } {
  let url: URL;
  try {
    url = new URL(connStr);
  } catch {
    throw new BackendError('the PostgreSQL connection string is not a URL (postgres://host:port/database)');
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
    throw new BackendError(`the PostgreSQL connection string must start with postgres:// or postgresql://, not ${url.protocol}//`);
  }
  const secrets: string[] = [];
  for (const raw of [url.password, url.searchParams.get('password') ?? '', env.PGPASSWORD ?? '']) {
    if (!raw) continue;
    secrets.push(raw, safeDecode(raw));
  }
  // A socket folder (?host=/var/run/postgresql) stands in for an empty host.
  const hostname = safeDecode(url.hostname) || url.searchParams.get('host') || env.PGHOST || 'localhost';
  const port = url.port || url.searchParams.get('port') || env.PGPORT || '5432';
  const database = safeDecode(url.pathname.replace(/^\//, '')) || url.searchParams.get('dbname') || env.PGDATABASE || '(default database)';
  return { host: url.port ? `${hostname}:${url.port}` : hostname, database, address: `${hostname}:${port}`, secrets };
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s; // a stray % (as pg itself would take it)
  }
}

/** `text` with every one of `secrets` (of 4 characters or more: a shorter one would blank ordinary words) masked. */
function scrub(text: string, secrets: string[]): string {
  let out = text;
  for (const s of secrets) if (s.length >= 4) out = out.split(s).join('***');
  return out;
}
