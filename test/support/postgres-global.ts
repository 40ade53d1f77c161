// vitest globalSetup (vitest.config.ts): one throwaway PostgreSQL cluster per test run, for the postgres
// state backend's tests (test/support/postgres.ts hands it to them). Unless OPSYNC_TEST_PG_URL names a
// server, it runs initdb and pg_ctl from the server binaries of this machine (Debian's postgresql package:
// `.ci/run` installs it) in a temp folder, on 127.0.0.1 and a free port, and stops and removes it at the
// end. It starts in the background: setup returns at once, so a run that needs no PostgreSQL waits for none,
// and the tests that do wait for the `ready` file. PostgreSQL refuses to run as root, so as root the cluster
// runs as the `postgres` system user (the package creates it).

import { execFile } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import type { PostgresProvided, PostgresTarget } from './postgres.js';

export const NO_BINARIES = "PostgreSQL server binaries not found: install Debian's postgresql package (`.ci/run` does), or set OPSYNC_TEST_PG_URL";
export const FILE_READY = 'ready';
export const FILE_FAILED = 'failed';
/** The role that the cluster's pg_hba.conf makes log in with a password over TCP (the password tests create it). */
export const PASSWORD_ROLE = 'opsync_password_test';
const PREFIX = 'opsync-pg-';
const OWNER = 'owner.pid';

interface RunAs {
  uid: number;
  gid: number;
}

export default function setup(project: TestProject): (() => Promise<void>) | undefined {
  const provide = (v: PostgresProvided) => project.provide('opsyncPostgres', v);
  if (process.env.OPSYNC_TEST_PG_URL) {
    provide({ url: process.env.OPSYNC_TEST_PG_URL });
    return undefined;
  }
  const bin = findBinaries();
  if (!bin) {
    provide({ reason: NO_BINARIES });
    return undefined;
  }
  let runAs: RunAs | undefined;
  if (process.getuid?.() === 0) {
    runAs = systemUser('postgres');
    if (!runAs) {
      provide({ reason: 'PostgreSQL refuses to run as root, and there is no `postgres` system user to run it as (Debian\'s postgresql package creates one)' });
      return undefined;
    }
  }
  reapStale(bin, runAs);
  const dir = mkdtempSync(join(tmpdir(), PREFIX));
  writeFileSync(join(dir, OWNER), String(process.pid));
  if (runAs) chownSync(dir, runAs.uid, runAs.gid);

  const starting = startCluster(dir, bin, runAs).then(
    (target) => publish(dir, FILE_READY, JSON.stringify(target)),
    (err: unknown) => publish(dir, FILE_FAILED, `the throwaway PostgreSQL cluster did not start: ${(err as Error).message}`),
  );
  provide({ dir });
  return async () => {
    await starting;
    if (existsSync(join(dir, 'data', 'postmaster.pid'))) await pgCtlStop(bin, join(dir, 'data'), runAs).catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  };
}

/** initdb, pg_hba.conf, pg_ctl start on a free port (another on the rare clash): the target it serves. */
async function startCluster(dir: string, bin: string, runAs: RunAs | undefined): Promise<PostgresTarget> {
  const data = join(dir, 'data');
  await run(join(bin, 'initdb'), ['-D', data, '--auth=trust', '-U', 'postgres', '--no-sync', '-E', 'UTF8', '--locale=C'], dir, runAs);
  // Trust for everything but one role, which must give its password: the tests of what a wrong one says.
  writeFileSync(
    join(data, 'pg_hba.conf'),
    ['local all all trust', `host all ${PASSWORD_ROLE} 127.0.0.1/32 md5`, 'host all all 127.0.0.1/32 trust', ''].join('\n'),
  );
  let lastError: unknown;
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freePort();
    // Durability is no concern of a throwaway cluster: fsync off keeps it fast on a loaded machine.
    const opts = `-c listen_addresses=127.0.0.1 -p ${port} -k ${dir} -c fsync=off -c synchronous_commit=off -c full_page_writes=off`;
    try {
      await run(join(bin, 'pg_ctl'), ['-D', data, '-l', join(dir, 'log'), '-w', '-t', '60', '-o', opts, 'start'], dir, runAs);
      return { url: `postgres://postgres@127.0.0.1:${port}/postgres`, passwordRole: PASSWORD_ROLE };
    } catch (err) {
      lastError = err;
      const log = readText(join(dir, 'log'));
      if (!/could not bind|address already in use/i.test(log)) throw new Error(`${(err as Error).message}; ${lastLine(log)}`);
    }
  }
  throw lastError;
}

function pgCtlStop(bin: string, data: string, runAs: RunAs | undefined): Promise<void> {
  return run(join(bin, 'pg_ctl'), ['-D', data, '-m', 'immediate', '-w', '-t', '30', 'stop'], data, runAs);
}

/** Clusters that an earlier run left when it was killed (its owner process is gone): stop and remove them. */
function reapStale(bin: string, runAs: RunAs | undefined): void {
  let entries: string[];
  try {
    entries = readdirSync(tmpdir()).filter((e) => e.startsWith(PREFIX));
  } catch {
    return;
  }
  for (const e of entries) {
    const dir = join(tmpdir(), e);
    const owner = Number(readText(join(dir, OWNER)));
    if (!Number.isInteger(owner) || owner <= 0 || alive(owner)) continue;
    const data = join(dir, 'data');
    const done = () => rmSync(dir, { recursive: true, force: true });
    if (existsSync(join(data, 'postmaster.pid'))) void pgCtlStop(bin, data, runAs).catch(() => {}).then(done);
    else done();
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The newest /usr/lib/postgresql/<version>/bin with initdb and pg_ctl (Debian), or those on PATH. */
function findBinaries(): string | undefined {
  const root = '/usr/lib/postgresql';
  let versions: string[] = [];
  try {
    versions = readdirSync(root).sort((a, b) => Number(b) - Number(a));
  } catch {
    /* not Debian's layout */
  }
  const dirs = [...versions.map((v) => join(root, v, 'bin')), ...(process.env.PATH ?? '').split(':').filter(Boolean)];
  return dirs.find((d) => existsSync(join(d, 'initdb')) && existsSync(join(d, 'pg_ctl')));
}

function systemUser(name: string): RunAs | undefined {
  const line = readText('/etc/passwd')
    .split('\n')
    .find((l) => l.startsWith(`${name}:`));
  const [, , uid, gid] = line?.split(':') ?? [];
  return uid && gid ? { uid: Number(uid), gid: Number(gid) } : undefined;
}

/** `cmd args` (as `runAs` through runuser, when given), rejecting with its last line of output. */
function run(cmd: string, args: string[], cwd: string, runAs: RunAs | undefined): Promise<void> {
  const [file, argv] = runAs ? ['runuser', ['-u', 'postgres', '--', cmd, ...args]] : [cmd, args];
  // The environment's PG* settings are for clients; they must not steer the throwaway cluster.
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('PG')));
  return new Promise((resolve, reject) => {
    execFile(file, argv, { cwd, env: { ...env, LC_ALL: 'C' }, timeout: 120_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${cmd.split('/').pop()} failed: ${lastLine(`${stdout}\n${stderr}`) || err.message}`));
      else resolve();
    });
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      s.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no free port'))));
    });
  });
}

/** Written whole (rename), so a test never reads half of it. */
function publish(dir: string, file: string, text: string): void {
  writeFileSync(join(dir, `${file}.tmp`), text);
  renameSync(join(dir, `${file}.tmp`), join(dir, file));
}

function readText(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

function lastLine(text: string): string {
  return text.trim().split('\n').pop()?.trim() ?? '';
}
