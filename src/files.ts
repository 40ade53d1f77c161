// Writing files so that a crash never leaves half of one behind: the state, saved plans, token files,
// exported manifests. Modes are given at creation (the umask may take bits away, never add them).
// And reading the files a user names (manifests, {file:} sources, the state, saved plans, opsync.yaml):
// regular files only, of a bounded size, so that a FIFO, a device or a huge file is one clear error.

import { randomUUID } from 'node:crypto';
import { closeSync, constants, fstatSync, fsyncSync, openSync, readSync, renameSync, rmSync, writeSync, type Stats } from 'node:fs';
import { basename, dirname, join } from 'node:path';

/** Writes `text` to a new file `path` with `mode`, fsynced. Fails (EEXIST) if it exists. */
export function writeNewFile(path: string, text: string, mode: number): void {
  const fd = openSync(path, 'wx', mode);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * Writes `text` to a fresh temporary file beside `path` (mode `mode`, fsynced), renames it over `path`,
 * and fsyncs the folder: readers see the old file or the new one, never a part.
 */
export function writeFileAtomic(path: string, text: string, mode: number): void {
  const dir = dirname(path);
  const tmp = join(dir, `.${basename(path)}.tmp-${process.pid}-${randomUUID().slice(0, 8)}`);
  try {
    writeNewFile(tmp, text, mode);
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
  try {
    const dfd = openSync(dir, 'r');
    try {
      fsyncSync(dfd);
    } finally {
      closeSync(dfd);
    }
  } catch {
    /* some filesystems cannot fsync a folder; the rename is still atomic */
  }
}

/** Size limits of the files opsync reads (README "Limits"). */
export const LIMITS = {
  manifest: 10 * 1024 * 1024,
  state: 64 * 1024 * 1024,
  plan: 64 * 1024 * 1024,
  config: 1024 * 1024,
  valueFile: 1024 * 1024,
} as const;

/**
 * A file that cannot be read as asked: `reason` is one line of words (never content); `code` the errno code,
 * EISDIR for a folder, or ENOTREG (not a regular file), EFBIG (over the limit), EILSEQ (not UTF-8 text).
 */
export class FileReadError extends Error {
  constructor(
    readonly path: string,
    readonly reason: string,
    readonly code?: string,
  ) {
    super(`${path}: ${reason}`);
    this.name = 'FileReadError';
  }
}

const REASONS: Record<string, string> = {
  ENOENT: 'no such file',
  ENOTDIR: 'a part of its path is a file, not a folder',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  EISDIR: 'is a folder, not a file',
  ELOOP: 'too many symbolic links',
  ENAMETOOLONG: 'name too long',
  EMFILE: 'too many open files',
  EIO: 'input/output error',
};

const mib = (n: number) => (n >= 1024 * 1024 ? `${n / (1024 * 1024)} MiB` : `${n} bytes`);

function kindOf(st: Stats): string {
  if (st.isDirectory()) return 'a folder';
  if (st.isFIFO()) return 'a FIFO (named pipe)';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isSocket()) return 'a socket';
  return 'not a regular file';
}

export interface ReadLimits {
  /** Larger files are refused unread. */
  maxBytes: number;
}

/**
 * The bytes of a regular file, at most `maxBytes`. Anything else is refused with a FileReadError before a
 * byte is read: a FIFO (which would block forever), a device (/dev/zero never ends), a folder. The file is
 * opened non-blocking and checked on the open descriptor, so nothing can be swapped in between.
 */
export function readRegularBytes(path: string, { maxBytes }: ReadLimits): Buffer {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new FileReadError(path, code ? (REASONS[code] ?? code) : (err as Error).message, code);
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new FileReadError(path, `is ${kindOf(st)}; only regular files are read`, st.isDirectory() ? 'EISDIR' : 'ENOTREG');
    if (st.size > maxBytes) throw new FileReadError(path, `is larger than ${mib(maxBytes)} (${st.size} bytes)`, 'EFBIG');
    // Read to the end, not to st.size: the file may grow; past the limit it is refused all the same.
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const chunk = Buffer.allocUnsafe(Math.min(64 * 1024, maxBytes + 1 - total));
      let n: number;
      try {
        n = readSync(fd, chunk, 0, chunk.length, null);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        throw new FileReadError(path, code ? (REASONS[code] ?? code) : (err as Error).message, code);
      }
      if (n === 0) break;
      chunks.push(chunk.subarray(0, n));
      total += n;
      if (total > maxBytes) throw new FileReadError(path, `is larger than ${mib(maxBytes)}`, 'EFBIG');
    }
    return Buffer.concat(chunks, total);
  } finally {
    closeSync(fd);
  }
}

const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Bytes as UTF-8 text, exactly (a BOM is kept); undefined when they are not valid UTF-8. */
export function decodeUtf8(bytes: Uint8Array): string | undefined {
  try {
    return UTF8.decode(bytes);
  } catch {
    return undefined;
  }
}

/** A regular file (see readRegularBytes) as UTF-8 text; other bytes are refused, never replaced. */
export function readRegularFile(path: string, limits: ReadLimits): string {
  const text = decodeUtf8(readRegularBytes(path, limits));
  if (text === undefined) throw new FileReadError(path, 'is not UTF-8 text', 'EILSEQ');
  return text;
}

/** The first `bytes` bytes of `path` when it is a regular file; undefined for anything else or on any error. */
export function readRegularHead(path: string, bytes: number): Buffer | undefined {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
  } catch {
    return undefined;
  }
  try {
    if (!fstatSync(fd).isFile()) return undefined;
    const buf = Buffer.alloc(bytes);
    const n = readSync(fd, buf, 0, bytes, 0);
    return buf.subarray(0, n);
  } catch {
    return undefined;
  } finally {
    closeSync(fd);
  }
}
