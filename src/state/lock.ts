// The state lock: `<state>.lock`, created exclusively, naming its holder. A lock left by a dead process on
// this host (a kill -9'd apply) is stale and taken over; any other holder is waited for, then named.

import { closeSync, mkdirSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { readRegularFile } from '../files.js';
import { hostname } from 'node:os';
import { dirname } from 'node:path';

export interface LockInfo {
  pid: number;
  host: string;
  command: string;
  createdAt: string;
}

export interface Lock {
  readonly path: string;
  readonly staleTakenOver?: LockInfo;
  release(): void;
}

export class LockError extends Error {
  constructor(
    message: string,
    readonly holder?: LockInfo,
  ) {
    super(message);
    this.name = 'LockError';
  }
}

const lockPath = (statePath: string) => `${statePath}.lock`;

function readHolder(path: string): LockInfo | undefined {
  try {
    // A regular file only: a FIFO in its place would hang the read forever.
    const info = JSON.parse(readRegularFile(path, { maxBytes: 64 * 1024 })) as LockInfo;
    return typeof info.pid === 'number' && typeof info.host === 'string' ? info : undefined;
  } catch {
    return undefined;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function tryCreate(path: string, info: LockInfo): boolean {
  try {
    const fd = openSync(path, 'wx', 0o600);
    try {
      writeSync(fd, `${JSON.stringify(info)}\n`);
    } finally {
      closeSync(fd);
    }
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw new LockError(`cannot create the state lock ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

export async function acquireLock(statePath: string, opts: { timeoutMs: number; command: string }): Promise<Lock> {
  const path = lockPath(statePath);
  try {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new LockError(`cannot create the state folder ${dirname(path)}: ${code === 'ENOTDIR' || code === 'EEXIST' ? 'a file is in the way' : (code ?? (err as Error).message)}`);
  }
  const info: LockInfo = { pid: process.pid, host: hostname(), command: opts.command, createdAt: new Date().toISOString() };
  const deadline = Date.now() + opts.timeoutMs;
  let staleTakenOver: LockInfo | undefined;
  for (;;) {
    if (tryCreate(path, info)) break;
    const holder = readHolder(path);
    if (holder && holder.host === info.host && !alive(holder.pid)) {
      // Stale: move it aside atomically (only one contender wins the rename), then try again.
      const aside = `${path}.stale-${process.pid}`;
      try {
        renameSync(path, aside);
        rmSync(aside, { force: true });
        staleTakenOver = holder;
      } catch {
        /* someone else took it over first */
      }
      continue;
    }
    if (Date.now() >= deadline) {
      const who = holder
        ? `pid ${holder.pid} on host ${holder.host} (${holder.command}) since ${holder.createdAt}`
        : 'an unreadable lock file';
      throw new LockError(`state is locked by ${who}; wait for it (--lock-timeout), or remove ${path} if that process is gone`, holder);
    }
    await new Promise((r) => setTimeout(r, Math.min(200, Math.max(10, deadline - Date.now()))));
  }
  let released = false;
  return {
    path,
    ...(staleTakenOver ? { staleTakenOver } : {}),
    release() {
      if (released) return;
      released = true;
      const holder = readHolder(path);
      if (holder && holder.pid === info.pid && holder.host === info.host) rmSync(path, { force: true });
    },
  };
}

export function forceUnlock(statePath: string): LockInfo | undefined {
  const path = lockPath(statePath);
  const holder = readHolder(path);
  rmSync(path, { force: true });
  return holder;
}
