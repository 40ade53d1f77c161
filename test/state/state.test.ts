import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { LocalBackend } from '../../src/state/backends/local.js';
import { acquireLock, emptyState, LockError, readState, StateError, StateStore, writeStateAtomic } from '../../src/state/index.js';

let dir: string;
let path: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'opsync-state-'));
  path = join(dir, '.opsync/state.json');
});

const resource = (address: string) => ({
  address,
  vaultId: 'v'.repeat(26),
  vaultName: 'Private',
  itemId: 'i'.repeat(26),
  title: 'T',
  category: 'LOGIN',
  version: 1,
  digest: 'hmac-sha256:00',
  updatedAt: '2026-01-01T00:00:00.000Z',
});

describe('state file', () => {
  it('is empty and unwritten when missing, and round-trips with mode 0600', () => {
    const s = readState(path);
    expect(s.serial).toBe(0);
    expect(existsSync(path)).toBe(false);
    s.resources['Private/a'] = resource('Private/a');
    writeStateAtomic(path, s);
    expect(readState(path)).toEqual(s);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(readdirSync(join(dir, '.opsync'))).toEqual(['state.json']);
  });

  it('refuses corrupt JSON, unknown properties and future formats with a clear message', () => {
    mkdirSync(join(dir, '.opsync'));
    writeFileSync(path, '{ "version": 1, ');
    expect(() => readState(path)).toThrow(/state\.json is not valid JSON/);
    writeFileSync(path, JSON.stringify({ ...emptyState(), resources: { 'P/a': { ...resource('P/a'), value: 'x' } } }));
    expect(() => readState(path)).toThrow(/resources\["P\/a"\]\.value: unknown property/);
    writeFileSync(path, JSON.stringify({ ...emptyState(), version: 99 }));
    expect(() => readState(path)).toThrow(StateError);
    expect(() => readState(path)).toThrow(/format 99.*upgrade opsync/);
  });

  it('migrates the v0 format', () => {
    mkdirSync(join(dir, '.opsync'));
    writeFileSync(path, JSON.stringify({ lineage: 'l', serial: 3, items: { 'P/a': resource('P/a') } }));
    const s = readState(path);
    expect(s.version).toBe(3);
    expect(s.resources['P/a'].itemId).toBe('i'.repeat(26));
    expect(s.pending).toEqual({});
  });

  it('refuses a version that is not a whole number, a missing one on a new shape, and an old one over a new shape', () => {
    mkdirSync(join(dir, '.opsync'));
    const v1 = { lineage: 'l', serial: 3, resources: { 'P/a': resource('P/a') }, pending: {} };
    for (const [doc, message] of [
      [{ ...v1, version: '1' }, /state .*state\.json: "version" must be a whole number, not "1"/],
      [{ ...v1, version: null }, /"version" must be a whole number, not null/],
      [{ ...v1, version: 1.5 }, /not 1\.5/],
      [{ ...v1, version: -1 }, /not -1/],
      [{ ...v1, version: 2 ** 60 }, /"version" must be a whole number/],
      [v1, /"version" is missing and it is not an old \(v0\) state file/],
      [{ ...v1, version: 0 }, /says state format 0 but does not have that format's shape/],
      [{ lineage: 'l', serial: 3, items: { 'P/a': resource('P/a') }, resources: {} }, /"version" is missing/],
      [{ ...v1, version: 4 }, /format 4; this opsync reads up to 3: upgrade opsync/],
    ] as const) {
      writeFileSync(path, JSON.stringify(doc));
      expect(() => readState(path), JSON.stringify(doc)).toThrow(StateError);
      expect(() => readState(path)).toThrow(message);
    }
    writeFileSync(path, JSON.stringify({ ...v1, version: 1, resources: { 'P/a': { ...resource('P/a'), rotations: { pw: [[['deep']]] } } } }));
    expect(() => readState(path)).toThrow(/resources\["P\/a"\]\.rotations\.pw: must be a string/);
    // version 0 written out, with the v0 shape, migrates like a file without a version
    writeFileSync(path, JSON.stringify({ version: 0, lineage: 'l', serial: 3, items: { 'P/a': resource('P/a') } }));
    expect(readState(path).resources['P/a'].itemId).toBe('i'.repeat(26));
  });

  it('reads regular files only: a FIFO, a folder, a path through a file are one clear error', () => {
    mkdirSync(join(dir, '.opsync'));
    spawnSync('mkfifo', [path]);
    expect(() => readState(path)).toThrow(/cannot read state .*state\.json: is a FIFO \(named pipe\); only regular files are read/);
    expect(() => readState(dir)).toThrow(/is a folder/);
    writeFileSync(join(dir, 'file'), '');
    expect(() => readState(join(dir, 'file/state.json'))).toThrow(/a part of its path is a file, not a folder/);
    expect(readState(join(dir, 'missing/state.json')).serial).toBe(0);
  });

  it('leaves the old state intact and no temp file behind when a write fails', () => {
    const s = emptyState();
    writeStateAtomic(path, s);
    const before = readFileSync(path, 'utf8');
    chmodSync(join(dir, '.opsync'), 0o500);
    try {
      if (process.getuid?.() === 0) {
        // root ignores folder permissions: make the target a folder instead, so rename fails.
        chmodSync(join(dir, '.opsync'), 0o700);
        const target = join(dir, '.opsync/dir-state');
        mkdirSync(join(target, 'x'), { recursive: true });
        expect(() => writeStateAtomic(target, s)).toThrow(StateError);
      } else {
        expect(() => writeStateAtomic(path, { ...s, serial: 9 })).toThrow(StateError);
      }
    } finally {
      chmodSync(join(dir, '.opsync'), 0o700);
    }
    expect(readFileSync(path, 'utf8')).toBe(before);
    expect(readdirSync(join(dir, '.opsync')).filter((f) => f.includes('.tmp-'))).toEqual([]);
  });
});

describe('state store', () => {
  it('bumps the serial on every update and keeps memory unchanged when the write fails', async () => {
    const store = await StateStore.open(path, { lockTimeoutMs: 0, command: 'test' });
    store.update((s) => {
      s.resources['P/a'] = resource('P/a');
    });
    store.update((s) => {
      s.resources['P/a'].version = 2;
    });
    expect(store.state.serial).toBe(2);
    expect(readState(path).serial).toBe(2);
    expect(() =>
      store.update((s) => {
        (s.resources['P/a'] as unknown as Record<string, unknown>).version = 3;
        // make the write fail: the state path becomes unwritable by replacing the folder's file with a folder
        mkdirSync(join(dir, '.opsync/blocker'), { recursive: true });
        Object.defineProperty(store, 'path', { value: join(dir, '.opsync/blocker') });
      }),
    ).toThrow(StateError);
    expect(store.state.resources['P/a'].version).toBe(2);
    Object.defineProperty(store, 'path', { value: path });
    expect(readState(path).resources['P/a'].version).toBe(2);
    store.close();
  });
});

describe('state lock', () => {
  it('is held against another real process, which is named when it times out', async () => {
    const lock = await acquireLock(path, { timeoutMs: 0, command: 'opsync apply' });
    // A second process tries the same lock file exclusively, as acquireLock does.
    const child = spawnSync(process.execPath, ['--input-type=module', '-e', `
      import { openSync } from 'node:fs';
      try { openSync(${JSON.stringify(`${path}.lock`)}, 'wx'); console.log('got it'); } catch (e) { console.log(e.code); }
    `], { encoding: 'utf8' });
    expect(child.stdout.trim()).toBe('EEXIST');
    const err = await acquireLock(path, { timeoutMs: 50, command: 'opsync plan' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LockError);
    expect((err as LockError).message).toContain(`@${hostname()} (opsync apply, pid ${process.pid}) since`);
    expect((err as LockError).message).toContain(`opsync force-unlock ${lock.id}`);
    lock.release();
    expect(existsSync(`${path}.lock`)).toBe(false);
  });

  it('waits for a holder that lets go within the timeout', async () => {
    mkdirSync(join(dir, '.opsync'), { recursive: true });
    const child = spawn(process.execPath, ['--input-type=module', '-e', `
      import { openSync, writeSync, rmSync } from 'node:fs';
      const p = ${JSON.stringify(`${path}.lock`)};
      writeSync(openSync(p, 'wx'), JSON.stringify({ pid: process.pid, host: ${JSON.stringify(hostname())}, command: 'other', createdAt: '' }));
      console.log('locked');
      setTimeout(() => { rmSync(p); process.exit(0); }, 300);
    `]);
    await new Promise<void>((r) => child.stdout.once('data', () => r()));
    const lock = await acquireLock(path, { timeoutMs: 10_000, command: 'test' });
    expect(lock.staleTakenOver).toBeUndefined();
    lock.release();
  });

  it('takes over a lock whose holder on this host is dead', async () => {
    const dead = spawnSync(process.execPath, ['-e', 'console.log(process.pid)'], { encoding: 'utf8' });
    const pid = Number(dead.stdout.trim());
    mkdirSync(join(dir, '.opsync'), { recursive: true });
    writeFileSync(`${path}.lock`, JSON.stringify({ pid, host: hostname(), command: 'opsync apply', createdAt: 'then' }));
    const lock = await acquireLock(path, { timeoutMs: 0, command: 'test' });
    expect(lock.staleTakenOver?.pid).toBe(pid);
    expect(JSON.parse(readFileSync(`${path}.lock`, 'utf8')).pid).toBe(process.pid);
    lock.release();
  });

  it('does not take over a dead pid from another host, and can be forced', async () => {
    mkdirSync(join(dir, '.opsync'), { recursive: true });
    writeFileSync(`${path}.lock`, JSON.stringify({ pid: 999999, host: 'ci-runner-7', command: 'opsync apply', createdAt: 'then' }));
    await expect(acquireLock(path, { timeoutMs: 0, command: 'test' })).rejects.toThrow(/held by ci-runner-7 \(opsync apply, pid 999999\).*opsync force-unlock pid-999999@ci-runner-7/);
    // An id of an earlier version's lock file: made of its pid and host.
    await expect(new LocalBackend(path).forceUnlock('pid-1@ci-runner-7')).rejects.toThrow(/not pid-1@ci-runner-7; nothing was unlocked/);
    await new LocalBackend(path).forceUnlock('pid-999999@ci-runner-7');
    (await acquireLock(path, { timeoutMs: 0, command: 'test' })).release();
  });
});
