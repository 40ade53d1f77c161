// What a command runs with: flags beat environment variables, which beat opsync.yaml, which beats defaults.
// The Connect token comes from flags or the environment only.

import { join } from 'node:path';
import { UserError } from '../errors.js';
import type { VaultDefaults } from '../manifest/types.js';
import { DEFAULT_SAFETY, type SafetyLimits } from '../plan/safety.js';
import type { ConnectionFlags } from '../session.js';
import { loadConfig, type ProjectConfig } from './load.js';

export const DEFAULT_STATE = '.opsync/state.json';
export const DEFAULT_PARALLELISM = 8;

/** The flags every state- or Connect-using command shares, as commander gives them (unset = absent). */
export interface CommonFlags {
  config?: string;
  connectHost?: string;
  connectToken?: string;
  local?: boolean;
  state?: string;
  parallelism?: string;
}

export interface Settings {
  config?: ProjectConfig;
  connection: ConnectionFlags;
  state: string;
  parallelism: number;
  /** Manifest paths to use when a command is given none (opsync.yaml `manifests`). */
  manifests: string[];
  safety: SafetyLimits;
  vaultDefaults: Record<string, VaultDefaults>;
}

export function parsePositiveInt(text: string, what: string): number {
  const n = Number(text);
  if (text.trim() === '' || !Number.isInteger(n) || n < 1 || n > 256) throw new UserError(`${what}: "${text}" must be a whole number from 1 to 256`);
  return n;
}

export function resolveSettings(flags: CommonFlags, env: NodeJS.ProcessEnv, cwd = process.cwd()): Settings {
  const config = loadConfig({ explicit: flags.config ?? (env.OPSYNC_CONFIG || undefined), cwd });
  const envHost = env.OP_CONNECT_HOST || undefined;
  const fileLocal = config?.host === 'local';
  const local = flags.local === true || (!flags.connectHost && !envHost && fileLocal);
  const connectHost = local ? undefined : (flags.connectHost ?? envHost ?? (fileLocal ? undefined : config?.host));
  const parallelism =
    flags.parallelism !== undefined
      ? parsePositiveInt(flags.parallelism, '--parallelism')
      : env.OPSYNC_PARALLELISM
        ? parsePositiveInt(env.OPSYNC_PARALLELISM, 'OPSYNC_PARALLELISM')
        : (config?.parallelism ?? DEFAULT_PARALLELISM);
  return {
    ...(config ? { config } : {}),
    connection: {
      ...(connectHost ? { connectHost } : {}),
      ...(flags.connectToken ? { connectToken: flags.connectToken } : {}),
      local,
      parallelism,
      // The embedded server's store lives beside opsync.yaml when there is one.
      localDir: join(config?.root ?? cwd, '.opsync/server'),
    },
    state: flags.state ?? (env.OPSYNC_STATE || undefined) ?? config?.state ?? DEFAULT_STATE,
    parallelism,
    manifests: config?.manifests ?? [],
    safety: { ...DEFAULT_SAFETY, ...config?.safety },
    vaultDefaults: config?.vaults ?? {},
  };
}

/** The paths a command was given, or opsync.yaml's `manifests`. */
export function manifestPaths(args: string[], settings: Settings): string[] {
  return args.length > 0 ? args : settings.manifests;
}
