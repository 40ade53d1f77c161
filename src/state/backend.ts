// Where a state lives: one small interface that every backend implements (local file, Terraform's http
// protocol, PostgreSQL), held to the same contract tests (test/state/contract.ts, after Terraform's
// internal/states/remote/testing.go). A backend stores the opsync state document as it is (JSON, never a
// secret value) and holds one lock at a time, named by a lock id.
//
// What a backend promises:
//  - read() gives the stored document, or undefined when none is stored;
//  - write() stores a document; it refuses (StateConflictError) one of another lineage or whose serial is
//    not above the stored one, unless `force` (`state push --force`); while a lock is held, a write must
//    name its id (backends that can check it do: the opsync server, PostgreSQL); a backend may also refuse
//    any write made without the lock (the opsync server does), so writers lock first (opsync always does);
//  - lock() takes the lock or, when it is held, throws LockError with `holder` set (its lock id, who, host,
//    command, since; fields the backend does not know are empty); any other failure is another error;
//    it never waits (StateHandle opening does the waiting, with --lock-timeout);
//  - unlock(id) releases the lock held under that id; forceUnlock(id) releases it whoever holds it, but only
//    when `id` is the holder's id (so a stale id never breaks a newer lock).

import { readFileSync, readlinkSync } from 'node:fs';
import { hostname, userInfo } from 'node:os';
import type { StateFile } from './types.js';

/** Who holds a lock. Every field but `id` is informational; `id` is what unlock and force-unlock take. */
export interface LockHolder {
  /** The lock id (a UUID for the locks opsync takes). */
  id: string;
  /** user@host of the process that took it. */
  who: string;
  host: string;
  /** Its process id, when it is an opsync process (other tools' locks have none). */
  pid?: number;
  /**
   * The kernel boot and pid namespace it ran in (`<boot id>/<pid ns>`), so that a dead pid is judged only
   * where it means the same process: containers often share a host name, not their processes.
   */
  machine?: string;
  /** What it runs, e.g. "opsync apply". */
  command: string;
  /** The CI run that holds it, when it runs in CI (GITHUB_* / CI_JOB_URL / BUILD_URL). */
  ciRunUrl?: string;
  /** ISO 8601. */
  created: string;
}

/** The lock could not be taken: someone else holds it (named when the backend says who). */
export class LockError extends Error {
  constructor(
    message: string,
    readonly holder?: LockHolder,
  ) {
    super(message);
    this.name = 'LockError';
  }
}

/** A write the backend refused: another lineage, a serial not above the stored one, a wrong lock id. */
export class StateConflictError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StateConflictError';
  }
}

/** The backend could not be reached or answered what it should not (after its retries). */
export class BackendError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BackendError';
  }
}

export interface WriteOptions {
  /** The id of the lock this process holds, if any. */
  lockId?: string;
  /** Skip the lineage and serial checks (`state push --force`). */
  force?: boolean;
  /**
   * What the caller knows is stored (it holds the lock and wrote it last; null: nothing is stored): a backend
   * that compares on the client compares with this instead of reading the state back before every write.
   */
  stored?: { lineage: string; serial: number } | null;
}

export interface StateBackend {
  /** What messages call it, without credentials: `.opsync/state.json`, `http https://ci.example/state/prod`. */
  readonly name: string;
  readonly type: 'local' | 'http' | 'postgres';
  /** false when this backend takes no locks (an http backend without lock_address): every lock() succeeds. */
  readonly locking?: boolean;
  read(): Promise<StateFile | undefined>;
  write(state: StateFile, opts?: WriteOptions): Promise<void>;
  /** Remove the stored document (Terraform's Delete). */
  delete(opts?: WriteOptions): Promise<void>;
  lock(info: Omit<LockHolder, 'id'>): Promise<LockHolder>;
  unlock(id: string): Promise<void>;
  forceUnlock(id: string): Promise<void>;
  /** Release connections and timers (a lease renewal); the lock is not released by this. */
  close(): Promise<void>;
}

/** This process as a lock holder. */
export function lockHolderInfo(command: string, env: NodeJS.ProcessEnv = process.env): Omit<LockHolder, 'id'> {
  const host = hostname();
  let user = env.USER || env.USERNAME || '';
  try {
    user ||= userInfo().username;
  } catch {
    /* no passwd entry (a container): the host alone */
  }
  const ciRunUrl =
    env.GITHUB_SERVER_URL && env.GITHUB_REPOSITORY && env.GITHUB_RUN_ID
      ? `${env.GITHUB_SERVER_URL}/${env.GITHUB_REPOSITORY}/actions/runs/${env.GITHUB_RUN_ID}`
      : env.CI_JOB_URL || env.BUILD_URL || undefined;
  const machine = machineId();
  return {
    who: user ? `${user}@${host}` : host,
    host,
    pid: process.pid,
    ...(machine ? { machine } : {}),
    command,
    ...(ciRunUrl ? { ciRunUrl } : {}),
    created: new Date().toISOString(),
  };
}

/** `<boot id>/<pid namespace>` on Linux; undefined where they cannot be read. */
function machineId(): string | undefined {
  try {
    const boot = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    const ns = readlinkSync('/proc/self/ns/pid').replace(/^pid:\[(\d+)\]$/, '$1');
    return `${boot}/${ns}`;
  } catch {
    return undefined;
  }
}

/** `lock 1b2c… held by ci@runner-3 (opsync apply, pid 42) since 2026-…, run https://…`. */
export function describeHolder(h: LockHolder): string {
  const what = [h.command, h.pid ? `pid ${h.pid}` : ''].filter(Boolean).join(', ');
  return `lock ${h.id} held by ${h.who || h.host || 'an unknown holder'}${what ? ` (${what})` : ''} since ${h.created}${h.ciRunUrl ? `, run ${h.ciRunUrl}` : ''}`;
}
