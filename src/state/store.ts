// The state under its lock. Two ways to change it:
//  - `change()`, for the many small changes of an apply: applied in memory at once (no copy of the state),
//    appended to the journal (`<state>.journal`, see journal.ts) with group commit, durable when its promise
//    resolves. Every few thousand changes or seconds, and on close, the state is compacted: written whole
//    into the state file atomically, and the journal emptied.
//  - `update()`, for a one-off edit (state mv/rm, import, the backend): a copy is mutated and the whole state
//    written atomically before it takes effect; on a failed write nothing changes.
// The serial is bumped by every change either way, so it counts changes, whatever the compactions: a saved
// plan made on serial N applies only while the state (file and journal together) is still at N.

import { existsSync, rmSync } from 'node:fs';
import { acquireLock, type LocalLock } from './lock.js';
import type { StateHandle } from './handle.js';
import { readStateFile, replayJournal, StateError, writeStateAtomic } from './file.js';
import { applyChange, compactionWritten, journalPath, JournalWriter, type JournalStats, type StateChange } from './journal.js';
import type { StateFile } from './types.js';

export interface CompactPolicy {
  /**
   * Compact after this many journaled changes (OPSYNC_STATE_COMPACT_EVERY sets it exactly). Default: 4096, or
   * twice as many as the state had resources at the last compaction if more (a create journals two changes), so
   * that the cost of compacting (writing the whole state) stays in proportion to the changes it covers and an
   * apply stays linear at any size.
   */
  changes: number;
  /** Grow `changes` with the state, as above (the default; off when a count is set). */
  scaled: boolean;
  /** ...or when this long has passed since the last compaction and something changed. Default 10 s. */
  ms: number;
}

export interface StoreStats extends JournalStats {
  /** Times the whole state was written into the state file (compactions and updates). */
  stateWrites: number;
  /** Entries replayed from a crashed run's journal when the store opened. */
  replayed: number;
}

/** The policy: a count given (in `given` or OPSYNC_STATE_COMPACT_EVERY) is exact; the default grows with the state. */
function compactPolicy(given: Partial<CompactPolicy> = {}): CompactPolicy {
  const every = Number(process.env.OPSYNC_STATE_COMPACT_EVERY);
  const fromEnv = Number.isSafeInteger(every) && every > 0 ? every : undefined;
  const changes = given.changes ?? fromEnv;
  return { changes: changes ?? 4096, scaled: changes === undefined, ms: 10_000, ...given };
}

export class StateStore implements StateHandle {
  private current: StateFile;
  private writer: JournalWriter | undefined;
  /** The serial the state file has on disk. */
  private fileSerial: number;
  private lastCompact = Date.now();
  /** Journaled changes that make the next compaction due (policy.changes, grown with the state when scaled). */
  private compactAt: number;
  private closed = false;
  private readonly counts = { stateWrites: 0, replayed: 0 };

  private constructor(
    readonly path: string,
    private readonly lock: LocalLock,
    state: StateFile,
    private readonly policy: CompactPolicy,
  ) {
    this.current = state;
    this.fileSerial = state.serial;
    this.compactAt = this.threshold();
  }

  private threshold(): number {
    return this.policy.scaled ? Math.max(this.policy.changes, 2 * Object.keys(this.current.resources).length) : this.policy.changes;
  }

  /**
   * Take the lock and read the state; a journal left by a crashed run is replayed over it and compacted at
   * once, so the store starts with an empty journal.
   */
  static async open(
    path: string,
    opts: { lockTimeoutMs: number; command: string; compact?: Partial<CompactPolicy>; env?: NodeJS.ProcessEnv },
  ): Promise<StateStore> {
    const lock = await acquireLock(path, { timeoutMs: opts.lockTimeoutMs, command: opts.command, env: opts.env });
    try {
      const state = readStateFile(path);
      const fileSerial = state.serial;
      const { applied, exists } = replayJournal(state, path);
      const store = new StateStore(path, lock, state, compactPolicy(opts.compact));
      store.counts.replayed = applied;
      if (applied > 0 || state.serial !== fileSerial) store.writeFile();
      if (exists) rmSync(journalPath(path), { force: true });
      return store;
    } catch (err) {
      lock.release();
      throw err;
    }
  }

  /** The lock this store holds (e.g. to tell that a stale one was taken over). */
  get lockInfo(): LocalLock {
    return this.lock;
  }

  /** The live state: changes apply to it in place; read it, never mutate it. */
  get state(): StateFile {
    return this.current;
  }

  /** What messages call it: the state file's path. */
  get name(): string {
    return this.path;
  }

  get stats(): StoreStats {
    const j = this.writer?.stats ?? { lines: 0, batches: 0, fsyncs: 0 };
    return { ...j, ...this.counts };
  }

  /**
   * Journal changes: each bumps the serial and applies in memory at once; the promise resolves when they are
   * durable (one fsync for all changes made meanwhile) and rejects if the journal cannot be written. Await it
   * before acting on a change (a pending create before its request is sent).
   */
  change(...changes: StateChange[]): Promise<void> {
    return this.journal(changes, false);
  }

  /** As change(), for changes nothing waits on: their commit may wait a few milliseconds to share an fsync. */
  note(...changes: StateChange[]): Promise<void> {
    return this.journal(changes, true);
  }

  private journal(changes: StateChange[], lazy: boolean): Promise<void> {
    if (this.closed) return Promise.reject(new StateError(`state ${this.path} is closed`));
    const writer = (this.writer ??= new JournalWriter(
      journalPath(this.path),
      () => ({ opsyncJournal: 1, lineage: this.current.lineage, base: this.fileSerial }),
      () => this.maybeCompact(),
    ));
    if (writer.failed) return Promise.reject(new StateError(writer.failed.message));
    let last: Promise<void> = Promise.resolve();
    for (const c of changes) {
      applyChange(this.current, c);
      this.current.serial += 1;
      last = writer.append({ serial: this.current.serial, ...c }, lazy);
    }
    const durable = last.catch((err: Error) => {
      throw new StateError(err.message);
    });
    durable.catch(() => undefined); // a caller that does not wait must not crash the process; the error sticks
    return durable;
  }

  /** Resolves once every change so far is durable. */
  async flush(): Promise<void> {
    if (this.writer) await this.writer.sync();
  }

  /** Write the whole state into the state file now and empty the journal. */
  compact(): void {
    if (this.current.serial === this.fileSerial) return;
    this.writeFile();
    compactionWritten();
    this.writer?.reset();
  }

  /** Mutate a copy, bump the serial, write the whole state; on a failed write nothing changes, in memory or on disk. */
  update(mutate: (draft: StateFile) => void): void {
    const draft = structuredClone(this.current);
    mutate(draft);
    draft.serial = this.current.serial + 1;
    writeStateAtomic(this.path, draft);
    this.counts.stateWrites += 1;
    this.current = draft;
    this.fileSerial = draft.serial;
    this.lastCompact = Date.now();
    this.compactAt = this.threshold();
    this.writer?.reset();
  }

  /** Compact what the journal holds, stop journaling and release the lock (even when the compaction fails). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      try {
        this.compact();
      } finally {
        this.writer?.close(); // a failed compaction too: nothing may be appended once the lock is gone
      }
      if (this.writer && existsSync(journalPath(this.path))) rmSync(journalPath(this.path), { force: true });
    } finally {
      this.lock.release();
    }
  }

  private writeFile(): void {
    writeStateAtomic(this.path, this.current);
    this.counts.stateWrites += 1;
    this.fileSerial = this.current.serial;
    this.lastCompact = Date.now();
    this.compactAt = this.threshold();
  }

  private maybeCompact(): void {
    const pending = this.current.serial - this.fileSerial;
    if (pending >= this.compactAt || (pending > 0 && Date.now() - this.lastCompact >= this.policy.ms)) {
      try {
        this.compact();
      } catch {
        /* the journal still holds every change; the next compaction (or the next open) tries again */
      }
    }
  }
}
