// Locks. Two parts:
//  - `acquire()`, for every backend: take the lock, wait for a holder up to --lock-timeout, and take over a
//    lock whose holder ran on this host and is dead (a kill -9'd apply) by force-unlocking its id. A holder
//    on another host is never taken over: the error names it and says `opsync force-unlock <id>`.
//  - the local lock file `<state>.lock`, created exclusively, holding its LockHolder as JSON (files written
//    by earlier versions, {pid, host, command, createdAt}, are still read).

import { randomUUID } from 'node:crypto';
import { closeSync, mkdirSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { readRegularFile } from '../files.js';
import { describeHolder, lockHolderInfo, LockError, type LockHolder } from './backend.js';

export { LockError };
/** What earlier versions called a lock's holder. */
export type LockInfo = LockHolder;

export interface Lock {
  /** The lock id: what unlock and force-unlock take. */
  readonly id: string;
  readonly holder: LockHolder;
  /** A dead holder on this host whose lock was taken over. */
  readonly staleTakenOver?: LockHolder;
}

/** A local lock, released with the process's own id. */
export interface LocalLock extends Lock {
  readonly path: string;
  release(): void;
}

/** Whether a process of this host is alive (EPERM: alive, someone else's). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The part of a backend that locking needs. */
export interface Lockable {
  readonly name: string;
  lock(info: Omit<LockHolder, 'id'>): Promise<LockHolder>;
  forceUnlock(id: string): Promise<void>;
}

/**
 * Take `backend`'s lock for `command`, waiting up to `timeoutMs` for its holder; a dead holder of this host
 * is taken over at once. Throws LockError naming the holder and the way out.
 */
export async function acquire(backend: Lockable, opts: { timeoutMs: number; command: string; env?: NodeJS.ProcessEnv }): Promise<Lock> {
  const info = lockHolderInfo(opts.command, opts.env);
  const deadline = Date.now() + opts.timeoutMs;
  let staleTakenOver: LockHolder | undefined;
  for (;;) {
    let holder: LockHolder | undefined;
    try {
      const got = await backend.lock(info);
      return { id: got.id, holder: got, ...(staleTakenOver ? { staleTakenOver } : {}) };
    } catch (err) {
      // Held: a LockError naming its holder. Anything else (a folder in the way, no network) is no wait's to fix.
      if (!(err instanceof LockError) || !err.holder) throw err;
      holder = err.holder;
    }
    if (holder?.id && holder.pid && sameMachine(holder, info) && !alive(holder.pid)) {
      // Stale: force-unlock that very id (if another contender took it over first, the id no longer matches).
      let freed = false;
      try {
        await backend.forceUnlock(holder.id);
        staleTakenOver = holder;
        freed = true;
      } catch {
        /* someone else took it over first, or the backend refused: wait as for any holder */
      }
      if (freed) continue;
    }
    if (Date.now() >= deadline) throw heldError(backend.name, holder);
    await new Promise((r) => setTimeout(r, Math.min(200, Math.max(10, deadline - Date.now()))));
  }
}

/**
 * Whether a holder ran where this process runs, so that its pid means the same here: the same host name and,
 * when the holder says it, the same kernel boot and pid namespace (containers often share a host name, not
 * their processes). A holder written before `machine` existed is judged by its host name.
 */
function sameMachine(holder: LockHolder, info: Omit<LockHolder, 'id'>): boolean {
  if (holder.host !== info.host) return false;
  return holder.machine === undefined || holder.machine === info.machine;
}

/** `state X is locked: lock … held by …; wait for it (--lock-timeout), or if that run is gone: opsync force-unlock ID`. */
export function heldError(name: string, holder: LockHolder | undefined): LockError {
  if (!holder?.id) return new LockError(`state ${name} is locked by an unknown holder; wait for it (--lock-timeout)`, holder);
  const way = `opsync force-unlock ${holder.id}`;
  return new LockError(`state ${name} is locked: ${describeHolder(holder)}; wait for it (--lock-timeout), or if that run is gone: ${way}`, holder);
}

// --- The local lock file ---

export const lockPath = (statePath: string): string => `${statePath}.lock`;

/** The holder a lock file names (today's format or an earlier one), or undefined when unreadable. */
export function readLockFile(path: string): LockHolder | undefined {
  try {
    // A regular file only: a FIFO in its place would hang the read forever.
    const info = JSON.parse(readRegularFile(path, { maxBytes: 64 * 1024 })) as Record<string, unknown>;
    if (typeof info.host !== 'string') return undefined;
    const str = (v: unknown) => (typeof v === 'string' ? v : '');
    return {
      // Files written before lock ids existed: their pid and host make one (force-unlock takes it).
      id: str(info.id) || `pid-${String(info.pid)}@${info.host}`,
      who: str(info.who) || info.host,
      host: info.host,
      ...(typeof info.pid === 'number' ? { pid: info.pid } : {}),
      command: str(info.command),
      ...(str(info.ciRunUrl) ? { ciRunUrl: str(info.ciRunUrl) } : {}),
      ...(str(info.machine) ? { machine: str(info.machine) } : {}),
      created: str(info.created) || str(info.createdAt),
    };
  } catch {
    return undefined;
  }
}

/** Create the lock file exclusively for `info`, or throw LockError naming who holds it. */
export function lockFile(statePath: string, info: Omit<LockHolder, 'id'>): LockHolder {
  const path = lockPath(statePath);
  try {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new LockError(`cannot create the state folder ${dirname(path)}: ${code === 'ENOTDIR' || code === 'EEXIST' ? 'a file is in the way' : (code ?? (err as Error).message)}`);
  }
  const holder: LockHolder = { id: randomUUID(), ...info };
  let fd: number;
  try {
    fd = openSync(path, 'wx', 0o600);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
      throw new LockError(`state ${statePath} is locked`, readLockFile(path) ?? { id: '', who: '', host: '', command: '', created: '' });
    }
    throw new LockError(`cannot create the state lock ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  try {
    writeSync(fd, `${JSON.stringify(holder)}\n`);
  } finally {
    closeSync(fd);
  }
  return holder;
}

/** Remove the lock file if it holds `id` (moved aside first, so only one contender removes it). */
export function unlockFile(statePath: string, id: string): boolean {
  const path = lockPath(statePath);
  const holder = readLockFile(path);
  if (!holder || holder.id !== id) return false;
  const aside = `${path}.unlock-${process.pid}-${randomUUID()}`;
  try {
    renameSync(path, aside);
  } catch {
    return false;
  }
  const moved = readLockFile(aside);
  if (moved?.id !== id) {
    // Another lock was taken between the read and the rename: put it back.
    try {
      renameSync(aside, path);
    } catch {
      /* it is gone either way */
    }
    return false;
  }
  rmSync(aside, { force: true });
  return true;
}

/** The local lock for `statePath` (acquire() over the lock file); release() removes it only while it is ours. */
export async function acquireLock(statePath: string, opts: { timeoutMs: number; command: string; env?: NodeJS.ProcessEnv }): Promise<LocalLock> {
  const lock = await acquire(
    {
      name: statePath,
      lock: async (info) => lockFile(statePath, info),
      forceUnlock: async (id) => {
        if (!unlockFile(statePath, id)) throw new LockError(`state ${statePath} is not locked under ${id}`);
      },
    },
    opts,
  );
  let released = false;
  return {
    ...lock,
    path: lockPath(statePath),
    release() {
      if (released) return;
      released = true;
      unlockFile(statePath, lock.id);
    },
  };
}

/** The local lock's holder, or undefined when it is not locked. */
export function localLockHolder(statePath: string): LockHolder | undefined {
  return readLockFile(lockPath(statePath));
}

