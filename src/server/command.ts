// `opsync server` and `opsync server token create`: flag parsing and process lifetime only.
import { rmSync } from 'node:fs';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { readRegularFile, writeFileAtomic } from '../files.js';
import { DEFAULT_DATA_DIR, DEFAULT_MAX_BODY_BYTES, DEFAULT_MAX_STATE_BYTES, DEFAULT_PORT, DEFAULT_STATE_VERSIONS, TOKEN_FILE } from './defaults.js';
import type { GrantSpec } from './tokens.js';
import { DEFAULT_WRITE_HOLD_MS, parseDuration, REALISTIC } from './realism.js';
import { join, resolve } from 'node:path';

function parsePort(v: string): number {
  if (!/^\d+$/.test(v) || Number(v) > 65535) throw new InvalidArgumentError('must be an integer from 0 to 65535 (0 = any free port)');
  return Number(v);
}

function parsePositive(v: string): number {
  if (!/^[1-9]\d*$/.test(v)) throw new InvalidArgumentError('must be a positive integer');
  return Number(v);
}

function parseDelay(v: string): number {
  try {
    return parseDuration(v);
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
}

function collect(v: string, prev: string[]): string[] {
  return [...prev, v];
}

/** `NAME`, `NAME:read`, `NAME:write`, `NAME:read,write` (no suffix: read and write). */
export function parseVaultGrant(spec: string): GrantSpec {
  const m = /^(.*):((?:read|write)(?:,(?:read|write))?)$/.exec(spec);
  const name = m ? m[1] : spec;
  if (name === '') throw new InvalidArgumentError(`"${spec}" names no vault; use NAME[:read|:write|:read,write]`);
  const access = m ? m[2].split(',') : ['read', 'write'];
  const write = access.includes('write');
  return { vault: name, read: access.includes('read') || write, write };
}

function fail(message: string): never {
  process.stderr.write(`opsync server: ${message}\n`);
  throw new CommanderError(1, 'opsync.server', message);
}

function readPid(path: string): number | undefined {
  try {
    return Number(readRegularFile(path, { maxBytes: 64 }).trim());
  } catch {
    return undefined;
  }
}

function waitForSignal(): Promise<NodeJS.Signals> {
  return new Promise((res) => {
    const on = (sig: NodeJS.Signals) => {
      process.off('SIGINT', on);
      process.off('SIGTERM', on);
      res(sig);
    };
    process.on('SIGINT', on);
    process.on('SIGTERM', on);
  });
}

export function registerServerCommand(program: Command): void {
  const server = program
    .command('server')
    .description('Serve the 1Password Connect API from a local, persistent store (a stand-in for Connect)')
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .addOption(new Option('--port <port>', 'port to listen on (0 = any free port)').argParser(parsePort).default(DEFAULT_PORT))
    .addOption(new Option('--data <dir>', 'data directory (SQLite store and token file)').default(DEFAULT_DATA_DIR))
    .addOption(new Option('--memory', 'keep everything in memory; nothing is written to disk').conflicts('data'))
    .option('--seed <file>', 'seed vaults and items from a YAML or JSON file (repeatable; idempotent by vault name)', collect, [])
    .addOption(
      new Option('--max-body-bytes <n>', 'largest request body accepted; larger ones get 413').argParser(parsePositive).default(DEFAULT_MAX_BODY_BYTES),
    )
    .addOption(
      new Option('--consistency-delay <duration>', 'reads (GET, lists, filters) see a write only this long after it, as real Connect\'s (e.g. 500ms, 1s)').argParser(parseDelay),
    )
    .option('--conflicts', `overlapping writes to one vault get 409 (a DELETE 500 "Something went wrong"), as real Connect's; each write holds its vault ${DEFAULT_WRITE_HOLD_MS}ms`)
    .option('--realistic', `all of real Connect's timing: --consistency-delay ${REALISTIC.consistencyDelayMs / 1000}s --conflicts (flags given override)`)
    .addOption(
      new Option('--state-versions <n>', 'versions kept of each remote state (/state/NAME/versions)').argParser(parsePositive).default(DEFAULT_STATE_VERSIONS),
    )
    .addOption(
      new Option('--max-state-bytes <n>', 'largest remote state document accepted; larger ones get 413').argParser(parsePositive).default(DEFAULT_MAX_STATE_BYTES),
    )
    .option('--quiet', 'no request log lines')
    .option('--pid-file <file>', 'write the server\'s process id to this file once it listens (removed when it stops)')
    .action(async (o: { host: string; port: number; data: string; memory?: boolean; seed: string[]; maxBodyBytes: number; stateVersions: number; maxStateBytes: number; quiet?: boolean; consistencyDelay?: number; conflicts?: boolean; realistic?: boolean; pidFile?: string }) => {
      // The server's modules (SQLite, metrics) load only for the commands that use them.
      const { startServer } = await import('./index.js');
      let handle;
      try {
        handle = await startServer({
          host: o.host,
          port: o.port,
          dataDir: o.data,
          memory: o.memory,
          seedFiles: o.seed,
          maxBodyBytes: o.maxBodyBytes,
          consistencyDelayMs: o.consistencyDelay,
          conflicts: o.conflicts,
          realistic: o.realistic,
          stateVersions: o.stateVersions,
          maxStateBytes: o.maxStateBytes,
          log: o.quiet ? () => {} : (line) => process.stderr.write(`${line}\n`),
        });
      } catch (err) {
        const e = err as NodeJS.ErrnoException;
        if (e.code === 'EADDRINUSE') fail(`${o.host}:${o.port} is already in use; pick another --port (0 = any free port)`);
        if (e.code === 'EACCES') fail(`not allowed to listen on ${o.host}:${o.port}`);
        fail(e.message);
      }
      process.stderr.write(`opsync server listening on ${handle.url}\n`);
      if (o.memory) {
        // Nothing may be written to disk, so the one full-access token goes to stdout (and only there).
        process.stderr.write('opsync server: in-memory store; its full-access token is printed on stdout\n');
        process.stdout.write(`${handle.localToken()}\n`);
      } else {
        process.stderr.write(`opsync server: data in ${resolve(o.data)}; full-access token in ${join(resolve(o.data), TOKEN_FILE)}\n`);
      }
      if (o.pidFile) {
        try {
          writeFileAtomic(o.pidFile, `${process.pid}\n`, 0o644);
        } catch (err) {
          await handle.close();
          fail(`cannot write --pid-file ${o.pidFile}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
        }
      }
      const sig = await waitForSignal();
      process.stderr.write(`opsync server: ${sig} received, finishing requests and closing the store\n`);
      await handle.close();
      // Removed only while it still names this process (another server may have taken the file over since).
      if (o.pidFile && readPid(o.pidFile) === process.pid) rmSync(o.pidFile, { force: true });
    });

  server
    .command('token')
    .description('Manage bearer tokens')
    .command('create')
    .description('Create a bearer token and print it on stdout (and nothing else there)')
    .option('--data <dir>', `data directory of the server (default: "${DEFAULT_DATA_DIR}")`)
    .option('--name <name>', 'a name for the token', 'opsync')
    .option('--vault <vault>', 'limit the token to this vault: NAME[:read|:write|:read,write] (repeatable; none = every vault, read and write)', collect, [])
    .option(
      '--state <name>',
      "let the token read and write this remote state, /state/NAME ('*' = every state; repeatable); with no --vault such a token reaches no vault",
      collect,
      [],
    )
    .action(async (_o: unknown, cmd: Command) => {
      // `--data` may be taken by `opsync server` itself (commander lets a parent's options appear after
      // the subcommand), so read it with the parents' values.
      const o = cmd.optsWithGlobals<{ data?: string; name: string; vault: string[]; state: string[] }>();
      let grants: GrantSpec[];
      const { checkStateGrant, issueToken } = await import('./tokens.js');
      try {
        grants = o.vault.map(parseVaultGrant);
        o.state.forEach(checkStateGrant);
      } catch (err) {
        fail((err as Error).message);
      }
      const { openStore } = await import('./index.js');
      const { store } = openStore({ dataDir: o.data ?? DEFAULT_DATA_DIR });
      let token: string;
      try {
        token = issueToken(store, { name: o.name, vaults: grants, states: o.state });
      } catch (err) {
        fail((err as Error).message);
      } finally {
        store.close();
      }
      process.stdout.write(`${token}\n`);
    });
}
