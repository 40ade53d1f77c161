// opsync.yaml: optional project settings, validated with ajv like manifests. Paths in it are made absolute
// against the file's folder. It never holds the Connect token: a `token` key is refused.

import { existsSync } from 'node:fs';
import { dirname, relative, resolve } from 'node:path';
import { isMap, isPair, isScalar, LineCounter, parseDocument, type Document } from 'yaml';
import { UserError } from '../errors.js';
import { FileReadError, LIMITS, readRegularFile } from '../files.js';
import { positionOf } from '../manifest/positions.js';
import { validateDocument } from '../manifest/schema.js';
import { MAX_ALIAS_COUNT } from '../manifest/load.js';
import type { SafetyLimits } from '../plan/safety.js';
import type { Budget } from '../plan/budget.js';
import type { VaultDefaults } from '../manifest/types.js';
import type { VariableDecl } from '../manifest/expand/index.js';

export const CONFIG_FILE = 'opsync.yaml';

export interface ProjectConfig {
  /** Absolute path of the file read. */
  file: string;
  /** Its folder: the project root. */
  root: string;
  /** "local" or a URL. */
  host?: string;
  /** Absolute. */
  state?: string;
  /** `variables:` declarations, with where each is written (the manifests may declare more). */
  variables?: Record<string, VariableDecl>;
  /** `backend:` as written (checked by the schema; src/state/config.ts makes it a BackendConfig). */
  backend?: Record<string, unknown>;
  /** Absolute. */
  manifests?: string[];
  parallelism?: number;
  safety?: Partial<SafetyLimits>;
  /** The service account's request limits (`budget:`). */
  budget?: Budget;
  vaults?: Record<string, VaultDefaults>;
}

/** Every problem of opsync.yaml, one per line, as file:line:col: message (`lines`, each printed escaped). */
export class ConfigError extends UserError {
  readonly lines: string[];
  constructor(lines: string | string[]) {
    const all = typeof lines === 'string' ? [lines] : lines;
    super(all.join('\n'));
    this.lines = all;
  }
}

const TOKEN_MESSAGE = 'the Connect token must not be in opsync.yaml (it is committed with the project); set OP_CONNECT_TOKEN or pass --connect-token';

/** Secrets that belong in the environment, by where they would be written in opsync.yaml. */
const SECRET_KEYS: Record<string, Record<string, string>> = {
  '': { token: TOKEN_MESSAGE },
  connect: { token: TOKEN_MESSAGE },
  backend: {
    password: 'the state backend password must not be in opsync.yaml (it is committed with the project); set OPSYNC_HTTP_PASSWORD',
    conn_str: 'the PostgreSQL connection string must not be in opsync.yaml (it holds a password); set OPSYNC_PG_CONN_STR',
  },
};

/** Secret keys (the token at the top or under connect, a backend password), wherever they are, with their message. */
function secretKeys(doc: Document): { path: (string | number)[]; message: string }[] {
  const out: { path: (string | number)[]; message: string }[] = [];
  const keyOf = (p: unknown) => (isPair(p) && isScalar(p.key) ? String(p.key.value) : undefined);
  if (!isMap(doc.contents)) return out;
  for (const p of doc.contents.items) {
    const k = keyOf(p);
    if (k !== undefined && SECRET_KEYS[''][k]) out.push({ path: [k], message: SECRET_KEYS[''][k] });
    if (k !== undefined && SECRET_KEYS[k] && k !== '' && isPair(p) && isMap(p.value)) {
      for (const q of p.value.items) {
        const j = keyOf(q);
        if (j !== undefined && SECRET_KEYS[k][j]) out.push({ path: [k, j], message: SECRET_KEYS[k][j] });
      }
    }
  }
  return out;
}

/**
 * Reads `explicit` (must exist), or opsync.yaml in `cwd` when there is one. Undefined when there is none.
 * Throws ConfigError naming every problem.
 */
export function loadConfig(opts: { explicit?: string; cwd?: string } = {}): ProjectConfig | undefined {
  const cwd = opts.cwd ?? process.cwd();
  const file = resolve(cwd, opts.explicit ?? CONFIG_FILE);
  if (!existsSync(file)) {
    if (opts.explicit) throw new UserError(`config file ${opts.explicit} does not exist`);
    return undefined;
  }
  const rel = relative(cwd, file);
  const shown = rel && !rel.startsWith('..') ? rel : file;
  let text: string;
  try {
    text = readRegularFile(file, { maxBytes: LIMITS.config });
  } catch (err) {
    // The system's code where it gave one (as before), else what opsync refused and why.
    const why = err instanceof FileReadError ? (err.code && !['ENOTREG', 'EFBIG', 'EILSEQ'].includes(err.code) ? err.code : err.reason) : (err as Error).message;
    throw new UserError(`cannot read config file ${shown}: ${why}`);
  }
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false });
  const problems: string[] = [];
  const at = (path: (string | number)[], atKey = true) => {
    const p = positionOf(doc, lines, shown, path, atKey);
    return `${p.file}:${p.line}:${p.col}`;
  };
  for (const e of doc.errors) {
    const { line, col } = lines.linePos(e.pos[0]);
    problems.push(`${shown}:${line}:${col}: error: YAML: ${e.message.split('\n')[0]}`);
  }
  if (problems.length) throw new ConfigError(problems);
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT }) ?? {};
  } catch (err) {
    const what = /^Unresolved alias/.test((err as Error).message)
      ? 'an alias has no anchor before it'
      : err instanceof RangeError
        ? 'the document is nested too deeply'
        : `aliases expand to more than ${MAX_ALIAS_COUNT} nodes`;
    throw new ConfigError(`${shown}:1:1: error: YAML: ${what}`);
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    throw new ConfigError(`${shown}:1:1: error: opsync.yaml is a mapping (connect, state, backend, manifests, variables, parallelism, safety, budget, vaults)`);
  }
  const secrets = secretKeys(doc);
  for (const { path, message } of secrets) problems.push(`${at(path)}: error: ${message}`);
  for (const p of validateDocument(data, 'config')) {
    if (secrets.some((t) => t.path.join('.') === p.path.join('.'))) continue;
    problems.push(`${at(p.path, p.atKey)}: error: ${p.message}`);
  }
  if (problems.length) throw new ConfigError(problems);

  const raw = data as {
    connect?: { host?: string };
    state?: string;
    backend?: Record<string, unknown>;
    variables?: Record<string, Omit<VariableDecl, 'pos' | 'defaultPos'>>;
    manifests?: string[];
    parallelism?: number;
    safety?: Partial<SafetyLimits>;
    budget?: Budget;
    vaults?: Record<string, VaultDefaults>;
  };
  const root = dirname(file);
  return {
    file,
    root,
    ...(raw.connect?.host !== undefined ? { host: raw.connect.host } : {}),
    ...(raw.state !== undefined ? { state: resolve(root, raw.state) } : {}),
    ...(raw.backend !== undefined ? { backend: raw.backend } : {}),
    ...(raw.variables !== undefined
      ? {
          variables: Object.fromEntries(
            Object.entries(raw.variables).map(([name, d]) => {
              const here = (path: (string | number)[]) => {
                const p = positionOf(doc, lines, shown, path, true);
                return { file: p.file, line: p.line, col: p.col };
              };
              return [name, { ...d, pos: here(['variables', name]), ...('default' in d ? { defaultPos: here(['variables', name, 'default']) } : {}) }];
            }),
          ),
        }
      : {}),
    ...(raw.manifests !== undefined ? { manifests: raw.manifests.map((m) => resolve(root, m)) } : {}),
    ...(raw.parallelism !== undefined ? { parallelism: raw.parallelism } : {}),
    ...(raw.safety !== undefined ? { safety: raw.safety } : {}),
    ...(raw.budget !== undefined ? { budget: raw.budget } : {}),
    ...(raw.vaults !== undefined ? { vaults: raw.vaults } : {}),
  };
}
