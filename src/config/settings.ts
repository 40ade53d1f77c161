// What a command runs with: flags beat environment variables, which beat opsync.yaml, which beats defaults.
// The Connect token comes from flags or the environment only. Commands read these, never the environment.

import { join, relative } from 'node:path';
import { UserError } from '../errors.js';
import type { VaultDefaults } from '../manifest/types.js';
import { DEFAULT_SAFETY, type SafetyLimits } from '../plan/safety.js';
import type { Budget } from '../plan/budget.js';
import { DEFAULT_DATA_DIR } from '../server/defaults.js';
import type { ConnectionFlags } from '../session.js';
import { loadConfig } from './load.js';
import { variableInputs } from './variables.js';
import type { VariableInputs } from '../manifest/expand/index.js';
import { backendName, parseBackendFlags, resolveBackend, type BackendConfig } from '../state/config.js';
import { ERRORED_FILE } from '../state/remote.js';

const DEFAULT_STATE = '.opsync/state.json';
const DEFAULT_PARALLELISM = 8;
/** Also the schema's maximum for opsync.yaml's `parallelism`. */
const MAX_PARALLELISM = 64;

/** The flags every state- or Connect-using command shares, as commander gives them (unset = absent). */
export interface CommonFlags {
  config?: string;
  connectHost?: string;
  connectToken?: string;
  local?: boolean;
  state?: string;
  parallelism?: string;
  /** --backend-config KEY=VALUE (repeatable). */
  backendConfig?: string[];
  /** --var NAME=VALUE and --var-file FILE (repeatable; commands that read manifests). */
  var?: string[];
  varFile?: string[];
}

export interface Settings {
  connection: ConnectionFlags;
  /** The local state file, or what messages call the remote state of `backend`. */
  state: string;
  /** A remote state backend (http, postgres); absent: the local file `state`. */
  backend?: BackendConfig;
  /** Where a remote state is saved when its last write fails. */
  erroredPath: string;
  parallelism: number;
  /** Manifest paths to use when a command is given none (opsync.yaml `manifests`). */
  manifests: string[];
  safety: SafetyLimits;
  /** opsync.yaml `budget:` (absent: no limits known, nothing paced). */
  budget?: Budget;
  vaultDefaults: Record<string, VaultDefaults>;
  /** Variable values and opsync.yaml's declarations, for the manifests' ${var.NAME}. */
  variables: VariableInputs;
}

function parseParallelism(text: string, what: string): number {
  const n = Number(text);
  if (text.trim() === '' || !Number.isInteger(n) || n < 1 || n > MAX_PARALLELISM) {
    throw new UserError(`${what}: "${text}" must be a whole number from 1 to ${MAX_PARALLELISM}`);
  }
  return n;
}

export function resolveSettings(flags: CommonFlags, env: NodeJS.ProcessEnv, cwd = process.cwd()): Settings {
  const config = loadConfig({ explicit: flags.config ?? (env.OPSYNC_CONFIG || undefined), cwd });
  const envHost = env.OP_CONNECT_HOST || undefined;
  const fileLocal = config?.host === 'local';
  // "local" means the embedded server wherever a host is given: `--connect-host local` is `--local`, as
  // `connect.host: local` in opsync.yaml (and OP_CONNECT_HOST=local) are.
  const flagHost = flags.connectHost === undefined ? undefined : isLocal(flags.connectHost) ? 'local' : flags.connectHost;
  const host = flagHost ?? (envHost === undefined ? undefined : isLocal(envHost) ? 'local' : envHost);
  const local = flags.local === true || host === 'local' || (host === undefined && fileLocal);
  const connectHost = local ? undefined : (host ?? config?.host);
  const parallelism =
    flags.parallelism !== undefined
      ? parseParallelism(flags.parallelism, '--parallelism')
      : env.OPSYNC_PARALLELISM
        ? parseParallelism(env.OPSYNC_PARALLELISM, 'OPSYNC_PARALLELISM')
        : (config?.parallelism ?? DEFAULT_PARALLELISM);
  const connectToken = flags.connectToken || env.OP_CONNECT_TOKEN || undefined;
  // Beside opsync.yaml when there is one, as the embedded server's store is; else in the working folder.
  const root = config?.root ?? cwd;
  // Where the state is: resolved when a command asks (validate and render never do, so they need none of a
  // backend's secrets), once.
  let where: { state: string; backend?: BackendConfig } | undefined;
  const stateWhere = (): { state: string; backend?: BackendConfig } => {
    if (where) return where;
    const backend = resolveBackend(config?.backend, parseBackendFlags(flags.backendConfig ?? []), env, root);
    const remote = backend && backend.type !== 'local' ? backend : undefined;
    if (remote) {
      // Two places for one state would be two states: say which to drop rather than pick one.
      const local = flags.state !== undefined ? '--state' : env.OPSYNC_STATE ? 'OPSYNC_STATE' : config?.state !== undefined ? '`state:` in opsync.yaml' : undefined;
      if (local) throw new UserError(`${local} names a local state file, but the state backend is ${remote.type} (${backendName(remote)}); drop one of them`);
    }
    // A local backend's path: from --backend-config it is a flag (beaten only by --state); from opsync.yaml it is
    // the file's, beaten by OPSYNC_STATE, and said twice with `state:`.
    const backendFlags = parseBackendFlags(flags.backendConfig ?? []);
    const flagPath = backend?.type === 'local' && ('path' in backendFlags || backendFlags.type === 'local') ? backend.path : undefined;
    const filePath = backend?.type === 'local' && !flagPath ? backend.path : undefined;
    if (filePath && config?.state !== undefined) throw new UserError('opsync.yaml names the state file twice (`state:` and backend.path): keep one');
    where = {
      state: remote
        ? backendName(remote)
        : (flags.state ?? flagPath ?? (env.OPSYNC_STATE || undefined) ?? filePath ?? config?.state ?? (relative(cwd, join(root, DEFAULT_STATE)) || DEFAULT_STATE)),
      ...(remote ? { backend: remote } : {}),
    };
    return where;
  };
  return {
    connection: {
      ...(connectHost ? { connectHost } : {}),
      ...(connectToken ? { connectToken } : {}),
      local,
      parallelism,
      localDir: join(root, DEFAULT_DATA_DIR),
    },
    get state() {
      return stateWhere().state;
    },
    get backend() {
      return stateWhere().backend;
    },
    erroredPath: relative(cwd, join(root, ERRORED_FILE)) || ERRORED_FILE,
    parallelism,
    manifests: config?.manifests ?? [],
    safety: { ...DEFAULT_SAFETY, ...config?.safety },
    ...(config?.budget ? { budget: config.budget } : {}),
    vaultDefaults: config?.vaults ?? {},
    variables: variableInputs({ varFlags: flags.var ?? [], varFiles: flags.varFile ?? [], env, ...(config?.variables ? { declared: config.variables } : {}) }),
  };
}

/** `local` (any case, around spaces) names the embedded server, not a host called "local". */
function isLocal(host: string): boolean {
  return host.trim().toLowerCase() === 'local';
}

/** The paths a command was given, or opsync.yaml's `manifests`. */
export function manifestPaths(args: string[], settings: Settings): string[] {
  return args.length > 0 ? args : settings.manifests;
}
