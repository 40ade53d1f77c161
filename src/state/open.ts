// Opening the state a command names: the local file (with its journal, StateStore) or a remote backend
// (RemoteStore). The http and postgres clients load only when used.

import { readState } from './file.js';
import type { StateBackend } from './backend.js';
import type { BackendConfig } from './config.js';
import { LocalBackend } from './backends/local.js';
import type { StateHandle } from './handle.js';
import { RemoteStore } from './remote.js';
import { StateStore } from './store.js';
import { emptyState } from './file.js';
import type { StateFile } from './types.js';

/** Where a command's state is: `state` is the local path, or what messages call the remote one. */
export interface StateTarget {
  state: string;
  /** A remote backend (http, postgres); absent: the local file at `state`. */
  backend?: BackendConfig;
  /** Where a remote state goes when its last write fails (opsync.errored.json beside the project). */
  erroredPath?: string;
}

export async function makeBackend(cfg: BackendConfig): Promise<StateBackend> {
  switch (cfg.type) {
    case 'local':
      return new LocalBackend(cfg.path);
    case 'http': {
      const { HttpBackend } = await import('./backends/http.js');
      const { type: _t, ...settings } = cfg;
      return new HttpBackend(settings);
    }
    case 'postgres': {
      const { PostgresBackend } = await import('./backends/postgres.js');
      const { type: _t, ...settings } = cfg;
      return new PostgresBackend(settings);
    }
  }
}

/** The backend of a target (the local file's when it names none). */
export function targetBackend(target: StateTarget): Promise<StateBackend> {
  return makeBackend(target.backend ?? { type: 'local', path: target.state });
}

/** The state under its lock, for a command that changes it. */
export async function openState(
  target: StateTarget,
  opts: { lockTimeoutMs: number; command: string; env?: NodeJS.ProcessEnv },
): Promise<StateHandle> {
  if (!target.backend || target.backend.type === 'local') {
    return StateStore.open(target.backend?.path ?? target.state, opts);
  }
  const backend = await makeBackend(target.backend);
  try {
    return await RemoteStore.open(backend, { ...opts, ...(target.erroredPath ? { erroredPath: target.erroredPath } : {}) });
  } catch (err) {
    await backend.close().catch(() => undefined);
    throw err;
  }
}

/** The state as it is now, without its lock (plan, state list|show|pull): an empty one when none is stored. */
export async function currentState(target: StateTarget): Promise<StateFile> {
  if (!target.backend || target.backend.type === 'local') return readState(target.backend?.path ?? target.state);
  const backend = await makeBackend(target.backend);
  try {
    return (await backend.read()) ?? emptyState();
  } finally {
    await backend.close().catch(() => undefined);
  }
}
