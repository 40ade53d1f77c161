// Writing files so that a crash never leaves half of one behind: the state, saved plans, token files,
// exported manifests. Modes are given at creation (the umask may take bits away, never add them).

import { randomUUID } from 'node:crypto';
import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
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
