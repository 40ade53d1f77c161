// The server's persistent store: SQLite through better-sqlite3 (WAL on disk, ':memory:' for throwaway runs).
// Items are JSON rows keyed by vault + id with a version column; files are blobs; tokens are kept only as a
// SHA-256 hash; activity is an append-only log. Vault item counts are computed, so they are always true.
import Database from 'better-sqlite3';
import type { ApiRequest, FullItem, Vault, VaultType } from '../connect/types.js';

export interface TokenGrant {
  vault: string; // vault id
  read: boolean;
  write: boolean;
}

export interface TokenRecord {
  id: string;
  jti: string;
  name: string;
  hash: string;
  /** null: every vault, read and write. */
  grants: TokenGrant[] | null;
  /**
   * The remote states (/state/NAME) this token may read and write; '*' is every one. Absent or empty: none,
   * whatever its vault grants (a full-access Connect token has no state access unless given it).
   */
  states?: string[];
  createdAt: string;
}

/** One kept version of a remote state, without its document. */
export interface StateVersionMeta {
  /** Where it sits in the history: higher is newer (serials can repeat after a forced write). */
  seq: number;
  lineage: string;
  serial: number;
  /** Bytes of the document as written. */
  size: number;
  /** Base64 MD5 of the document (what Content-MD5 carries). */
  md5: string;
  updatedAt: string;
}

export interface StateVersion extends StateVersionMeta {
  document: Buffer;
}

/** The lock on a remote state: its id, and the LockInfo JSON its holder sent (answered as it is). */
export interface StateLock {
  id: string;
  info: string;
  createdAt: string;
}

export interface FileRecord {
  id: string;
  vaultId: string;
  itemId: string;
  name: string;
  sectionId?: string;
  size: number;
}

/** A stored item: the FullItem as served, minus files (kept in their own table) and computed `totp`s. */
export type StoredItem = Omit<FullItem, 'files'>;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS vaults (
  id TEXT PRIMARY KEY, name TEXT NOT NULL, description TEXT, type TEXT NOT NULL,
  attribute_version INTEGER NOT NULL, content_version INTEGER NOT NULL,
  created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS items (
  vault_id TEXT NOT NULL REFERENCES vaults(id), id TEXT NOT NULL, version INTEGER NOT NULL,
  data TEXT NOT NULL, seq INTEGER NOT NULL,
  PRIMARY KEY (vault_id, id));
CREATE TABLE IF NOT EXISTS files (
  id TEXT PRIMARY KEY, vault_id TEXT NOT NULL, item_id TEXT NOT NULL, name TEXT NOT NULL,
  section_id TEXT, content BLOB NOT NULL, seq INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS files_by_item ON files (vault_id, item_id, seq);
CREATE TABLE IF NOT EXISTS tokens (
  id TEXT PRIMARY KEY, jti TEXT NOT NULL, name TEXT NOT NULL, hash TEXT NOT NULL UNIQUE,
  grants TEXT, created_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS activity (seq INTEGER PRIMARY KEY AUTOINCREMENT, data TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS items_by_seq ON items (seq);
CREATE TABLE IF NOT EXISTS token_generation (n INTEGER NOT NULL);
INSERT INTO token_generation (n) SELECT 0 WHERE NOT EXISTS (SELECT 1 FROM token_generation);
CREATE TRIGGER IF NOT EXISTS tokens_inserted AFTER INSERT ON tokens BEGIN UPDATE token_generation SET n = n + 1; END;
CREATE TRIGGER IF NOT EXISTS tokens_updated AFTER UPDATE ON tokens BEGIN UPDATE token_generation SET n = n + 1; END;
CREATE TRIGGER IF NOT EXISTS tokens_deleted AFTER DELETE ON tokens BEGIN UPDATE token_generation SET n = n + 1; END;
CREATE TABLE IF NOT EXISTS state_versions (
  seq INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL, lineage TEXT NOT NULL, serial INTEGER NOT NULL,
  document BLOB NOT NULL, md5 TEXT NOT NULL, updated_at TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS state_versions_by_name ON state_versions (name, seq);
CREATE TABLE IF NOT EXISTS states (name TEXT PRIMARY KEY, version_seq INTEGER NOT NULL REFERENCES state_versions(seq));
CREATE TABLE IF NOT EXISTS state_locks (name TEXT PRIMARY KEY, id TEXT NOT NULL, info TEXT NOT NULL, created_at TEXT NOT NULL);
`;

/**
 * Most activity entries buffered before they are written at once; fewer are written when the event loop next
 * turns (setImmediate), before any read of the log, and when the store closes.
 */
export const ACTIVITY_BATCH_MAX = 512;

// Stores made before activity was filtered by vault lack these columns; they are added (and filled from
// each entry's JSON) when such a store is opened.
const ACTIVITY_COLUMNS = `
ALTER TABLE activity ADD COLUMN vault_id TEXT;
ALTER TABLE activity ADD COLUMN actor_id TEXT;
UPDATE activity SET vault_id = json_extract(data, '$.resource.vault.id'), actor_id = json_extract(data, '$.actor.id');
`;
// Stores made before item lists were served from a summary column lack it; it is added and filled (the item
// without its fields and sections) when such a store is opened.
const ITEM_SUMMARY_COLUMN = `
ALTER TABLE items ADD COLUMN summary TEXT;
UPDATE items SET summary = json_remove(data, '$.fields', '$.sections');
`;
// Stores made before remote states lack the tokens' state grants; the column is added (NULL: no state) when
// such a store is opened.
const TOKEN_STATES_COLUMN = `ALTER TABLE tokens ADD COLUMN states TEXT;`;
const ACTIVITY_INDEXES = `
CREATE INDEX IF NOT EXISTS activity_by_vault ON activity (vault_id, seq);
CREATE INDEX IF NOT EXISTS activity_by_actor ON activity (actor_id, seq);
`;

/** Thrown by Store.updateItem when the item is gone (deleted by a concurrent request). */
export class ItemGoneError extends Error {
  constructor() {
    super('Item not found');
    this.name = 'ItemGoneError';
  }
}

interface VaultRow {
  id: string;
  name: string;
  description: string | null;
  type: string;
  attribute_version: number;
  content_version: number;
  created_at: string;
  updated_at: string;
  items: number;
}

const VAULT_SELECT = `SELECT v.*, (SELECT COUNT(*) FROM items i WHERE i.vault_id = v.id) AS items FROM vaults v`;

function toVault(r: VaultRow): Vault {
  return {
    id: r.id,
    name: r.name,
    ...(r.description ? { description: r.description } : {}),
    attributeVersion: r.attribute_version,
    contentVersion: r.content_version,
    items: r.items,
    type: r.type as VaultType,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

/**
 * The JSON text each item object was read from or written as: an answer that is the item as stored (no files,
 * no OTP codes) is sent as that text instead of serialising the item again (a 1 MiB item cost ~3 ms more).
 * Items are never modified once read or written (every change builds a new one), so the text stays right.
 */
const itemTexts = new WeakMap<StoredItem, string>();

/** The JSON text `item` was read from or written to the store as, when it came from the store. */
export function storedItemJson(item: StoredItem): string | undefined {
  return itemTexts.get(item);
}

function itemJson(item: StoredItem): string {
  const text = JSON.stringify(item);
  itemTexts.set(item, text);
  return text;
}

function summaryOf(item: StoredItem): string {
  const { fields: _fields, sections: _sections, ...rest } = item;
  return JSON.stringify(rest);
}

interface StateVersionRow {
  seq: number;
  lineage: string;
  serial: number;
  size: number;
  md5: string;
  updated_at: string;
  document?: Buffer;
}

const STATE_META_COLUMNS = 'v.seq AS seq, v.lineage AS lineage, v.serial AS serial, length(v.document) AS size, v.md5 AS md5, v.updated_at AS updated_at';

function toStateMeta(r: StateVersionRow): StateVersionMeta {
  return { seq: r.seq, lineage: r.lineage, serial: r.serial, size: r.size, md5: r.md5, updatedAt: r.updated_at };
}

function toStateVersion(r: StateVersionRow): StateVersion {
  return { ...toStateMeta(r), document: r.document ?? Buffer.alloc(0) };
}

export class Store {
  private readonly db: Database.Database;
  /** Prepared statements by SQL text: preparing one cost more than running it on every request. */
  private readonly statements = new Map<string, Database.Statement>();
  private readonly inTransaction: Database.Transaction<(fn: () => unknown) => unknown>;
  /** Activity entries not yet written (serialised, with their filter columns), oldest first. */
  private pendingActivity: { data: string; vault: string | null; actor: string | null }[] = [];
  private activityFlushScheduled = false;
  /** Told when buffered activity entries could not be written (they are lost); default: stderr. */
  onActivityError: (err: Error, entries: number) => void = (err, n) =>
    process.stderr.write(`opsync server: could not record ${n} activity entr${n === 1 ? 'y' : 'ies'}: ${err.message}\n`);

  constructor(filename: string) {
    this.db = new Database(filename);
    if (filename !== ':memory:') this.db.pragma('journal_mode = WAL');
    this.db.pragma('busy_timeout = 5000');
    this.db.pragma('foreign_keys = ON');
    this.db.exec(SCHEMA);
    this.inTransaction = this.db.transaction((fn: () => unknown) => fn());
    this.writeTransaction(() => {
      const cols = this.sql('SELECT name FROM pragma_table_info(?)').all('activity') as { name: string }[];
      if (!cols.some((c) => c.name === 'vault_id')) this.db.exec(ACTIVITY_COLUMNS);
      const itemCols = this.sql('SELECT name FROM pragma_table_info(?)').all('items') as { name: string }[];
      if (!itemCols.some((c) => c.name === 'summary')) this.db.exec(ITEM_SUMMARY_COLUMN);
      const tokenCols = this.sql('SELECT name FROM pragma_table_info(?)').all('tokens') as { name: string }[];
      if (!tokenCols.some((c) => c.name === 'states')) this.db.exec(TOKEN_STATES_COLUMN);
      this.db.exec(ACTIVITY_INDEXES);
    });
  }

  private sql(text: string): Database.Statement {
    let s = this.statements.get(text);
    if (!s) {
      s = this.db.prepare(text);
      this.statements.set(text, s);
    }
    return s;
  }

  /** Writes the buffered activity entries first: nothing recorded is lost by closing. */
  close(): void {
    if (!this.db.open) return;
    this.flushActivity();
    this.db.close();
  }

  get open(): boolean {
    return this.db.open;
  }

  /** Runs fn in one transaction: everything or nothing. */
  transaction<T>(fn: () => T): T {
    return this.inTransaction(fn) as T;
  }

  /**
   * Runs fn in one write transaction that takes SQLite's write lock first (BEGIN IMMEDIATE): what it reads
   * cannot be changed by another connection (another process on the same file) before it writes, so a
   * read-check-write inside is atomic. Inside another transaction it is a savepoint of that one.
   */
  writeTransaction<T>(fn: () => T): T {
    return this.inTransaction.immediate(fn) as T;
  }

  /** True when the database answers a trivial query. */
  healthy(): boolean {
    try {
      return this.db.open && (this.sql('SELECT 1 AS ok').get() as { ok: number }).ok === 1;
    } catch {
      return false;
    }
  }

  /** Bytes used by the database (pages in use). */
  sizeBytes(): number {
    const pages = this.db.pragma('page_count', { simple: true }) as number;
    const size = this.db.pragma('page_size', { simple: true }) as number;
    return pages * size;
  }

  getMeta(key: string): string | undefined {
    return (this.sql('SELECT value FROM meta WHERE key = ?').get(key) as { value: string } | undefined)?.value;
  }

  setMeta(key: string, value: string): void {
    this.sql('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value').run(key, value);
  }

  // ---- vaults

  listVaults(): Vault[] {
    return (this.sql(`${VAULT_SELECT} ORDER BY v.created_at, v.name`).all() as VaultRow[]).map(toVault);
  }

  getVault(id: string): Vault | undefined {
    const r = this.sql(`${VAULT_SELECT} WHERE v.id = ?`).get(id) as VaultRow | undefined;
    return r && toVault(r);
  }

  /** Whether there is such a vault (without counting its items, as getVault does). */
  hasVault(id: string): boolean {
    return this.sql('SELECT 1 FROM vaults WHERE id = ?').get(id) !== undefined;
  }

  vaultsByName(name: string): Vault[] {
    return (this.sql(`${VAULT_SELECT} WHERE v.name = ?`).all(name) as VaultRow[]).map(toVault);
  }

  insertVault(v: { id: string; name: string; description?: string; type: VaultType; now: string }): void {
    this
      .sql(
        `INSERT INTO vaults (id, name, description, type, attribute_version, content_version, created_at, updated_at)
         VALUES (?, ?, ?, ?, 1, 1, ?, ?)`,
      )
      .run(v.id, v.name, v.description ?? null, v.type, v.now, v.now);
  }

  private touchVault(vaultId: string, now: string): void {
    this.sql('UPDATE vaults SET content_version = content_version + 1, updated_at = ? WHERE id = ?').run(now, vaultId);
  }

  // ---- items

  listItems(vaultId: string): StoredItem[] {
    return (this.sql('SELECT data FROM items WHERE vault_id = ? ORDER BY seq').all(vaultId) as { data: string }[]).map(
      (r) => JSON.parse(r.data) as StoredItem,
    );
  }

  /**
   * The items of a vault in list order without their fields and sections, read from a column of their own:
   * a list never parses the items' values (a vault of large items made every list take seconds).
   */
  listItemSummaries(vaultId: string): Omit<StoredItem, 'fields' | 'sections'>[] {
    return (this.sql('SELECT summary FROM items WHERE vault_id = ? ORDER BY seq').all(vaultId) as { summary: string }[]).map(
      (r) => JSON.parse(r.summary) as Omit<StoredItem, 'fields' | 'sections'>,
    );
  }

  getItem(vaultId: string, id: string): StoredItem | undefined {
    const r = this.sql('SELECT data FROM items WHERE vault_id = ? AND id = ?').get(vaultId, id) as { data: string } | undefined;
    if (!r) return undefined;
    const item = JSON.parse(r.data) as StoredItem;
    itemTexts.set(item, r.data);
    return item;
  }

  /** The next list position, taken inside the caller's write transaction so that no two writers share one. */
  private nextSeq(table: 'items' | 'files'): number {
    return (this.sql(`SELECT COALESCE(MAX(seq), 0) + 1 AS n FROM ${table}`).get() as { n: number }).n;
  }

  /** Inserts a new item at the end of its vault's list and bumps the vault's contentVersion, in one transaction. */
  insertItem(item: StoredItem): void {
    this.writeTransaction(() => {
      this
        .sql('INSERT INTO items (vault_id, id, version, data, summary, seq) VALUES (?, ?, ?, ?, ?, ?)')
        .run(item.vault.id, item.id, item.version, itemJson(item), summaryOf(item), this.nextSeq('items'));
      this.touchVault(item.vault.id, item.updatedAt);
    });
  }

  /**
   * Read-check-write of one item in one write transaction: reads the current item, lets `change` build the
   * new one from it (it may throw to refuse; nothing is written then), and stores it only if the version it
   * read is still the stored one, bumping the vault's contentVersion. Concurrent writers (in this process or
   * another one on the same file) are serialised, so every committed write gets its own version.
   * Throws ItemGoneError when there is no such item.
   */
  updateItem(vaultId: string, id: string, change: (current: StoredItem) => StoredItem): StoredItem {
    return this.writeTransaction(() => {
      const current = this.getItem(vaultId, id);
      if (!current) throw new ItemGoneError();
      const next = change(current);
      if (next.id !== current.id || next.vault.id !== vaultId) throw new Error('updateItem: the item changed its id or vault');
      if (next.version <= current.version) throw new Error('updateItem: the version must increase');
      const n = this
        .sql('UPDATE items SET version = ?, data = ?, summary = ? WHERE vault_id = ? AND id = ? AND version = ?')
        .run(next.version, itemJson(next), summaryOf(next), vaultId, id, current.version).changes;
      if (n !== 1) throw new Error('updateItem: the item changed under the write lock');
      this.touchVault(vaultId, next.updatedAt);
      return next;
    });
  }

  /** Deletes an item and its files; false when there was none. */
  deleteItem(vaultId: string, id: string, now: string): boolean {
    return this.writeTransaction(() => {
      const n = this.sql('DELETE FROM items WHERE vault_id = ? AND id = ?').run(vaultId, id).changes;
      if (n === 0) return false;
      this.sql('DELETE FROM files WHERE vault_id = ? AND item_id = ?').run(vaultId, id);
      this.touchVault(vaultId, now);
      return true;
    });
  }

  // ---- files

  listFiles(vaultId: string, itemId: string): FileRecord[] {
    return (
      this
        .sql(
          'SELECT id, vault_id, item_id, name, section_id, length(content) AS size FROM files WHERE vault_id = ? AND item_id = ? ORDER BY seq',
        )
        .all(vaultId, itemId) as { id: string; vault_id: string; item_id: string; name: string; section_id: string | null; size: number }[]
    ).map((r) => ({
      id: r.id,
      vaultId: r.vault_id,
      itemId: r.item_id,
      name: r.name,
      ...(r.section_id ? { sectionId: r.section_id } : {}),
      size: r.size,
    }));
  }

  fileContent(vaultId: string, itemId: string, fileId: string): Buffer | undefined {
    const r = this
      .sql('SELECT content FROM files WHERE vault_id = ? AND item_id = ? AND id = ?')
      .get(vaultId, itemId, fileId) as { content: Buffer } | undefined;
    return r?.content;
  }

  insertFile(f: { id: string; vaultId: string; itemId: string; name: string; sectionId?: string; content: Buffer }): void {
    this.writeTransaction(() => {
      this
        .sql('INSERT INTO files (id, vault_id, item_id, name, section_id, content, seq) VALUES (?, ?, ?, ?, ?, ?, ?)')
        .run(f.id, f.vaultId, f.itemId, f.name, f.sectionId ?? null, f.content, this.nextSeq('files'));
    });
  }

  // ---- tokens

  insertToken(t: TokenRecord): void {
    this
      .sql('INSERT INTO tokens (id, jti, name, hash, grants, states, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)')
      .run(t.id, t.jti, t.name, t.hash, t.grants ? JSON.stringify(t.grants) : null, t.states?.length ? JSON.stringify(t.states) : null, t.createdAt);
  }

  tokenByHash(hash: string): TokenRecord | undefined {
    const r = this.sql('SELECT * FROM tokens WHERE hash = ?').get(hash) as
      | { id: string; jti: string; name: string; hash: string; grants: string | null; states: string | null; created_at: string }
      | undefined;
    if (!r) return undefined;
    return {
      id: r.id,
      jti: r.jti,
      name: r.name,
      hash: r.hash,
      grants: r.grants ? (JSON.parse(r.grants) as TokenGrant[]) : null,
      ...(r.states ? { states: JSON.parse(r.states) as string[] } : {}),
      createdAt: r.created_at,
    };
  }

  /**
   * A number that changes whenever the token table does, by this connection or any other on the same file
   * (triggers keep it): a token found valid stays valid while it is unchanged.
   */
  tokenGeneration(): number {
    return (this.sql('SELECT n FROM token_generation').get() as { n: number }).n;
  }

  countTokens(): number {
    return (this.sql('SELECT COUNT(*) AS n FROM tokens').get() as { n: number }).n;
  }

  // ---- remote states (src/server/stateApi.ts): the current version of each, the last versions, the locks.
  // Checks that must hold at the write (lock held, lineage, serial) run in the caller's writeTransaction.

  /** The current version of a state, document included. */
  getState(name: string): StateVersion | undefined {
    const r = this
      .sql(`SELECT v.*, length(v.document) AS size FROM states s JOIN state_versions v ON v.seq = s.version_seq WHERE s.name = ?`)
      .get(name) as StateVersionRow | undefined;
    return r && toStateVersion(r);
  }

  /** The current version of a state, without its document. */
  stateMeta(name: string): StateVersionMeta | undefined {
    const r = this
      .sql(`SELECT ${STATE_META_COLUMNS} FROM states s JOIN state_versions v ON v.seq = s.version_seq WHERE s.name = ?`)
      .get(name) as StateVersionRow | undefined;
    return r && toStateMeta(r);
  }

  /** Every current state, by name, with whether it is locked. */
  listStates(): (StateVersionMeta & { name: string; locked: boolean })[] {
    const rows = this
      .sql(
        `SELECT s.name AS name, ${STATE_META_COLUMNS}, EXISTS (SELECT 1 FROM state_locks l WHERE l.name = s.name) AS locked
         FROM states s JOIN state_versions v ON v.seq = s.version_seq ORDER BY s.name`,
      )
      .all() as (StateVersionRow & { name: string; locked: number })[];
    return rows.map((r) => ({ name: r.name, ...toStateMeta(r), locked: r.locked === 1 }));
  }

  /** The kept versions of a state, newest first (also those of a deleted state). */
  stateVersions(name: string): StateVersionMeta[] {
    const rows = this.sql(`SELECT ${STATE_META_COLUMNS} FROM state_versions v WHERE v.name = ? ORDER BY v.seq DESC`).all(name) as StateVersionRow[];
    return rows.map(toStateMeta);
  }

  /** The newest kept version with this serial (and lineage, when given). */
  stateVersion(name: string, serial: number, lineage?: string): StateVersion | undefined {
    const r = (
      lineage === undefined
        ? this.sql('SELECT v.*, length(v.document) AS size FROM state_versions v WHERE v.name = ? AND v.serial = ? ORDER BY v.seq DESC LIMIT 1').get(name, serial)
        : this
            .sql('SELECT v.*, length(v.document) AS size FROM state_versions v WHERE v.name = ? AND v.serial = ? AND v.lineage = ? ORDER BY v.seq DESC LIMIT 1')
            .get(name, serial, lineage)
    ) as StateVersionRow | undefined;
    return r && toStateVersion(r);
  }

  /** Stores a new current version of a state and forgets all but its newest `keep` versions (keep >= 1). */
  putState(name: string, v: { lineage: string; serial: number; document: Buffer; md5: string; now: string }, keep: number): StateVersionMeta {
    return this.writeTransaction(() => {
      const seq = Number(
        this
          .sql('INSERT INTO state_versions (name, lineage, serial, document, md5, updated_at) VALUES (?, ?, ?, ?, ?, ?)')
          .run(name, v.lineage, v.serial, v.document, v.md5, v.now).lastInsertRowid,
      );
      this.sql('INSERT INTO states (name, version_seq) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET version_seq = excluded.version_seq').run(name, seq);
      this
        .sql('DELETE FROM state_versions WHERE name = ? AND seq NOT IN (SELECT seq FROM state_versions WHERE name = ? ORDER BY seq DESC LIMIT ?)')
        .run(name, name, Math.max(1, keep));
      return { seq, lineage: v.lineage, serial: v.serial, size: v.document.length, md5: v.md5, updatedAt: v.now };
    });
  }

  /** Removes the current version of a state (its kept versions stay listed); false when there was none. */
  deleteState(name: string): boolean {
    return this.sql('DELETE FROM states WHERE name = ?').run(name).changes > 0;
  }

  stateLock(name: string): StateLock | undefined {
    const r = this.sql('SELECT id, info, created_at FROM state_locks WHERE name = ?').get(name) as { id: string; info: string; created_at: string } | undefined;
    return r && { id: r.id, info: r.info, createdAt: r.created_at };
  }

  /** Takes the lock of a state, or returns its holder (nothing changed) when it is held. */
  lockState(name: string, lock: StateLock): StateLock | undefined {
    return this.writeTransaction(() => {
      const holder = this.stateLock(name);
      if (holder) return holder;
      this.sql('INSERT INTO state_locks (name, id, info, created_at) VALUES (?, ?, ?, ?)').run(name, lock.id, lock.info, lock.createdAt);
      return undefined;
    });
  }

  /** Releases the lock of a state held under `id`; false when it is not held under that id. */
  unlockState(name: string, id: string): boolean {
    return this.sql('DELETE FROM state_locks WHERE name = ? AND id = ?').run(name, id).changes > 0;
  }

  // ---- activity

  /**
   * Records an entry. It is buffered and written with the others of the same turn of the event loop in one
   * transaction (one insert transaction per request cost more than the rest of a GET); every read of the log
   * writes the buffer first, so a read sees every entry added before it. Another process reading the same
   * file sees an entry once the turn that added it has ended.
   */
  addActivity(a: ApiRequest): void {
    this.pendingActivity.push({ data: JSON.stringify(a), vault: a.resource.vault?.id ?? null, actor: a.actor.id ?? null });
    if (this.pendingActivity.length >= ACTIVITY_BATCH_MAX) this.flushActivity();
    else if (!this.activityFlushScheduled) {
      this.activityFlushScheduled = true;
      setImmediate(() => {
        this.activityFlushScheduled = false;
        this.flushActivity();
      });
    }
  }

  /** Writes the buffered activity entries in one transaction. A failure is reported, never thrown. */
  flushActivity(): void {
    if (this.pendingActivity.length === 0 || !this.db.open) return;
    const batch = this.pendingActivity;
    this.pendingActivity = [];
    try {
      const insert = this.sql('INSERT INTO activity (data, vault_id, actor_id) VALUES (?, ?, ?)');
      this.transaction(() => {
        for (const e of batch) insert.run(e.data, e.vault, e.actor);
      });
    } catch (err) {
      this.onActivityError(err as Error, batch.length);
    }
  }

  /**
   * Newest first. `scope` limits the entries to those on the given vaults plus those made by the given actor
   * (a scoped token sees its vaults' activity and its own requests); without it, every entry.
   */
  /** How many entries listActivity pages through with this scope. */
  countActivity(scope?: { vaults: string[]; actorId: string }): number {
    this.flushActivity();
    const row = scope
      ? this
          .sql('SELECT COUNT(*) AS n FROM activity WHERE vault_id IN (SELECT value FROM json_each(?)) OR actor_id = ?')
          .get(JSON.stringify(scope.vaults), scope.actorId)
      : this.sql('SELECT COUNT(*) AS n FROM activity').get();
    return (row as { n: number }).n;
  }

  listActivity(limit: number, offset: number, scope?: { vaults: string[]; actorId: string }): ApiRequest[] {
    this.flushActivity();
    const rows = scope
      ? this
          .sql(
            `SELECT data FROM activity WHERE vault_id IN (SELECT value FROM json_each(?)) OR actor_id = ?
             ORDER BY seq DESC LIMIT ? OFFSET ?`,
          )
          .all(JSON.stringify(scope.vaults), scope.actorId, limit, offset)
      : this.sql('SELECT data FROM activity ORDER BY seq DESC LIMIT ? OFFSET ?').all(limit, offset);
    return (rows as { data: string }[]).map((r) => JSON.parse(r.data) as ApiRequest);
  }

  countItems(): number {
    return (this.sql('SELECT COUNT(*) AS n FROM items').get() as { n: number }).n;
  }
}
