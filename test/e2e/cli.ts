// Running the real CLI (bin/opsync.js, built into dist/ by `npm test`) as a child process.

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach } from 'vitest';
import { ConnectClient } from '../../src/connect/client.js';
import type { StateFile } from '../../src/state/types.js';
import { startTestServer, type TestServer } from '../support/server.js';

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const BIN = join(REPO, 'bin/opsync.js');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  cwd: string;
  env?: Record<string, string | undefined>;
}

/** The child's environment: none of the parent's Connect settings, plus what the test gives. */
export function cliEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const k of Object.keys(env)) if (k.startsWith('OP_CONNECT_') || k.startsWith('OPSYNC_') || k.startsWith('GITHUB_')) delete env[k];
  delete env.FORCE_COLOR;
  return { ...env, NO_COLOR: '1', ...extra };
}

export function spawnCli(args: string[], opts: CliOptions): ChildProcess {
  return spawn(process.execPath, [BIN, ...args], { cwd: opts.cwd, env: cliEnv(opts.env), stdio: ['ignore', 'pipe', 'pipe'] });
}

export function runCli(args: string[], opts: CliOptions): Promise<CliResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawnCli(args, opts);
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolvePromise({ code: code ?? -1, stdout, stderr }));
  });
}

/** A fresh project folder with the given files (paths relative to it). */
export function tempProject(files: Record<string, string> = {}): string {
  const dir = mkdtempSync(join(tmpdir(), 'opsync-e2e-'));
  for (const [path, text] of Object.entries(files)) {
    const full = join(dir, path);
    mkdirSync(dirname(full), { recursive: true });
    writeFileSync(full, text);
  }
  return dir;
}

export interface SeededProject {
  /** The project folder the CLI runs in. */
  readonly dir: string;
  readonly srv: TestServer;
  /** A client of the same server, for checking and changing live items by hand. */
  readonly client: ConnectClient;
  /** OP_CONNECT_HOST and OP_CONNECT_TOKEN of the server. */
  readonly env: Record<string, string>;
  /** The CLI in the project, against the server, with `extraEnv` on top (undefined unsets). */
  cli(args: string[], extraEnv?: Record<string, string | undefined>): Promise<CliResult>;
  write(path: string, text: string): void;
  read(path: string): string;
  state(path?: string): StateFile;
}

/**
 * A fresh project folder and a real server seeded with `seed` (YAML) for each test of the file: registers
 * beforeEach/afterEach, and gives accessors valid inside tests.
 */
export function useSeededProject(seed: string): SeededProject {
  let cur: { dir: string; srv: TestServer; client: ConnectClient; env: Record<string, string> } | undefined;
  const now = () => {
    if (!cur) throw new Error('useSeededProject: only inside a test');
    return cur;
  };
  beforeEach(async () => {
    const dir = tempProject({ 'seed.yaml': seed });
    const srv = await startTestServer({ seedFiles: [join(dir, 'seed.yaml')] });
    cur = {
      dir,
      srv,
      client: new ConnectClient({ host: srv.url, token: srv.token, backoffBaseMs: 5 }),
      env: { OP_CONNECT_HOST: srv.url, OP_CONNECT_TOKEN: srv.token },
    };
  });
  afterEach(async () => {
    if (!cur) return;
    await cur.client.close();
    await cur.srv.close();
    cur = undefined;
  });
  return {
    get dir() {
      return now().dir;
    },
    get srv() {
      return now().srv;
    },
    get client() {
      return now().client;
    },
    get env() {
      return now().env;
    },
    cli: (args, extraEnv = {}) => runCli(args, { cwd: now().dir, env: { ...now().env, ...extraEnv } }),
    write: (path, text) => writeFileSync(join(now().dir, path), text),
    read: (path) => readFileSync(join(now().dir, path), 'utf8'),
    state: (path = '.opsync/state.json') => JSON.parse(readFileSync(join(now().dir, path), 'utf8')) as StateFile,
  };
}

/** Every file under DIR/.opsync (state, journal, lock): what a refused run must leave as it found it. */
export function opsyncFiles(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (sub: string) => {
    for (const e of readdirSync(join(dir, sub), { withFileTypes: true })) {
      const p = join(sub, e.name);
      if (e.isDirectory()) walk(p);
      else out[p] = readFileSync(join(dir, p), 'utf8');
    }
  };
  walk('.opsync');
  return out;
}

/** Connect requests that wrote (anything but READ), from the server's activity log. */
export async function writeRequests(client: ConnectClient): Promise<number> {
  return (await client.listActivity({ limit: 1000 })).filter((a) => a.action !== 'READ').length;
}
