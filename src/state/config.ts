// Which backend a command's state lives in: opsync.yaml's `backend:` block, overridden key by key with
// `--backend-config KEY=VALUE` (Terraform's -backend-config), secrets from the environment only. Made into
// a BackendConfig here; opened in open.ts. Errors name the key and where it came from.

import { isAbsolute, resolve } from 'node:path';
import { UserError } from '../errors.js';
import type { HttpSettings } from './backends/http.js';
import type { PostgresSettings } from './backends/postgres.js';

/** The http backend's settings (backends/http.ts), the password from OPSYNC_HTTP_PASSWORD. */
export type HttpBackendConfig = { type: 'http' } & Omit<HttpSettings, 'timeoutMs'>;

/** The postgres backend's settings (backends/postgres.ts), the connection string from OPSYNC_PG_CONN_STR. */
export type PostgresBackendConfig = { type: 'postgres' } & PostgresSettings;

export type BackendConfig = { type: 'local'; path: string } | HttpBackendConfig | PostgresBackendConfig;

type Kind = 'string' | 'url' | 'method' | 'int' | 'seconds' | 'ident';
/** The settings, with the bounds schemas/config.schema.json gives them (flags are held to them too). */
const KEYS: Record<string, { types: BackendConfig['type'][]; kind: Kind; min?: number; max?: number }> = {
  path: { types: ['local'], kind: 'string' },
  address: { types: ['http'], kind: 'url' },
  lock_address: { types: ['http'], kind: 'url' },
  unlock_address: { types: ['http'], kind: 'url' },
  lock_method: { types: ['http'], kind: 'method' },
  unlock_method: { types: ['http'], kind: 'method' },
  update_method: { types: ['http'], kind: 'method' },
  username: { types: ['http'], kind: 'string' },
  retry_max: { types: ['http'], kind: 'int', max: 20 },
  retry_wait_min: { types: ['http'], kind: 'seconds' },
  retry_wait_max: { types: ['http'], kind: 'seconds' },
  schema_name: { types: ['postgres'], kind: 'ident' },
  name: { types: ['postgres'], kind: 'string' },
  lease_seconds: { types: ['postgres'], kind: 'int', min: 5, max: 3600 },
};

const SECRET_FLAGS: Record<string, string> = {
  password: 'the backend password comes from OPSYNC_HTTP_PASSWORD only (a flag ends up in shell history and CI logs)',
  conn_str: 'the PostgreSQL connection string comes from OPSYNC_PG_CONN_STR only (it holds a password)',
};

/** `--backend-config KEY=VALUE` flags as a map; one line for a malformed or secret one. */
export function parseBackendFlags(flags: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of flags) {
    const eq = f.indexOf('=');
    if (eq <= 0) throw new UserError(`--backend-config "${f}": write KEY=VALUE, e.g. --backend-config address=https://opsync.example/state/prod`);
    const key = f.slice(0, eq).trim();
    if (SECRET_FLAGS[key]) throw new UserError(`--backend-config ${key}: ${SECRET_FLAGS[key]}`);
    if (key !== 'type' && !KEYS[key]) throw new UserError(`--backend-config ${key}: unknown setting; known: type, ${Object.keys(KEYS).join(', ')}`);
    out[key] = f.slice(eq + 1);
  }
  return out;
}

/**
 * The backend from opsync.yaml's block (`file`, already checked by its schema) and the flags; undefined when
 * neither says one (the local state file of --state / OPSYNC_STATE / `state:`).
 */
export function resolveBackend(
  block: Record<string, unknown> | undefined,
  flags: Record<string, string>,
  env: NodeJS.ProcessEnv,
  root: string,
): BackendConfig | undefined {
  if (!block && Object.keys(flags).length === 0) return undefined;
  const type = flags.type ?? (block?.type as string | undefined);
  const from = (key: string) => (key in flags ? `--backend-config ${key}` : `backend.${key} in opsync.yaml`);
  if (type === undefined) throw new UserError('--backend-config: no backend type: set backend.type in opsync.yaml or pass --backend-config type=http (or postgres, local)');
  if (type !== 'local' && type !== 'http' && type !== 'postgres') throw new UserError(`${from('type')}: "${type}" is not a backend; use local, http or postgres`);
  // A flag that changes the type leaves the file's settings (of the other type) out.
  const merged: Record<string, unknown> = { ...(flags.type === undefined || flags.type === block?.type ? block : {}), ...flags };
  delete merged.type;
  const values: Record<string, string | number> = {};
  for (const [key, raw] of Object.entries(merged)) {
    const spec = KEYS[key];
    if (!spec) throw new UserError(`${from(key)}: unknown setting`);
    if (!spec.types.includes(type)) throw new UserError(`${from(key)}: a ${spec.types.join('/')} setting; this backend is ${type}`);
    const value = convert(raw, spec.kind, from(key));
    if (typeof value === 'number' && ((spec.min !== undefined && value < spec.min) || (spec.max !== undefined && value > spec.max))) {
      throw new UserError(`${from(key)}: ${value} must be from ${spec.min ?? 0} to ${spec.max ?? 'any'}`);
    }
    values[key] = value;
  }
  const need = (key: string, how: string) => new UserError(`the ${type} backend needs ${key}: ${how}`);
  switch (type) {
    case 'local': {
      if (values.path === undefined) throw need('path', 'set backend.path in opsync.yaml or pass --backend-config path=FILE');
      const path = String(values.path);
      return { type: 'local', path: isAbsolute(path) ? path : resolve(root, path) };
    }
    case 'http': {
      if (values.address === undefined) throw need('address', 'set backend.address in opsync.yaml or pass --backend-config address=URL');
      const password = env.OPSYNC_HTTP_PASSWORD || undefined;
      const str = (k: string) => (values[k] === undefined ? undefined : String(values[k]));
      const ms = (k: string) => (values[k] === undefined ? undefined : Number(values[k]) * 1000);
      return prune<HttpBackendConfig>({
        type: 'http',
        address: String(values.address),
        lockAddress: str('lock_address'),
        unlockAddress: str('unlock_address'),
        lockMethod: str('lock_method'),
        unlockMethod: str('unlock_method'),
        updateMethod: str('update_method'),
        username: str('username') ?? (env.OPSYNC_HTTP_USERNAME || undefined),
        password,
        retryMax: values.retry_max === undefined ? undefined : Number(values.retry_max),
        retryWaitMinMs: ms('retry_wait_min'),
        retryWaitMaxMs: ms('retry_wait_max'),
      });
    }
    case 'postgres': {
      const connStr = env.OPSYNC_PG_CONN_STR;
      if (!connStr) throw need('a connection string', 'set OPSYNC_PG_CONN_STR (e.g. postgres://opsync@db.example:5432/opsync; the password in it or in PGPASSWORD)');
      return prune<PostgresBackendConfig>({
        type: 'postgres',
        connStr,
        schemaName: values.schema_name === undefined ? undefined : String(values.schema_name),
        name: values.name === undefined ? undefined : String(values.name),
        leaseMs: values.lease_seconds === undefined ? undefined : Number(values.lease_seconds) * 1000,
      });
    }
  }
}

function convert(raw: unknown, kind: Kind, where: string): string | number {
  const text = String(raw);
  // A URL is quoted without what it may carry before an "@" (user:password).
  const shown = kind === 'url' ? text.replace(/^([a-z][a-z0-9+.-]*:\/\/)?.*@/i, (_m, scheme: string | undefined) => `${scheme ?? ''}***@`) : text;
  const bad = (what: string) => new UserError(`${where}: "${shown}" ${what}`);
  switch (kind) {
    case 'string':
      if (text === '') throw bad('must not be empty');
      return text;
    case 'url': {
      let u: URL;
      try {
        u = new URL(text);
      } catch {
        throw bad('is not a URL');
      }
      if (u.protocol !== 'http:' && u.protocol !== 'https:') throw bad('must be an http:// or https:// URL');
      if (u.password) throw new UserError(`${where}: the URL holds a password; set OPSYNC_HTTP_PASSWORD instead`);
      return text;
    }
    case 'method':
      if (!/^[A-Z]+$/.test(text)) throw bad('is not an HTTP method (e.g. POST, LOCK)');
      return text;
    case 'int': {
      const n = Number(text);
      if (!Number.isSafeInteger(n) || n < 0) throw bad('must be a whole number');
      return n;
    }
    case 'seconds': {
      const n = Number(text);
      if (!Number.isFinite(n) || n < 0 || text.trim() === '') throw bad('must be a number of seconds');
      return n;
    }
    case 'ident':
      if (!/^[A-Za-z_][A-Za-z0-9_]{0,62}$/.test(text)) throw bad('must be a PostgreSQL identifier (letters, digits, _)');
      return text;
  }
}

/** The object without its undefined properties (exactOptionalPropertyTypes-friendly). */
function prune<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

/** What messages call a backend before it is opened (no credentials). */
export function backendName(cfg: BackendConfig): string {
  switch (cfg.type) {
    case 'local':
      return cfg.path;
    case 'http': {
      const u = new URL(cfg.address);
      return `${u.origin}${u.pathname}`;
    }
    case 'postgres': {
      let where = 'postgres';
      try {
        const u = new URL(cfg.connStr);
        where = `postgres ${u.hostname}${u.port ? `:${u.port}` : ''}${u.pathname}`;
      } catch {
        /* a libpq keyword string: no host shown */
      }
      return `${where} ${cfg.schemaName ?? 'opsync'}.${cfg.name ?? 'default'}`;
    }
  }
}
