// The state under its lock: every update bumps the serial and is written atomically before it takes effect.

import { acquireLock, type Lock } from './lock.js';
import { readState, writeStateAtomic } from './file.js';
import type { StateFile } from './types.js';

export class StateStore {
  private current: StateFile;

  private constructor(
    readonly path: string,
    private readonly lock: Lock,
    state: StateFile,
  ) {
    this.current = state;
  }

  static async open(path: string, opts: { lockTimeoutMs: number; command: string }): Promise<StateStore> {
    const lock = await acquireLock(path, { timeoutMs: opts.lockTimeoutMs, command: opts.command });
    try {
      return new StateStore(path, lock, readState(path));
    } catch (err) {
      lock.release();
      throw err;
    }
  }

  /** The lock this store holds (e.g. to tell that a stale one was taken over). */
  get lockInfo(): Lock {
    return this.lock;
  }

  get state(): StateFile {
    return this.current;
  }

  /** Mutate a copy, bump the serial, write it; on a failed write nothing changes, in memory or on disk. */
  update(mutate: (draft: StateFile) => void): void {
    const draft = structuredClone(this.current);
    mutate(draft);
    draft.serial = this.current.serial + 1;
    writeStateAtomic(this.path, draft);
    this.current = draft;
  }

  close(): void {
    this.lock.release();
  }
}
