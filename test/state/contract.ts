// The contract every state backend is held to (src/state/backend.ts, its header comment), after Terraform's
// internal/states/remote/testing.go (TestClient, TestRemoteLocks) and internal/backend/testing.go
// (TestBackendStateLocks, TestBackendStateForceUnlock): the ideas, not the Go code. test/state/backends.test.ts
// runs it for each backend.
//
// Two clients of one stored state stand for two opsync processes (one may tie a lock to its client, or make
// it reentrant): each case takes them from a fresh store (`make()`), so no case depends on another's leftovers.
// Every error any client throws is kept, and the last case checks none of them holds a credential.

import { randomBytes, randomUUID } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { describe, expect, it, onTestFinished, type TestContext } from 'vitest';
import { BackendError, LockError, StateConflictError, type LockHolder, type StateBackend, type WriteOptions } from '../../src/state/backend.js';
import { serialiseState } from '../../src/state/file.js';
import { acquire } from '../../src/state/lock.js';
import type { StateFile } from '../../src/state/types.js';
import { findLeak } from '../support/leaks.js';
import { holderInfo, next, sampleState } from '../support/states.js';

export interface ContractStore {
  /** A NEW client of the same stored state on each call. */
  backend: () => StateBackend;
  cleanup?: () => Promise<void>;
  /** False for a store that cannot check a write's lock id: case 6 is skipped. */
  enforcesLockOnWrite?: boolean;
  /**
   * True for a store that refuses every write and delete made without holding the lock (opsync server):
   * the cases lock around the writes they make unlocked, and case 6 checks that refusal instead.
   */
  writesNeedLock?: boolean;
  /**
   * False for a store that gives back only the holder's id (GitLab keeps its own user name as Who and drops
   * the caller's Operation and Info): case 2 checks the id alone, and case 7 that such a holder is never
   * taken over (nothing says it ran here) rather than that a dead one is.
   */
  keepsHolderInfo?: boolean;
  /** The credentials this store's clients use (a token the server made, say), beside `ContractInput.secret`. */
  secrets?: string[];
  /**
   * Clients configured like the others whose every call fails (a closed port, a refused password): their
   * errors are checked for credentials too. Optional; they should fail fast (few retries).
   */
  broken?: () => StateBackend[];
}

export interface ContractInput {
  /** A credential-looking value for the factory to use as its password, where it has one. */
  secret: string;
}

export type ContractFactory = (input: ContractInput) => Promise<ContractStore | { skip: string }>;

/** Text that looks like a credential, whatever its value: a bearer token, a URL's password, a header dump. */
const CREDENTIAL_PATTERNS: [RegExp, string][] = [
  [/\bbearer\s+[A-Za-z0-9._~+/=-]{8,}/i, 'a bearer token'],
  [/\bbasic\s+[A-Za-z0-9+/=]{8,}/i, 'basic credentials'],
  [/:\/\/[^\s/@:]+:[^\s/@]+@/, 'a URL with a password'],
  [/\bauthorization\s*[:=]\s*\S/i, 'an Authorization header'],
  [/[?&](password|token|access_token|private_token)=/i, 'a credential in a query string'],
  [/\bpassword\s*[:=]\s*\S/i, 'a password setting'],
];

/** What an error shows a user or a log: its name, message, holder and causes. */
function errorText(err: unknown, depth = 0): string {
  if (depth > 5 || err === undefined || err === null) return '';
  if (!(err instanceof Error)) return String(err);
  const holder = (err as { holder?: unknown }).holder;
  return [err.name, err.message, holder ? JSON.stringify(holder) : '', errorText((err as { cause?: unknown }).cause, depth + 1)].join('\n');
}

/** The first credential `text` shows (a description that never quotes it), or undefined. */
function credentialIn(text: string, secrets: string[]): string | undefined {
  for (const s of secrets) if (s && findLeak(text, s) !== undefined) return 'a trace of a credential the store was given';
  for (const [re, what] of CREDENTIAL_PATTERNS) if (re.test(text)) return what;
  return undefined;
}


/** A pid of this host that no process has now: a child that has exited. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', '']);
  if (!r.pid) throw new Error('cannot start a child process to get a dead pid');
  return r.pid;
}

/** The error `p` rejects with (fails when it resolves). */
async function rejection(p: Promise<unknown>, what: string): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  expect.fail(`${what} succeeded; it should have been refused`);
}

/** Who holds the lock, as a lock attempt by `b` reports it (and asserts that it is held). */
async function holderSeenBy(b: StateBackend): Promise<LockHolder | undefined> {
  let got: LockHolder;
  try {
    got = await b.lock(holderInfo('probe'));
  } catch (err) {
    expect(err).toBeInstanceOf(LockError);
    return (err as LockError).holder;
  }
  await b.unlock(got.id);
  expect.fail('the lock was free: a probe took it');
}

export function backendContract(name: string, make: ContractFactory): void {
  describe(`state backend contract: ${name}`, () => {
    const errors: { where: string; err: unknown }[] = [];
    const secrets: string[] = [];
    let skipped: string | undefined;

    /** A recording wrapper: every rejection is kept for the credentials case. */
    const recorded = (b: StateBackend, label: string): StateBackend => {
      const wrap =
        <A extends unknown[], R>(method: string, f: (...a: A) => Promise<R>) =>
        async (...a: A): Promise<R> => {
          try {
            return await f(...a);
          } catch (err) {
            errors.push({ where: `${label}.${method}`, err });
            throw err;
          }
        };
      return {
        type: b.type,
        get name() {
          return b.name;
        },
        read: wrap('read', () => b.read()),
        write: wrap('write', (s: StateFile, o?: WriteOptions) => b.write(s, o)),
        delete: wrap('delete', (o?: WriteOptions) => b.delete(o)),
        lock: wrap('lock', (i: Omit<LockHolder, 'id'>) => b.lock(i)),
        unlock: wrap('unlock', (id: string) => b.unlock(id)),
        forceUnlock: wrap('forceUnlock', (id: string) => b.forceUnlock(id)),
        close: wrap('close', () => b.close()),
      };
    };

    /** A fresh store for one case, with clients A and B (and C on demand); skips the case when `make` does. */
    async function setup(ctx: TestContext): Promise<{
      a: StateBackend;
      b: StateBackend;
      client: (label: string) => StateBackend;
      store: ContractStore;
      /** A write made with no lock in mind: under its own lock where the store needs one. */
      put: (c: StateBackend, s: StateFile, opts?: WriteOptions) => Promise<void>;
      del: (c: StateBackend) => Promise<void>;
    }> {
      if (skipped) ctx.skip(skipped);
      // Random through and through: a fixed prefix would match ordinary text (a temp folder's name).
      const secret = randomBytes(18).toString('base64url');
      const made = await make({ secret });
      if ('skip' in made) {
        skipped = made.skip;
        ctx.skip(made.skip);
      }
      const store = made as ContractStore;
      secrets.push(secret, ...(store.secrets ?? []));
      const opened: StateBackend[] = [];
      onTestFinished(async () => {
        for (const c of opened) await c.close().catch(() => undefined);
        await store.cleanup?.();
      });
      const client = (label: string) => {
        const c = store.backend();
        opened.push(c);
        return recorded(c, label);
      };
      const underLock = async (c: StateBackend, f: (lockId?: string) => Promise<void>) => {
        if (!store.writesNeedLock) return f();
        const l = await c.lock(holderInfo('writer'));
        try {
          await f(l.id);
        } finally {
          await c.unlock(l.id);
        }
      };
      const put = (c: StateBackend, s: StateFile, opts: WriteOptions = {}) => underLock(c, (lockId) => c.write(s, { ...opts, ...(lockId ? { lockId } : {}) }));
      const del = (c: StateBackend) => underLock(c, (lockId) => c.delete(lockId ? { lockId } : {}));
      return { a: client('A'), b: client('B'), client, store, put, del };
    }

    it('1. put/get/delete: none is undefined, a write reads back the same, a delete reads undefined', async (ctx) => {
      const { a, b, client, put, del } = await setup(ctx);
      expect(await a.read()).toBeUndefined();
      const s = sampleState();
      await put(a, s);
      const got = await a.read();
      expect(got).toBeDefined();
      expect(serialiseState(got!)).toBe(serialiseState(s));
      // Another client (another process) reads what was stored, not a cache of its own.
      expect(serialiseState((await b.read())!)).toBe(serialiseState(s));
      const s2 = next(s);
      s2.resources['Private/db'].version = 4;
      await put(b, s2);
      expect(serialiseState((await a.read())!)).toBe(serialiseState(s2));
      await del(a);
      expect(await a.read()).toBeUndefined();
      expect(await client('C').read()).toBeUndefined();
    });

    it('2. two clients: the second cannot lock while the first holds it, is told who, and can once it is released', async (ctx) => {
      const { a, b, store, put } = await setup(ctx);
      await put(a, sampleState());
      const infoA = holderInfo('clientA');
      const lockA = await a.lock(infoA);
      expect(lockA.id).toMatch(/\S/);
      // A locked state can still be read by another client (Terraform: "read locked state from another instance").
      expect(await b.read()).toBeDefined();
      const err = await rejection(b.lock(holderInfo('clientB')), 'B locking while A holds the lock');
      expect(err).toBeInstanceOf(LockError);
      const holder = (err as LockError).holder;
      expect(holder?.id).toBe(lockA.id);
      if (store.keepsHolderInfo !== false) {
        expect(holder?.who).toBe(infoA.who);
        expect(holder?.command).toBe(infoA.command);
        expect(holder?.host).toBe(infoA.host);
        expect(holder?.pid).toBe(infoA.pid);
      }
      await a.unlock(lockA.id);
      const lockB = await b.lock(holderInfo('clientB'));
      expect(lockB.id).not.toBe(lockA.id);
      await b.unlock(lockB.id);
      // Released: A can take it again.
      await a.unlock((await a.lock(infoA)).id);
    });

    it('3. force-unlock: a wrong id is refused and the holder keeps it; the holder id releases it', async (ctx) => {
      const { a, b } = await setup(ctx);
      const lockA = await a.lock(holderInfo('clientA'));
      const reported = await holderSeenBy(b);
      expect(reported?.id).toBe(lockA.id);
      const wrong = await rejection(b.forceUnlock(randomUUID()), 'force-unlock with a wrong id');
      expect(wrong).toBeInstanceOf(LockError);
      expect((await holderSeenBy(b))?.id).toBe(lockA.id);
      // The id the lock error reported (what `opsync force-unlock <id>` is given) releases it, from another client.
      await b.forceUnlock(reported!.id);
      const lockB = await b.lock(holderInfo('clientB'));
      expect(lockB.id).not.toBe(lockA.id);
      // A's stale id now releases nothing: B's newer lock stands.
      await rejection(a.forceUnlock(lockA.id), "force-unlock with the previous holder's id");
      expect((await holderSeenBy(a))?.id).toBe(lockB.id);
      await b.unlock(lockB.id);
    });

    it('4. unlock with a wrong id does not release the lock', async (ctx) => {
      const { a, b } = await setup(ctx);
      const lockA = await a.lock(holderInfo('clientA'));
      for (const [who, c] of [
        ['A (the holder)', a],
        ['B', b],
      ] as const) {
        let threw: unknown;
        await c.unlock(randomUUID()).catch((err: unknown) => (threw = err));
        // Refusing is the clear answer; if it says anything, it says LockError.
        if (threw !== undefined) expect(threw, `unlock by ${who} with a wrong id`).toBeInstanceOf(LockError);
        expect((await holderSeenBy(b))?.id, `the lock after ${who} unlocked with a wrong id`).toBe(lockA.id);
      }
      await a.unlock(lockA.id);
      await b.unlock((await b.lock(holderInfo('clientB'))).id);
    });

    it('5. a write of another lineage, or of a serial not above the stored one, is refused unless forced', async (ctx) => {
      const { a, b, put } = await setup(ctx);
      const s = sampleState(randomUUID(), 5);
      await put(a, s);
      const refused = async (doc: StateFile, what: string) => {
        const before = serialiseState((await a.read())!);
        expect(await rejection(put(b, doc), what), what).toBeInstanceOf(StateConflictError);
        expect(serialiseState((await a.read())!), `the stored state after ${what}`).toBe(before);
      };
      await refused(sampleState(randomUUID(), 6), 'a write of another lineage');
      await refused(next(s, 5), 'a write of an equal serial');
      await refused(next(s, 4), 'a write of a lower serial');
      // --force (`state push --force`) replaces it, another lineage and a lower serial alike.
      const other = sampleState(randomUUID(), 2);
      await put(b, other, { force: true });
      expect(serialiseState((await a.read())!)).toBe(serialiseState(other));
      const lower = next(other, 1);
      await put(b, lower, { force: true });
      expect(serialiseState((await a.read())!)).toBe(serialiseState(lower));
      // And the ordinary case: the same lineage, a newer serial (above every serial stored so far: GitLab keeps a
      // version per serial whatever its lineage, and refuses to store one twice).
      const newer = next(lower, 10);
      await put(a, newer);
      expect(serialiseState((await b.read())!)).toBe(serialiseState(newer));
      await refused(next(s, 99), 'a write of the replaced lineage');
    });

    it("6. while A holds the lock, a write or delete without A's lock id is refused", async (ctx) => {
      const { a, b, store, put } = await setup(ctx);
      if (store.enforcesLockOnWrite === false) ctx.skip('this store cannot check the lock id of a write');
      const s = sampleState();
      await put(a, s);
      const lockA = await a.lock(holderInfo('clientA'));
      const stored = serialiseState(s);
      for (const [what, p] of [
        ['a write without a lock id', () => b.write(next(s))],
        ['a write with another lock id', () => b.write(next(s), { lockId: randomUUID() })],
        ['a forced write without a lock id', () => b.write(next(s), { force: true })],
        ['a delete without a lock id', () => b.delete()],
        ['a delete with another lock id', () => b.delete({ lockId: randomUUID() })],
      ] as const) {
        expect(await rejection(p(), what), what).toBeInstanceOf(StateConflictError);
        expect(serialiseState((await a.read())!), `the stored state after ${what}`).toBe(stored);
      }
      // The holder's id is what a write must name, and it does not release the lock.
      const s2 = next(s);
      await a.write(s2, { lockId: lockA.id });
      expect(serialiseState((await b.read())!)).toBe(serialiseState(s2));
      expect((await holderSeenBy(b))?.id).toBe(lockA.id);
      await a.unlock(lockA.id);
      if (store.writesNeedLock) {
        // Unlocked, this store still wants a lock: a write or delete without one is refused too.
        expect(await rejection(b.write(next(s2)), 'a write with no lock held'), 'a write with no lock held').toBeInstanceOf(StateConflictError);
        expect(await rejection(b.delete(), 'a delete with no lock held'), 'a delete with no lock held').toBeInstanceOf(StateConflictError);
        expect((await a.read())?.serial).toBe(s2.serial);
      } else {
        // Unlocked: a write names no lock.
        await b.write(next(s2));
        expect((await a.read())?.serial).toBe(s2.serial + 1);
      }
    });

    it('7. acquire(): a dead holder of this host is taken over; a live one, or one on another host, is not', async (ctx) => {
      const { a, b, store } = await setup(ctx);
      const keeps = store.keepsHolderInfo !== false;
      // A kill -9'd apply of this host: its lock is taken over at once.
      const dead = await a.lock(holderInfo('crashed', { pid: deadPid(), command: 'opsync apply' }));
      if (keeps) {
        const got = await acquire(b, { timeoutMs: 5_000, command: 'opsync apply' });
        expect(got.staleTakenOver?.id).toBe(dead.id);
        expect(got.id).not.toBe(dead.id);
        expect((await holderSeenBy(a))?.id).toBe(got.id);
        await b.unlock(got.id);
      } else {
        // The store does not say where its holder ran: it may be alive elsewhere, so it is left alone.
        const err = await rejection(acquire(b, { timeoutMs: 300, command: 'opsync apply' }), 'acquire() over a holder the store does not describe');
        expect(err).toBeInstanceOf(LockError);
        expect((err as Error).message).toContain(`opsync force-unlock ${dead.id}`);
        expect((await holderSeenBy(b))?.id).toBe(dead.id);
        await a.unlock(dead.id);
      }

      // A live process of this host (this one): waited for, not taken over.
      const live = await a.lock(holderInfo('running', { pid: process.pid }));
      const liveErr = await rejection(acquire(b, { timeoutMs: 300, command: 'opsync apply' }), 'acquire() over a live holder');
      expect(liveErr).toBeInstanceOf(LockError);
      expect((await holderSeenBy(b))?.id).toBe(live.id);
      await a.unlock(live.id);

      // Another host: its pid means nothing here, so it is never taken over; the error says the way out.
      const remote = await a.lock(holderInfo('ci', { host: 'runner-elsewhere.invalid', who: 'ci@runner-elsewhere.invalid', pid: deadPid() }));
      const remoteErr = await rejection(acquire(b, { timeoutMs: 300, command: 'opsync apply' }), 'acquire() over a holder on another host');
      expect(remoteErr).toBeInstanceOf(LockError);
      expect((remoteErr as Error).message).toContain(`opsync force-unlock ${remote.id}`);
      if (keeps) expect((remoteErr as Error).message).toContain('runner-elsewhere.invalid');
      expect((await holderSeenBy(b))?.id).toBe(remote.id);
      await a.unlock(remote.id);
    });

    it('8. no error message, holder or backend name shows a credential', async (ctx) => {
      const { a, b, store, put } = await setup(ctx);
      // Provoke each refusal once more (this case may run alone).
      const s = sampleState();
      await put(a, s);
      const lockA = await a.lock(holderInfo('clientA'));
      await b.lock(holderInfo('clientB')).catch(() => undefined);
      await b.unlock(randomUUID()).catch(() => undefined);
      await b.forceUnlock(randomUUID()).catch(() => undefined);
      await b.write(next(s)).catch(() => undefined);
      await b.delete().catch(() => undefined);
      await a.unlock(lockA.id);
      await b.write(sampleState()).catch(() => undefined);
      await b.write(next(s, 0)).catch(() => undefined);
      await acquire(b, { timeoutMs: 0, command: 'opsync apply' }).then((l) => b.unlock(l.id));
      for (const [i, raw] of (store.broken?.() ?? []).entries()) {
        const u = recorded(raw, `broken[${i}]`);
        onTestFinished(() => u.close().catch(() => undefined));
        for (const [what, p] of [
          ['read', () => u.read()],
          ['write', () => u.write(next(s, 50))],
          ['forced write', () => u.write(next(s, 51), { force: true })],
          ['lock', () => u.lock(holderInfo('broken'))],
          ['unlock', () => u.unlock(randomUUID())],
          ['forceUnlock', () => u.forceUnlock(randomUUID())],
          ['delete', () => u.delete()],
        ] as const) {
          const err = await rejection(p(), `${what} by broken client ${i}`);
          // Not "held": acquire() would wait out --lock-timeout for a holder there is not, then name none.
          expect(err, `${what} by broken client ${i}`).not.toBeInstanceOf(LockError);
          if (what === 'read' || what === 'lock') expect(err, `${what} by broken client ${i}`).toBeInstanceOf(BackendError);
        }
        expect(credentialIn(u.name, secrets), `the name of broken client ${i}`).toBeUndefined();
      }
      expect(errors.length, 'errors recorded').toBeGreaterThan(0);
      for (const c of [a, b]) expect(credentialIn(c.name, secrets), "a client's name").toBeUndefined();
      for (const { where, err } of errors) {
        // The description names the kind of credential only, never the text.
        expect(credentialIn(errorText(err), secrets), `the error of ${where} (${(err as Error)?.name})`).toBeUndefined();
      }
    });
  });
}
