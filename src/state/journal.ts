// The state's write-ahead journal, `<state>.journal` (0600): one JSON line per state change of an apply, so
// a change costs one short append instead of a rewrite of the whole state file. Group commit: one fdatasync
// covers every line appended since the last one, so N concurrent changes cost far fewer than N syncs.
//
// Format (README "State"): a header line, then one line per change, each with the serial it gives the state:
//   {"opsyncJournal":1,"lineage":"<lineage>","base":41}
//   {"serial":42,"op":"pending","pending":{"address":"Private/db","vaultId":"…","vaultName":"Private","title":"DB","startedAt":"…"}}
//   {"serial":43,"op":"resource","resource":{ …a StateResource… }}
//   {"serial":44,"op":"settle","address":"Private/x"}          (a refused create: its pending record goes)
//   {"serial":45,"op":"forget","address":"Private/old"}
//   {"serial":46,"op":"vault","id":"…","vault":{"name":"Private","contentVersion":7}}   (or "vault":null)
// No line ever holds a secret value: a resource line is exactly a state entry, checked as strictly.
// Replay (file.ts) skips lines whose serial the state file already has (a crash between a compaction's
// rename and the journal's truncation), ignores a torn last line (no newline: a write the crash cut short),
// and refuses a gap or a journal of another lineage rather than guess.

import { close, closeSync, constants, fdatasync, fsyncSync, ftruncateSync, openSync, write, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import type { PendingCreate, StateFile, StateResource, StateVault } from './types.js';

export const JOURNAL_FORMAT_VERSION = 1;

export const journalPath = (statePath: string): string => `${statePath}.journal`;

/** One change to the state, as the journal records it (without its serial). */
export type StateChange =
  /** Record a resource as applied; its pending create (if any) is settled, and `movedFrom` is forgotten. */
  | { op: 'resource'; resource: StateResource; movedFrom?: string }
  /** Forget a resource (deleted, or removed from management). */
  | { op: 'forget'; address: string }
  /** A create about to be sent. */
  | { op: 'pending'; pending: PendingCreate }
  /** A pending create that was refused (nothing was created). */
  | { op: 'settle'; address: string }
  /** A vault's contentVersion as last seen (null: forget the vault). */
  | { op: 'vault'; id: string; vault: StateVault | null };

export type JournalEntry = StateChange & { serial: number };

export interface JournalHeader {
  opsyncJournal: typeof JOURNAL_FORMAT_VERSION;
  lineage: string;
  /** The serial of the state file this journal applies over. */
  base: number;
}

/** Apply one change in place: no copy of the state (the cost of a change does not grow with the state). */
export function applyChange(state: StateFile, change: StateChange): void {
  switch (change.op) {
    case 'resource':
      delete state.pending[change.resource.address];
      if (change.movedFrom && change.movedFrom !== change.resource.address) delete state.resources[change.movedFrom];
      state.resources[change.resource.address] = change.resource;
      return;
    case 'forget':
      delete state.resources[change.address];
      return;
    case 'pending':
      state.pending[change.pending.address] = change.pending;
      return;
    case 'settle':
      delete state.pending[change.address];
      return;
    case 'vault':
      if (change.vault) (state.vaults ??= {})[change.id] = change.vault;
      else if (state.vaults) delete state.vaults[change.id];
      return;
  }
}

export class JournalFormatError extends Error {}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

const ENTRY_KEYS: Record<StateChange['op'], Record<string, 'string' | 'object' | 'object?' | 'string?' | 'object|null'>> = {
  resource: { resource: 'object', movedFrom: 'string?' },
  forget: { address: 'string' },
  pending: { pending: 'object' },
  settle: { address: 'string' },
  vault: { id: 'string', vault: 'object|null' },
};

function checkEntry(doc: unknown, line: number): JournalEntry {
  const bad = (what: string) => new JournalFormatError(`line ${line}: ${what}`);
  if (!isObject(doc)) throw bad('not a JSON object');
  if (!Number.isSafeInteger(doc.serial) || (doc.serial as number) < 1) throw bad('"serial" must be a whole number above 0');
  const keys = ENTRY_KEYS[doc.op as StateChange['op']];
  if (typeof doc.op !== 'string' || !keys || !Object.hasOwn(ENTRY_KEYS, doc.op)) throw bad(`unknown op ${JSON.stringify(doc.op)}`);
  for (const k of Object.keys(doc)) if (k !== 'serial' && k !== 'op' && !(k in keys)) throw bad(`${k}: unknown property`);
  for (const [k, type] of Object.entries(keys)) {
    const v = doc[k];
    const ok =
      type === 'string' ? typeof v === 'string'
      : type === 'string?' ? v === undefined || typeof v === 'string'
      : type === 'object' ? isObject(v)
      : type === 'object?' ? v === undefined || isObject(v)
      : v === null || isObject(v);
    if (!ok) throw bad(`${k}: must be ${type.replace('?', '').replace('|', ' or ')}`);
  }
  return doc as unknown as JournalEntry;
}

/**
 * A journal's text: its header (undefined when the file is empty or only a torn header) and its entries.
 * Only the text after the last newline may be incomplete (a torn append): it is ignored. Any other line that
 * is not a valid entry is damage, and refused.
 */
export function parseJournal(text: string): { header?: JournalHeader; entries: JournalEntry[]; torn: boolean } {
  const lines = text.split('\n');
  const tail = lines.pop() ?? '';
  const torn = tail.length > 0;
  if (lines.length === 0) return { entries: [], torn };
  let header: unknown;
  try {
    header = JSON.parse(lines[0]);
  } catch {
    throw new JournalFormatError('line 1: not an opsync state journal (not JSON)');
  }
  if (!isObject(header) || !('opsyncJournal' in header)) throw new JournalFormatError('line 1: not an opsync state journal');
  if (header.opsyncJournal !== JOURNAL_FORMAT_VERSION) {
    throw new JournalFormatError(`journal format ${JSON.stringify(header.opsyncJournal)}; this opsync reads ${JOURNAL_FORMAT_VERSION}: upgrade opsync`);
  }
  if (typeof header.lineage !== 'string' || header.lineage === '' || !Number.isSafeInteger(header.base) || (header.base as number) < 0) {
    throw new JournalFormatError('line 1: the header needs a lineage and a whole-number base');
  }
  const entries: JournalEntry[] = [];
  for (let i = 1; i < lines.length; i++) {
    let doc: unknown;
    try {
      doc = JSON.parse(lines[i]);
    } catch {
      throw new JournalFormatError(`line ${i + 1}: not valid JSON (and not the last line: the journal is damaged)`);
    }
    entries.push(checkEntry(doc, i + 1));
  }
  return { header: header as unknown as JournalHeader, entries, torn };
}

/** The kill -9 test's hook: die at the nth compaction, after the state file is written, before the journal is truncated. */
const KILL_IN_COMPACTION = Number(process.env.OPSYNC_TEST_KILL_IN_COMPACTION ?? 0);
let compactions = 0;
export function compactionWritten(): void {
  compactions += 1;
  if (KILL_IN_COMPACTION > 0 && compactions === KILL_IN_COMPACTION) process.kill(process.pid, 'SIGKILL');
}

interface Waiter {
  resolve: () => void;
  reject: (err: Error) => void;
}

const writeAsync = (fd: number, text: string) =>
  new Promise<void>((resolve, reject) => {
    const buf = Buffer.from(text);
    const step = (offset: number) =>
      write(fd, buf, offset, buf.length - offset, null, (err, n) => {
        if (err) reject(err);
        else if (offset + n < buf.length) step(offset + n);
        else resolve();
      });
    step(0);
  });
const syncAsync = (fd: number) => new Promise<void>((resolve, reject) => fdatasync(fd, (err) => (err ? reject(err) : resolve())));

export interface JournalStats {
  /** Lines appended (changes). */
  lines: number;
  /** Appends that reached the disk together. */
  batches: number;
  /** fdatasync calls on the journal. */
  fsyncs: number;
}

/**
 * Appends entries with group commit: everything appended while a write and fdatasync are in flight goes out
 * in the next batch, under one sync. The I/O is asynchronous, so requests keep flowing while the disk syncs.
 * Single writer: the state lock is held by the store that owns this.
 */
export class JournalWriter {
  private fd: number | undefined;
  private queue: string[] = [];
  private queued: Waiter[] = [];
  private inflight: Waiter[] | undefined;
  private scheduled = false;
  /** Something queued is waited on (not lazy, or a sync): the next batch goes at once. */
  private urgent = false;
  private lazyTimer: NodeJS.Timeout | undefined;
  /** Nothing written since the file was created or truncated: the next batch starts with the header. */
  private empty = true;
  private truncateAfterIo = false;
  private closeAfterIo = false;
  private closed = false;
  private error: Error | undefined;
  readonly stats: JournalStats = { lines: 0, batches: 0, fsyncs: 0 };

  constructor(
    readonly path: string,
    private readonly header: () => JournalHeader,
    /** Called between batches, with no I/O in flight (the store compacts here when it is time). */
    private readonly afterBatch: () => void,
    /** How long lazy entries may wait for company before they are committed. */
    private readonly lazyMs = 20,
  ) {}

  /** The sticky error of a failed write: every later append fails with it. */
  get failed(): Error | undefined {
    return this.error;
  }

  /**
   * Append an entry; the promise resolves once it is durable. `lazy`: nothing waits on it, so its commit may wait
   * up to `lazyMs` to share one fdatasync with more entries (each costs the disk, and this machine's CPU, far
   * more than the line); an entry that is not lazy, or a sync(), commits everything queued at once.
   */
  append(entry: JournalEntry, lazy = false): Promise<void> {
    if (this.error) return Promise.reject(this.error);
    if (this.closed) return Promise.reject(new Error('the state journal is closed'));
    this.queue.push(`${JSON.stringify(entry)}\n`);
    this.stats.lines += 1;
    if (!lazy) this.urgent = true;
    const done = new Promise<void>((resolve, reject) => this.queued.push({ resolve, reject }));
    this.schedule();
    return done;
  }

  /** Resolves once everything appended so far is durable (and commits what is queued without delay). */
  sync(): Promise<void> {
    if (this.error) return Promise.reject(this.error);
    const target = this.queued.length > 0 ? this.queued : this.inflight;
    if (!target) return Promise.resolve();
    if (this.queued.length > 0) {
      this.urgent = true;
      this.schedule();
    }
    return new Promise<void>((resolve, reject) => target.push({ resolve, reject }));
  }

  /**
   * The state file now holds everything appended so far (a compaction): every waiter is done, and the journal
   * is emptied (at once, or as soon as the write in flight ends; the lines it adds are older than the state).
   */
  reset(): void {
    for (const w of this.queued) w.resolve();
    this.queue = [];
    this.queued = [];
    this.urgent = false;
    if (this.lazyTimer) clearTimeout(this.lazyTimer);
    this.lazyTimer = undefined;
    if (this.inflight) {
      for (const w of this.inflight) w.resolve();
      this.inflight = [];
      this.truncateAfterIo = true;
    } else {
      this.truncate();
    }
  }

  /** Stop writing (the store has compacted); the descriptor closes once no I/O is in flight. */
  close(): void {
    this.closed = true;
    if (this.lazyTimer) clearTimeout(this.lazyTimer);
    this.lazyTimer = undefined;
    if (this.inflight) this.closeAfterIo = true;
    else this.closeFd();
  }

  private schedule(): void {
    if (this.scheduled || this.inflight) return;
    if (!this.urgent) {
      // Only lazy entries: commit them a little later, with whatever comes meanwhile.
      this.lazyTimer ??= setTimeout(() => {
        this.lazyTimer = undefined;
        this.urgent = true;
        this.schedule();
      }, this.lazyMs);
      return;
    }
    if (this.lazyTimer) {
      clearTimeout(this.lazyTimer);
      this.lazyTimer = undefined;
    }
    this.scheduled = true;
    // Let every change made in this turn of the event loop join the batch.
    setImmediate(() => {
      this.scheduled = false;
      void this.pump();
    });
  }

  private open(): number {
    if (this.fd === undefined) {
      this.fd = openSync(this.path, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW, 0o600);
      // The journal's own directory entry must survive a crash too.
      try {
        const dfd = openSync(dirname(this.path), 'r');
        try {
          fsyncSync(dfd);
        } finally {
          closeSync(dfd);
        }
      } catch {
        /* some filesystems cannot fsync a folder */
      }
    }
    return this.fd;
  }

  private truncate(): void {
    if (this.fd !== undefined) ftruncateSync(this.fd, 0);
    this.empty = true;
  }

  private closeFd(): void {
    if (this.fd !== undefined) close(this.fd, () => undefined);
    this.fd = undefined;
  }

  private async pump(): Promise<void> {
    while (this.queue.length > 0 && this.urgent && !this.error && !this.closed) {
      const lines = this.queue;
      const waiters = this.queued;
      this.queue = [];
      this.queued = [];
      this.urgent = false;
      this.inflight = waiters;
      try {
        const fd = this.open();
        const text = (this.empty ? `${JSON.stringify(this.header())}\n` : '') + lines.join('');
        this.empty = false;
        await writeAsync(fd, text);
        await syncAsync(fd);
        this.stats.batches += 1;
        this.stats.fsyncs += 1;
      } catch (err) {
        const e = err as NodeJS.ErrnoException;
        this.error = new Error(`cannot write the state journal ${this.path}: ${e.code ?? e.message}`);
        for (const w of [...this.inflight, ...this.queued]) w.reject(this.error);
        this.queue = [];
        this.queued = [];
        this.inflight = undefined;
        return;
      }
      const done = this.inflight;
      this.inflight = undefined;
      if (this.truncateAfterIo) {
        this.truncateAfterIo = false;
        this.truncate();
      }
      if (this.closeAfterIo) {
        this.closeFd();
        return;
      }
      for (const w of done) w.resolve();
      this.afterBatch();
    }
    // Lazy entries queued while the batch was in flight wait for their timer (or the next urgent one).
    if (this.queue.length > 0 && !this.error && !this.closed) this.schedule();
  }

  /** Write the header and entries synchronously (tests and tools that build a journal by hand). */
  static writeSync(path: string, header: JournalHeader, entries: JournalEntry[]): void {
    const fd = openSync(path, 'w', 0o600);
    try {
      writeSync(fd, [header, ...entries].map((e) => `${JSON.stringify(e)}\n`).join(''));
    } finally {
      closeSync(fd);
    }
  }
}
