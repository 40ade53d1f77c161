// RemoteStore over a backend: group commit (many concurrent changes, few writes), every change stored
// before its promise resolves, the lock held and released, and opsync.errored.json when the last write fails.
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BackendError, type StateBackend, type WriteOptions } from '../../src/state/backend.js';
import { LocalBackend } from '../../src/state/backends/local.js';
import { localLockHolder } from '../../src/state/lock.js';
import { RemoteStore } from '../../src/state/remote.js';
import type { StateFile, StateResource } from '../../src/state/types.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'opsync-remote-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const resource = (address: string): StateResource => ({
  address,
  vaultId: 'v',
  vaultName: 'P',
  itemId: `i-${address}`,
  title: address,
  category: 'LOGIN',
  version: 1,
  digest: 'd',
  updatedAt: 'now',
});

/** A backend that counts its writes, can be made to fail, and answers after a turn of the event loop. */
class Counting implements StateBackend {
  writes: { serial: number; opts: WriteOptions }[] = [];
  failing = false;
  constructor(private readonly inner: LocalBackend) {}
  get name() {
    return this.inner.name;
  }
  readonly type = 'http' as const;
  read() {
    return this.inner.read();
  }
  async write(state: StateFile, opts: WriteOptions = {}) {
    const copy = JSON.parse(JSON.stringify(state)) as StateFile; // as a real backend serialises before its first await
    this.writes.push({ serial: copy.serial, opts });
    await new Promise((r) => setTimeout(r, 5));
    if (this.failing) throw new BackendError('the server is gone (ECONNREFUSED)');
    return this.inner.write(copy, opts);
  }
  delete(opts?: WriteOptions) {
    return this.inner.delete(opts);
  }
  lock(info: Parameters<StateBackend['lock']>[0]) {
    return this.inner.lock(info);
  }
  unlock(id: string) {
    return this.inner.unlock(id);
  }
  forceUnlock(id: string) {
    return this.inner.forceUnlock(id);
  }
  close() {
    return Promise.resolve();
  }
}

describe('RemoteStore', () => {
  it('stores many concurrent changes in a few writes, each durable when its promise resolves, and releases the lock', async () => {
    const path = join(dir, 'state.json');
    const backend = new Counting(new LocalBackend(path));
    const store = await RemoteStore.open(backend, { lockTimeoutMs: 0, command: 'test' });
    expect(localLockHolder(path)?.id).toBe(store.lockInfo.id);
    const done = await Promise.all(
      Array.from({ length: 200 }, async (_, i) => {
        await store.change({ op: 'resource', resource: resource(`P/r${i}`) });
        // Durable: what the backend holds already has it.
        return (await backend.read())!.resources[`P/r${i}`] !== undefined;
      }),
    );
    expect(done.every(Boolean)).toBe(true);
    expect(backend.writes.length).toBeLessThan(20);
    // Every write after the first compared with what this store knew it had stored, not a read back.
    expect(backend.writes[1].opts.stored).toEqual({ lineage: store.state.lineage, serial: backend.writes[0].serial });
    await store.close();
    expect(localLockHolder(path)).toBeUndefined();
    expect(Object.keys((await backend.read())!.resources)).toHaveLength(200);
  });

  it('saves the state to opsync.errored.json when its last write fails, and says how to push it', async () => {
    const path = join(dir, 'state.json');
    const errored = join(dir, 'opsync.errored.json');
    const backend = new Counting(new LocalBackend(path));
    const store = await RemoteStore.open(backend, { lockTimeoutMs: 0, command: 'test', erroredPath: errored });
    await store.change({ op: 'resource', resource: resource('P/a') });
    backend.failing = true;
    const late = store.change({ op: 'resource', resource: resource('P/b') });
    await expect(late).rejects.toThrow(/cannot write state .*the server is gone/);
    const err = await Promise.resolve(store.close()).catch((e: unknown) => e as Error);
    expect((err as Error).message).toMatch(
      /the state of this run is saved in .*opsync\.errored\.json, and the lock (\S+) is kept so that no other run applies over it: once the backend is reachable, run `opsync force-unlock \1`, then `opsync state push .*opsync\.errored\.json`/,
    );
    expect(existsSync(errored)).toBe(true);
    expect(statSync(errored).mode & 0o777).toBe(0o600);
    const saved = JSON.parse(readFileSync(errored, 'utf8')) as StateFile;
    expect(Object.keys(saved.resources).sort()).toEqual(['P/a', 'P/b']);
    // The lock is kept: no other run may apply over changes the backend does not have.
    expect(localLockHolder(path)?.id).toBe(store.lockInfo.id);
  });

  it('an update is stored whole before it takes effect; on a failed write nothing changes', async () => {
    const path = join(dir, 'state.json');
    const backend = new Counting(new LocalBackend(path));
    const store = await RemoteStore.open(backend, { lockTimeoutMs: 0, command: 'test', erroredPath: join(dir, 'e.json') });
    await store.update((s) => {
      s.resources['P/a'] = resource('P/a');
    });
    expect((await backend.read())!.serial).toBe(1);
    backend.failing = true;
    await expect(
      store.update((s) => {
        s.resources['P/b'] = resource('P/b');
      }),
    ).rejects.toThrow(/cannot write state/);
    expect(store.state.resources['P/b']).toBeUndefined();
    backend.failing = false;
    await store.close();
    expect(existsSync(join(dir, 'e.json'))).toBe(false);
  });
});
