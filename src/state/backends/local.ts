// The local backend: the state file, its journal and its lock file, as a StateBackend (what `state pull`,
// `state push` and `state migrate` use, and what the contract tests hold to the same rules as the remote
// ones). Applies on a local state go through StateStore (store.ts), which journals.

import { existsSync, rmSync } from 'node:fs';
import { LockError, StateConflictError, type LockHolder, type StateBackend, type WriteOptions } from '../backend.js';
import { readState, writeStateAtomic } from '../file.js';
import { journalPath } from '../journal.js';
import { localLockHolder, lockFile, unlockFile } from '../lock.js';
import type { StateFile } from '../types.js';
import { checkWrite } from './compare.js';

export class LocalBackend implements StateBackend {
  readonly type = 'local' as const;
  constructor(readonly path: string) {}

  get name(): string {
    return this.path;
  }

  async read(): Promise<StateFile | undefined> {
    if (!existsSync(this.path) && !existsSync(journalPath(this.path))) return undefined;
    return readState(this.path);
  }

  async write(state: StateFile, opts: WriteOptions = {}): Promise<void> {
    this.checkLock(opts.lockId);
    if (!opts.force) checkWrite(await this.read(), state, this.name);
    writeStateAtomic(this.path, state);
    // What was written supersedes a journal a crashed run left (read() above replayed it into the compare).
    rmSync(journalPath(this.path), { force: true });
  }

  async delete(opts: WriteOptions = {}): Promise<void> {
    this.checkLock(opts.lockId);
    rmSync(this.path, { force: true });
    rmSync(journalPath(this.path), { force: true });
  }

  async lock(info: Omit<LockHolder, 'id'>): Promise<LockHolder> {
    return lockFile(this.path, info);
  }

  async unlock(id: string): Promise<void> {
    if (!unlockFile(this.path, id)) throw new LockError(`state ${this.name} is not locked under ${id}`, localLockHolder(this.path));
  }

  async forceUnlock(id: string): Promise<void> {
    const holder = localLockHolder(this.path);
    if (!holder) throw new LockError(`state ${this.name} is not locked`);
    if (holder.id !== id) throw new LockError(`state ${this.name} is locked under ${holder.id}, not ${id}; nothing was unlocked`, holder);
    if (!unlockFile(this.path, id)) throw new LockError(`state ${this.name}: the lock changed hands; nothing was unlocked`, localLockHolder(this.path));
  }

  async close(): Promise<void> {}

  /** A write while someone holds the lock must name its id. */
  private checkLock(lockId: string | undefined): void {
    const holder = localLockHolder(this.path);
    if (holder && holder.id !== lockId) {
      throw new StateConflictError(`state ${this.name} is locked under ${holder.id}${lockId ? `, not ${lockId}` : ''}; nothing was written`);
    }
  }
}
