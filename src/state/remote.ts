// A remote backend's state under its lock, for an apply (or import, export, state rm|mv): the remote holds
// every change, so a run that dies on one machine is carried on from another (a CI runner is gone after a
// kill). Group commit, as the local journal does: a change resolves once a write of the whole state that
// includes it has been stored; everything changed while a write is in flight goes out in the next one, so
// N concurrent changes cost far fewer than N writes. A pending create is stored before its request is sent
// (the apply awaits it), so nothing is created twice whatever the moment of a crash.
//
// When the last write fails (the backend is unreachable at the end of an apply), the state is saved to
// opsync.errored.json beside the project, and the error says how to push it (Terraform's errored.tfstate).

import { writeFileAtomic } from '../files.js';
import type { StateBackend } from './backend.js';
import { emptyState, serialiseState, StateError } from './file.js';
import type { StateHandle } from './handle.js';
import { applyChange, type StateChange } from './journal.js';
import { acquire, type Lock } from './lock.js';
import type { StoreStats } from './store.js';
import type { StateFile } from './types.js';

export const ERRORED_FILE = 'opsync.errored.json';

export interface RemoteOpenOptions {
  lockTimeoutMs: number;
  command: string;
  env?: NodeJS.ProcessEnv;
  /** Where to save the state when its last write fails (default ./opsync.errored.json). */
  erroredPath?: string;
  /** How `state push` is spelled for the saved file in the error (default `opsync state push <path>`). */
  pushHint?: string;
}

export class RemoteStore implements StateHandle {
  private current: StateFile;
  /** The serial the backend has stored. */
  private storedSerial: number;
  /** The lineage stored, or null when nothing is stored yet. */
  private storedLineage: string | null;
  /** The write in flight, if any. */
  private inFlight: Promise<void> | undefined;
  /** Waiters for the next write. */
  private waiters: { serial: number; resolve: () => void; reject: (e: Error) => void }[] = [];
  private failed: Error | undefined;
  private closed = false;
  private updating = false;
  private readonly counts = { lines: 0, batches: 0 };

  private constructor(
    readonly backend: StateBackend,
    readonly lockInfo: Lock,
    state: StateFile,
    stored: boolean,
    private readonly opts: RemoteOpenOptions,
  ) {
    this.current = state;
    this.storedSerial = state.serial;
    this.storedLineage = stored ? state.lineage : null;
  }

  /** Take the backend's lock (waiting up to lockTimeoutMs) and read its state (a new, empty one when none). */
  static async open(backend: StateBackend, opts: RemoteOpenOptions): Promise<RemoteStore> {
    const lock = await acquire(backend, { timeoutMs: opts.lockTimeoutMs, command: opts.command, env: opts.env });
    try {
      const stored = await backend.read();
      return new RemoteStore(backend, lock, stored ?? emptyState(), stored !== undefined, opts);
    } catch (err) {
      await backend.unlock(lock.id).catch(() => undefined);
      throw err;
    }
  }

  get name(): string {
    return this.backend.name;
  }

  get state(): StateFile {
    return this.current;
  }

  get stats(): StoreStats {
    return { lines: this.counts.lines, batches: this.counts.batches, fsyncs: 0, stateWrites: this.counts.batches, replayed: 0 };
  }

  change(...changes: StateChange[]): Promise<void> {
    if (this.closed) return Promise.reject(new StateError(`state ${this.name} is closed`));
    if (this.failed) return Promise.reject(this.failed);
    if (this.updating) return Promise.reject(new StateError(`state ${this.name}: a change was made while the whole state was being written`));
    for (const c of changes) {
      applyChange(this.current, c);
      this.current.serial += 1;
      this.counts.lines += 1;
    }
    const durable = this.waitFor(this.current.serial);
    durable.catch(() => undefined); // a caller that does not wait must not crash the process; the error sticks
    return durable;
  }

  /** As change(): every write already carries whatever was changed while the one before it was stored. */
  note(...changes: StateChange[]): Promise<void> {
    return this.change(...changes);
  }

  flush(): Promise<void> {
    if (this.failed) return Promise.reject(this.failed);
    return this.waitFor(this.current.serial);
  }

  async update(mutate: (draft: StateFile) => void): Promise<void> {
    await this.flush();
    const draft = structuredClone(this.current);
    mutate(draft);
    draft.serial = this.current.serial + 1;
    // No change() while the draft is written: it would be lost when the draft takes the state's place.
    this.updating = true;
    try {
      await this.backend.write(draft, { lockId: this.lockInfo.id, stored: this.known() });
    } catch (err) {
      throw new StateError(this.cannotWrite(err));
    } finally {
      this.updating = false;
    }
    this.counts.batches += 1;
    this.current = draft;
    this.storedSerial = draft.serial;
    this.storedLineage = draft.lineage;
  }

  /**
   * Store what is left, release the lock and the backend. When the last write fails, the state goes to
   * opsync.errored.json and the error says how to push it; the lock is released either way if it can be.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    let lost: Error | undefined;
    try {
      await this.flush();
    } catch (err) {
      lost = err as Error;
      // One more try of the whole state, once what failed may have passed (the backend retries too).
      if (this.current.serial > this.storedSerial) {
        this.failed = undefined;
        try {
          await this.flush();
          lost = undefined;
        } catch (again) {
          lost = again as Error;
        }
      }
    }
    this.closed = true;
    const unsaved = lost !== undefined && this.current.serial > this.storedSerial;
    let unlockFailed: Error | undefined;
    // Changes the backend does not have keep the lock: no other run may apply over them before they are pushed.
    if (!unsaved) {
      try {
        await this.backend.unlock(this.lockInfo.id);
      } catch (err) {
        unlockFailed = err as Error;
      }
    }
    await this.backend.close().catch(() => undefined);
    if (lost && unsaved) {
      const path = this.opts.erroredPath ?? ERRORED_FILE;
      const prefix = `cannot write state ${this.name}: `;
      const reason = lost.message.startsWith(prefix) ? lost.message.slice(prefix.length) : lost.message;
      try {
        writeFileAtomic(path, serialiseState(this.current), 0o600);
      } catch (err) {
        throw new StateError(
          `cannot write state ${this.name}: ${reason}; nor could it be saved to ${path} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}): the last changes of this run are lost; run \`opsync plan\` to see them`,
        );
      }
      const push = this.opts.pushHint ?? `opsync state push ${path}`;
      // In the order to run them: the lock is kept until the push (on this host the push takes it over itself).
      throw new StateError(
        `cannot write state ${this.name}: ${reason}; the state of this run is saved in ${path}, and the lock ${this.lockInfo.id} is kept so that no other run applies over it: once the backend is reachable, run \`opsync force-unlock ${this.lockInfo.id}\`, then \`${push}\``,
      );
    }
    if (lost) throw lost;
    if (unlockFailed) {
      throw new StateError(`state ${this.name} was stored, but its lock could not be released (${unlockFailed.message}); release it with \`opsync force-unlock ${this.lockInfo.id}\``);
    }
  }

  /** `cannot write state NAME: why`, once (backend messages often start with `state NAME: ` already). */
  private cannotWrite(err: unknown): string {
    const message = err instanceof Error ? err.message : String(err);
    const prefix = `state ${this.name}: `;
    return `cannot write state ${this.name}: ${message.startsWith(prefix) ? message.slice(prefix.length) : message}`;
  }

  /**
   * What this store last stored (it holds the lock, so nobody else wrote since); undefined when the backend
   * takes no locks (then somebody else may have, and the backend reads the state back to compare).
   */
  private known(): { lineage: string; serial: number } | null | undefined {
    if (this.backend.locking === false) return undefined;
    return this.storedLineage === null ? null : { lineage: this.storedLineage, serial: this.storedSerial };
  }

  /** Resolves once the backend has stored `serial` or later. */
  private waitFor(serial: number): Promise<void> {
    if (serial <= this.storedSerial) return Promise.resolve();
    const p = new Promise<void>((resolve, reject) => this.waiters.push({ serial, resolve, reject }));
    this.pump();
    return p;
  }

  /** Start a write of the whole state unless one is in flight (its end starts the next). */
  private pump(): void {
    if (this.inFlight || this.failed || this.waiters.length === 0) return;
    const { serial, lineage } = this.current;
    // The backend serialises the state before its first await: later changes go in the next write.
    const write = this.backend.write(this.current, { lockId: this.lockInfo.id, stored: this.known() });
    this.counts.batches += 1;
    this.inFlight = write.then(
      () => {
        this.inFlight = undefined;
        this.storedSerial = Math.max(this.storedSerial, serial);
        this.storedLineage = lineage;
        const done = this.waiters.filter((w) => w.serial <= serial);
        this.waiters = this.waiters.filter((w) => w.serial > serial);
        for (const w of done) w.resolve();
        this.pump();
      },
      (err: unknown) => {
        this.inFlight = undefined;
        this.failed = new StateError(this.cannotWrite(err));
        const waiting = this.waiters;
        this.waiters = [];
        for (const w of waiting) w.reject(this.failed);
      },
    );
  }
}

