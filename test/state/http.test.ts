// The http backend (Terraform's http backend protocol) against a GitLab-style state API on 127.0.0.1, and
// against a plain Terraform-protocol server (LOCK/UNLOCK, 423 with the holder's LockInfo) for the defaults.

import { createHash, randomUUID } from 'node:crypto';
import http from 'node:http';
import { hostname } from 'node:os';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BackendError, LockError, StateConflictError, type LockHolder } from '../../src/state/backend.js';
import { HttpBackend, type HttpSettings } from '../../src/state/backends/http.js';
import { serialiseState } from '../../src/state/file.js';
import type { StateFile } from '../../src/state/types.js';
import { startGitlabState, type GitlabState } from '../support/gitlabState.js';
import { rejection, sampleState } from '../support/states.js';

const USER = 'ci-bot';
const PASSWORD = `glpat-${randomUUID()}`;

let gitlab: GitlabState;
const opened: HttpBackend[] = [];

beforeEach(async () => {
  gitlab = await startGitlabState({ username: USER, password: PASSWORD });
});
afterEach(async () => {
  for (const b of opened.splice(0)) await b.close();
  await gitlab.close();
});

/** A backend on GitLab's layout (POST/DELETE on …/lock), with short retry waits. */
function backend(name = 'prod', over: Partial<HttpSettings> = {}): HttpBackend {
  const b = new HttpBackend({
    address: gitlab.address(name),
    lockAddress: gitlab.lockAddress(name),
    lockMethod: 'POST',
    unlockMethod: 'DELETE',
    username: USER,
    password: PASSWORD,
    retryWaitMinMs: 5,
    retryWaitMaxMs: 20,
    ...over,
  });
  opened.push(b);
  return b;
}

const holderInfo = (who: string, over: Partial<Omit<LockHolder, 'id'>> = {}): Omit<LockHolder, 'id'> => ({
  who: `${who}@${hostname()}`,
  host: hostname(),
  pid: process.pid,
  command: `opsync apply (${who})`,
  created: new Date().toISOString(),
  ...over,
});

const state = (serial: number, lineage: string = randomUUID()): StateFile => sampleState(lineage, serial);


describe('http backend against GitLab', () => {
  it('names the address without credentials or query', () => {
    const b = backend('prod', { address: `http://user:${PASSWORD}@gitlab.example/api/v4/projects/1/terraform/state/prod?x=1` });
    expect(b.name).toBe('http://gitlab.example/api/v4/projects/1/terraform/state/prod');
    expect(b.type).toBe('http');
  });

  it('reads none: 404 for a state never seen, 204 for one a lock created', async () => {
    const b = backend();
    expect(await b.read()).toBeUndefined();
    const held = await b.lock(holderInfo('a'));
    expect(gitlab.lockId('prod')).toBe(held.id);
    expect(await b.read()).toBeUndefined();
    expect(gitlab.requests.map((r) => `${r.method} ${r.status}`)).toEqual(['GET 404', 'POST 200', 'GET 204']);
  });

  it('writes and reads back the same document, with Content-Type and Content-MD5', async () => {
    const b = backend();
    const s = state(1);
    await b.write(s);
    expect(serialiseState((await b.read())!)).toBe(serialiseState(s));
    const post = gitlab.requests.find((r) => r.method === 'POST')!;
    expect(post.contentType).toBe('application/json');
    expect(post.contentMd5).toBe(createHash('md5').update(gitlab.stored('prod')!).digest('base64'));
    // A second client (another process) sees it.
    expect((await backend().read())?.lineage).toBe(s.lineage);
  });

  it('serialises the state before its first await: a change made after write() is called is not written', async () => {
    const b = backend();
    const s = state(1);
    const p = b.write(s);
    s.serial = 99;
    s.resources = {};
    await p;
    const got = (await b.read())!;
    expect(got.serial).toBe(1);
    expect(Object.keys(got.resources).sort()).toEqual(['Private/api', 'Private/db']);
  });

  it('refuses another lineage and a serial not above the stored one, unless forced', async () => {
    const b = backend();
    const s = state(5);
    await b.write(s);
    const other = await rejection(b.write(state(6)));
    expect(other).toBeInstanceOf(StateConflictError);
    expect(other.message).toMatch(/has lineage .* not .*nothing was written/);
    const lower = await rejection(b.write(state(4, s.lineage)));
    expect(lower).toBeInstanceOf(StateConflictError);
    expect(lower.message).toMatch(/at serial 5; serial 4 is not newer/);
    expect(await rejection(b.write(state(5, s.lineage)))).toBeInstanceOf(StateConflictError);
    expect((await b.read())!.serial).toBe(5);

    // --force: no read first, force=true on the request; GitLab takes it (a serial it holds no version of).
    const before = gitlab.requests.length;
    await b.write(state(3), { force: true });
    expect(gitlab.requests.slice(before).map((r) => `${r.method} ${r.query}`)).toEqual(['POST ?force=true']);
    expect((await b.read())!.serial).toBe(3);
    // GitLab keeps a version per serial: a forced write of a serial it holds is its 422, shown as such.
    const again = await rejection(b.write(state(5), { force: true }));
    expect(again).toBeInstanceOf(BackendError);
    expect(again.message).toMatch(/422 Unprocessable Entity.*serial/);
  });

  it('refuses a Terraform state (or anything else) stored at the address with one clear line', async () => {
    const b = backend();
    await b.write(state(1));
    // Someone's Terraform state at the same address.
    const tf = JSON.stringify({ version: 4, terraform_version: '1.9.0', serial: 3, lineage: randomUUID(), outputs: {}, resources: [] });
    const raw = new HttpBackend({ address: gitlab.address('tf'), username: USER, password: PASSWORD });
    opened.push(raw);
    const res = await fetch(gitlab.address('tf'), { method: 'POST', body: tf, headers: { authorization: `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}` } });
    expect(res.status).toBe(200);
    const err = await rejection(raw.read());
    expect(err.message).toContain(`state ${raw.name}`);
    expect(err.message).not.toContain('\n');
  });

  it('writes under the lock with ?ID=; GitLab refuses a write without it (409) as a StateConflictError', async () => {
    const b = backend();
    const held = await b.lock(holderInfo('a'));
    const s = state(1);
    const err = await rejection(b.write(s));
    expect(err).toBeInstanceOf(StateConflictError);
    expect(err.message).toMatch(/refused the write \(409 Conflict\): state is locked.*nothing was written/);
    await b.write(s, { lockId: held.id });
    expect(gitlab.requests.filter((r) => r.method === 'POST' && !r.path.endsWith('/lock')).map((r) => r.query)).toEqual(['', `?ID=${held.id}`]);
    expect((await b.read())!.lineage).toBe(s.lineage);
  });

  it('a held lock is a LockError naming its id and who (GitLab keeps no command: its echo of ours is not taken)', async () => {
    const a = backend();
    const b = backend();
    const held = await a.lock(holderInfo('a'));
    const err = await rejection(b.lock(holderInfo('b')));
    expect(err).toBeInstanceOf(LockError);
    const holder = (err as LockError).holder!;
    expect(holder.id).toBe(held.id);
    expect(holder.who).toBe(USER); // GitLab's Who: the user name that took it
    expect(holder.command).toBe('');
    expect(holder.pid).toBeUndefined(); // the echoed Info was b's own: no pid to take for a's
    expect(err.message).toContain(held.id);
    expect(err.message).toContain(USER);
  });

  it('unlocks with the lock id, and the state can be locked again', async () => {
    const a = backend();
    const held = await a.lock(holderInfo('a'));
    await a.unlock(held.id);
    expect(gitlab.lockId('prod')).toBeUndefined();
    const unlock = gitlab.requests.find((r) => r.method === 'DELETE')!;
    expect(unlock.path.endsWith('/lock')).toBe(true);
    expect(unlock.query).toBe(`?ID=${held.id}`);
    const again = await backend().lock(holderInfo('b'));
    expect(gitlab.lockId('prod')).toBe(again.id);
  });

  it('force-unlock refuses an id that is not the holder’s and releases the holder’s', async () => {
    const held = await backend().lock(holderInfo('a'));
    const other = backend();
    const wrong = randomUUID();
    const err = await rejection(other.forceUnlock(wrong));
    expect(err).toBeInstanceOf(LockError);
    expect(err.message).toContain(`not locked under ${wrong}`);
    expect(err.message).toContain('nothing was unlocked');
    expect(gitlab.lockId('prod')).toBe(held.id);
    await other.forceUnlock(held.id);
    expect(gitlab.lockId('prod')).toBeUndefined();
    // An unlock of a lock no longer held is refused too (GitLab: no lock to match).
    expect(await rejection(other.unlock(held.id))).toBeInstanceOf(LockError);
  });

  it('a wrong password: authentication refused, and no trace of the password or the header', async () => {
    const wrong = `wrong-${randomUUID()}`;
    const b = backend('prod', { password: wrong });
    for (const p of [b.read(), b.write(state(1), { force: true }), b.lock(holderInfo('a')), b.forceUnlock(randomUUID())]) {
      const err = await rejection(p);
      expect(err).toBeInstanceOf(BackendError);
      expect(err.message).toMatch(/authentication was refused \(401 Unauthorized\); check the username and OPSYNC_HTTP_PASSWORD/);
      const shown = `${err.message} ${JSON.stringify(err)}`;
      for (const s of [wrong, PASSWORD, Buffer.from(`${USER}:${wrong}`).toString('base64')]) expect(shown).not.toContain(s);
      expect(shown).not.toMatch(/basic /i);
    }
    // 4xx is not retried.
    expect(gitlab.requests).toHaveLength(4);
  });

  it('retries a 5xx up to retryMax times, then reports the last answer', async () => {
    const b = backend();
    await b.write(state(1), { force: true });
    gitlab.fail(2, 502);
    const before = gitlab.requests.length;
    expect((await b.read())?.serial).toBe(1);
    expect(gitlab.requests.slice(before).map((r) => r.status)).toEqual([502, 502, 200]);

    gitlab.fail(3, 500);
    const err = await rejection(b.read());
    expect(err).toBeInstanceOf(BackendError);
    expect(err.message).toMatch(/GET answered 500 Internal Server Error after 3 attempts: 500 stub failure/);

    // 501 is not worth retrying (go-retryablehttp's policy), nor is a 4xx.
    gitlab.fail(1, 501);
    const at = gitlab.requests.length;
    expect((await rejection(b.read())).message).toMatch(/501 Not Implemented/);
    expect(gitlab.requests.length - at).toBe(1);
  });

  it('a lock or unlock whose answer was lost (a 502 after the work was done) is carried out once', async () => {
    const b = backend();
    gitlab.fail(1, 502, true);
    // The retry's 409 names our own id: the lock is ours.
    const held = await b.lock(holderInfo('a'));
    expect(gitlab.lockId('prod')).toBe(held.id);
    expect(gitlab.requests.map((r) => r.status)).toEqual([502, 409]);
    // The retried unlock finds no lock to match (GitLab's 409): done, not an error.
    gitlab.fail(1, 502, true);
    await b.unlock(held.id);
    expect(gitlab.lockId('prod')).toBeUndefined();
    expect(gitlab.requests.slice(2).map((r) => r.status)).toEqual([502, 409]);
  });

  it('takes no lock and sends nothing when no lock address is set (Terraform’s semantics)', async () => {
    const b = backend('prod', { lockAddress: undefined });
    const held = await b.lock(holderInfo('a'));
    expect(held.id).toMatch(/^[0-9a-f-]{36}$/);
    await b.unlock(held.id);
    expect(gitlab.requests).toHaveLength(0);
    expect(await rejection(b.forceUnlock(held.id))).toBeInstanceOf(LockError);
  });

  it('deletes the state; a locked one GitLab keeps (answering 200) is reported, not taken for deleted', async () => {
    const b = backend();
    await b.write(state(1));
    await b.delete();
    expect(await b.read()).toBeUndefined();
    await b.delete(); // none: nothing to do

    await b.write(state(1));
    const held = await b.lock(holderInfo('a'));
    const err = await rejection(b.delete({ lockId: held.id }));
    expect(err).toBeInstanceOf(StateConflictError);
    expect(err.message).toMatch(/still holds the state .*nothing was deleted/);
  });

  it('a closed port: a BackendError after the retries, naming the address and not the password', async () => {
    const b = backend('prod', { address: 'http://127.0.0.1:1/state', retryMax: 1 });
    const err = await rejection(b.read());
    expect(err).toBeInstanceOf(BackendError);
    expect(err.message).toMatch(/^state http:\/\/127\.0\.0\.1:1\/state: could not read the state: connection refused \(ECONNREFUSED\) \(after 2 attempts\)$/);
    expect(err.message).not.toContain(PASSWORD);
  });

  it('refuses a bad address or setting with a line that hides credentials', () => {
    expect(() => new HttpBackend({ address: `ftp://u:${PASSWORD}@x/state` })).toThrow(/must be an http:\/\/ or https:\/\/ URL/);
    try {
      new HttpBackend({ address: `ftp://u:${PASSWORD}@x/state` });
    } catch (err) {
      expect((err as Error).message).not.toContain(PASSWORD);
    }
    expect(() => new HttpBackend({ address: 'not a url' })).toThrow(/not a valid URL/);
    expect(() => new HttpBackend({ address: 'http://x/s', retryMax: -1 })).toThrow(/retryMax/);
    expect(() => new HttpBackend({ address: 'http://x/s', lockMethod: 'LO CK' })).toThrow(/not an HTTP method/);
  });
});

/** A plain Terraform http backend: GET/POST/DELETE and LOCK/UNLOCK on one address, 423 with the holder. */
async function startTerraformServer(): Promise<{
  address: string;
  /** The next answer, instead of the usual one. */
  script: (status: number, body: string, headers?: Record<string, string>) => void;
  methods: string[];
  close: () => Promise<void>;
}> {
  let doc: string | undefined;
  let lock: string | undefined;
  let scripted: { status: number; body: string; headers: Record<string, string> } | undefined;
  const methods: string[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      methods.push(req.method!);
      const send = (status: number, text = '', headers: Record<string, string> = {}) => {
        res.writeHead(status, headers);
        res.end(text);
      };
      if (scripted) {
        const s = scripted;
        scripted = undefined;
        return send(s.status, s.body, s.headers);
      }
      const id = (text: string) => (JSON.parse(text) as { ID: string }).ID;
      switch (req.method) {
        case 'GET':
          return doc === undefined ? send(404) : send(200, doc);
        case 'POST':
          if (lock && new URL(req.url!, 'http://x').searchParams.get('ID') !== id(lock)) return send(423, lock);
          doc = body;
          return send(200);
        case 'DELETE':
          doc = undefined;
          return send(200);
        case 'LOCK':
          if (lock) return send(423, lock);
          lock = body;
          return send(200);
        case 'UNLOCK':
          if (!lock) return send(200);
          if (id(lock) !== id(body)) return send(423, lock);
          lock = undefined;
          return send(200);
        default:
          return send(405);
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const address = `http://127.0.0.1:${(server.address() as AddressInfo).port}/state/prod`;
  return {
    address,
    script: (status, body, headers = {}) => (scripted = { status, body, headers }),
    methods,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

describe('http backend against a plain Terraform http backend', () => {
  let tf: Awaited<ReturnType<typeof startTerraformServer>>;
  beforeEach(async () => {
    tf = await startTerraformServer();
  });
  afterEach(async () => {
    await tf.close();
  });
  const plain = (over: Partial<HttpSettings> = {}) => {
    const b = new HttpBackend({ address: tf.address, lockAddress: tf.address, password: PASSWORD, username: 'u', retryWaitMinMs: 1, retryWaitMaxMs: 5, ...over });
    opened.push(b);
    return b;
  };

  it('locks with LOCK and UNLOCK by default; a 423 names the holder as another opsync wrote it', async () => {
    const a = plain();
    const info = holderInfo('a', { ciRunUrl: 'https://ci.example/run/7' });
    const held = await a.lock(info);
    const err = await rejection(plain().lock(holderInfo('b')));
    expect(err).toBeInstanceOf(LockError);
    expect((err as LockError).holder).toEqual({ ...info, id: held.id });
    expect(err.message).toContain(`lock ${held.id} held by ${info.who} (${info.command}, pid ${process.pid})`);
    // Force-unlock with another id: refused, naming the holder; with its id: released.
    const wrong = await rejection(plain().forceUnlock(randomUUID()));
    expect(wrong).toBeInstanceOf(LockError);
    expect((wrong as LockError).holder?.id).toBe(held.id);
    await plain().forceUnlock(held.id);
    await a.unlock((await a.lock(info)).id);
    expect(tf.methods).toEqual(['LOCK', 'LOCK', 'UNLOCK', 'UNLOCK', 'LOCK', 'UNLOCK']);
  });

  it('reads the holder of a Terraform lock (no opsync Info): host from Who', async () => {
    tf.script(409, JSON.stringify({ ID: 'tf-1', Operation: 'OperationTypeApply', Info: '', Who: 'alice@laptop', Version: '1.9.0', Created: '2026-01-01T00:00:00Z', Path: '' }));
    const err = await rejection(plain().lock(holderInfo('b')));
    expect((err as LockError).holder).toEqual({ id: 'tf-1', who: 'alice@laptop', host: 'laptop', command: 'OperationTypeApply', created: '2026-01-01T00:00:00Z' });
  });

  it('a 423 on write: StateConflictError with the server’s text on one line, cut short, without the password', async () => {
    tf.script(423, JSON.stringify({ message: `locked\nby someone; your password ${PASSWORD} is wrong ${'x'.repeat(400)}` }), { 'content-type': 'application/json' });
    const err = await rejection(plain().write(state(1), { force: true }));
    expect(err).toBeInstanceOf(StateConflictError);
    expect(err.message).toMatch(/refused the write \(423 Locked\): locked by someone; your password \(redacted\) is wrong x+…; nothing was written/);
    expect(err.message).not.toContain(PASSWORD);
    expect(err.message).not.toContain('\n');
    expect(err.message.length).toBeLessThan(400);
  });

  it('honours updateMethod and retries a 503 with Retry-After (capped at retryWaitMax)', async () => {
    const b = plain({ updateMethod: 'PUT' });
    tf.script(503, '', { 'retry-after': '120' });
    const t0 = Date.now();
    await b.read();
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(tf.methods).toEqual(['GET', 'GET']);
    await expect(b.write(state(1))).rejects.toThrow(/PUT answered 405/);
  });

  it('refuses a document whose Content-MD5 does not match', async () => {
    await plain().write(state(1));
    tf.script(200, serialiseState(state(1)), { 'content-md5': createHash('md5').update('other').digest('base64') });
    expect((await rejection(plain().read())).message).toMatch(/arrived damaged/);
  });
});
