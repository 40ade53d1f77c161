// What an apply, import, export or `state rm|mv` holds while it changes a state, whatever the backend: the
// state under its lock, changed in place with durable promises. StateStore (store.ts) is the local one, with
// its journal; RemoteStore (remote.ts) holds a remote backend's state.

import type { StateChange } from './journal.js';
import type { Lock } from './lock.js';
import type { StoreStats } from './store.js';
import type { StateFile } from './types.js';

export interface StateHandle {
  /** What messages call the state (a path, or `http https://…/state/prod`). */
  readonly name: string;
  /** The live state: changes apply to it in place; read it, never mutate it. */
  readonly state: StateFile;
  /** The lock held (its id, and a dead holder taken over). */
  readonly lockInfo: Lock;
  readonly stats: StoreStats;
  /**
   * Record changes: each bumps the serial and applies in memory at once; the promise resolves when they are
   * durable (local: journaled and synced; remote: stored by the backend) and rejects if they cannot be.
   */
  change(...changes: StateChange[]): Promise<void>;
  /**
   * As change(), for changes nothing waits on (a create's result, covered by its pending record until then):
   * durable with a later commit, which may wait a few milliseconds to share its sync with more changes.
   */
  note(...changes: StateChange[]): Promise<void>;
  /** Resolves once every change so far is durable. */
  flush(): Promise<void>;
  /** Mutate a copy, bump the serial and store it whole; on a failed write nothing changes. */
  update(mutate: (draft: StateFile) => void): void | Promise<void>;
  /** Make everything durable, release the lock. Throws when the final write failed (after saying where the state went). */
  close(): void | Promise<void>;
}
