// Resolving the value sources a machine can read by itself (literal, environment, file) and parsing
// op:// references. Errors name the variable, file or reference — never a value.

import { readFileSync } from 'node:fs';
import type { ValueSource } from './types.js';

export class ValueError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ValueError';
  }
}

/** The value of a literal, env or file source; undefined for ref, generate and unmanaged. */
export function resolveLocalValue(source: ValueSource, env: NodeJS.ProcessEnv): string | undefined {
  switch (source.kind) {
    case 'literal':
      return source.value;
    case 'env': {
      const v = env[source.name];
      if (v === undefined || v === '') throw new ValueError(`environment variable ${source.name} is not set (or is empty)`);
      return v;
    }
    case 'file':
      try {
        return readFileSync(source.path, 'utf8');
      } catch (err) {
        throw new ValueError(`cannot read file ${source.as}: ${(err as NodeJS.ErrnoException).code ?? 'unreadable'}`);
      }
    default:
      return undefined;
  }
}

export interface ParsedRef {
  vault: string;
  item: string;
  section?: string;
  field: string;
}

/** op://Vault/Item/field or op://Vault/Item/section/field (the 1Password secret reference syntax). */
export function parseRef(ref: string): ParsedRef | undefined {
  const m = /^op:\/\/([^/]+)\/([^/]+)\/(?:([^/]+)\/)?([^/]+)$/.exec(ref);
  if (!m) return undefined;
  return { vault: m[1], item: m[2], ...(m[3] !== undefined ? { section: m[3] } : {}), field: m[4] };
}
