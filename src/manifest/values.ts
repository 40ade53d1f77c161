// Resolving the value sources a machine can read by itself (literal, environment, file) and parsing
// op:// references. Errors name the variable, file or reference — never a value.

import { statSync } from 'node:fs';
import { decodeUtf8, FileReadError, LIMITS, readRegularBytes } from '../files.js';
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
      return readFileValue(source);
    default:
      return undefined;
  }
}

type FileSource = Extract<ValueSource, { kind: 'file' }>;

const notText = (source: FileSource) =>
  `file ${source.as} is not UTF-8 text (binary?); add encoding: base64 to the source to store its bytes base64-encoded`;

/**
 * A {file:} source's value: the file's text exactly (UTF-8; other bytes are refused, never replaced), or its
 * bytes base64-encoded with `encoding: base64`. Regular files of at most LIMITS.valueFile bytes only.
 */
export function readFileValue(source: FileSource): string {
  let bytes: Buffer;
  try {
    bytes = readRegularBytes(source.path, { maxBytes: LIMITS.valueFile });
  } catch (err) {
    throw new ValueError(`cannot read file ${source.as}: ${err instanceof FileReadError ? err.reason : 'unreadable'}`);
  }
  if (source.encoding === 'base64') return bytes.toString('base64');
  const text = decodeUtf8(bytes);
  if (text === undefined) throw new ValueError(notText(source));
  return text;
}

/**
 * What is wrong with a {file:} source, if anything, for `validate`: with `content`, the file is read as plan
 * would read it (and forgotten); without, only that it is a regular file within the size limit.
 */
export function checkFileSource(source: FileSource, content: boolean): string | undefined {
  try {
    const st = statSync(source.path);
    if (!st.isFile()) return `file ${source.as} is not a regular file${st.isDirectory() ? ' (a folder)' : st.isFIFO() ? ' (a FIFO)' : st.isCharacterDevice() || st.isBlockDevice() ? ' (a device)' : ''}`;
    if (st.size > LIMITS.valueFile) return `file ${source.as} is larger than ${LIMITS.valueFile / (1024 * 1024)} MiB`;
  } catch {
    return `file ${source.as} does not exist or is not a file`;
  }
  if (!content) return undefined;
  try {
    readFileValue(source);
    return undefined;
  } catch (err) {
    return (err as Error).message;
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
