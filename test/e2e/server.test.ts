// `opsync server` as a process: it starts, writes its token 0600, keeps data across SIGTERM and kill -9,
// lets an in-flight request finish on SIGTERM, and `server token create` prints a scoped token.

import type { ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { client, ID } from '../server/helpers.js';
import { runCli, spawnCli, tempProject } from './cli.js';

interface Running {
  child: ChildProcess;
  url: string;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const running: ChildProcess[] = [];

afterEach(() => {
  for (const c of running.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

/** Starts `opsync server ARGS --port 0` and resolves once it says where it listens. */
function startServerProcess(cwd: string, args: string[]): Promise<Running> {
  const child = spawnCli(['server', '--port', '0', ...args], { cwd });
  running.push(child);
  let out = '';
  let err = '';
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) =>
    child.on('exit', (code, signal) => res({ code, signal })),
  );
  return new Promise((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
      const m = /listening on (http:\/\/\S+)/.exec(err);
      if (m) resolve({ child, url: m[1], stdout: () => out, stderr: () => err, exited });
    });
    void exited.then(({ code }) => reject(new Error(`server exited (${code}) before listening:\n${err}`)));
  });
}

const mode = (path: string) => statSync(path).mode & 0o777;

function until(cond: () => boolean, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    let tries = 0;
    const t = setInterval(() => {
      if (cond()) {
        clearInterval(t);
        resolve();
      } else if (++tries > 500) {
        clearInterval(t);
        reject(new Error(`gave up waiting for ${what}`));
      }
    }, 20);
  });
}

describe('opsync server (process)', () => {
  it('creates a vault and a 0600 token on first start, keeps data across SIGTERM and kill -9', async () => {
    const dir = tempProject();
    const data = join(dir, 'data');
    const first = await startServerProcess(dir, ['--data', data]);
    expect(first.stderr()).toContain('created vault "Private"');
    expect(first.stderr()).toContain(join(data, 'token'));
    expect(first.stdout()).toBe('');
    const token = readFileSync(join(data, 'token'), 'utf8').trim();
    expect(mode(join(data, 'token'))).toBe(0o600);
    expect(mode(join(data, 'opsync.db'))).toBe(0o600);
    expect(mode(data)).toBe(0o700);

    let call = client(first.url, token);
    const vaults = await call<{ id: string; name: string }[]>('GET', '/v1/vaults');
    expect(vaults.body.map((v) => v.name)).toEqual(['Private']);
    const vault = vaults.body[0].id;
    expect(vault).toMatch(ID);
    const created = await call<{ id: string }>('POST', `/v1/vaults/${vault}/items`, {
      vault: { id: vault },
      title: 'kept',
      category: 'LOGIN',
      fields: [{ label: 'password', type: 'CONCEALED', purpose: 'PASSWORD', value: 'not-in-logs-7731' }],
    });
    expect(created.status).toBe(200);

    first.child.kill('SIGTERM');
    expect(await first.exited).toEqual({ code: 0, signal: null });
    expect(first.stderr()).toContain('SIGTERM received');
    expect(first.stderr()).not.toContain('not-in-logs-7731');

    // Restart: same data, same token, no second "Private".
    const second = await startServerProcess(dir, ['--data', data]);
    expect(second.stderr()).not.toContain('created vault');
    call = client(second.url, token);
    const item = await call<{ title: string; fields: { value?: string }[] }>('GET', `/v1/vaults/${vault}/items/${created.body.id}`);
    expect(item.status).toBe(200);
    expect(item.body.fields[0].value).toBe('not-in-logs-7731');
    const patched = await call('PATCH', `/v1/vaults/${vault}/items/${created.body.id}`, [{ op: 'replace', path: '/title', value: 'renamed' }]);
    expect(patched.status).toBe(200);

    // kill -9 right after a committed write: the write is there on the next start (WAL).
    second.child.kill('SIGKILL');
    await second.exited;
    // A -wal left world-readable (by an older opsync, say) is narrowed to 0600 at the next start.
    const wal = join(data, 'opsync.db-wal');
    expect(existsSync(wal)).toBe(true);
    chmodSync(wal, 0o644);
    // A deleted token file is replaced at start (the start-up line promises it); old tokens stay valid.
    rmSync(join(data, 'token'));
    const third = await startServerProcess(dir, ['--data', data]);
    const fresh = readFileSync(join(data, 'token'), 'utf8').trim();
    expect(fresh).not.toBe(token);
    expect(mode(join(data, 'token'))).toBe(0o600);
    expect(mode(wal)).toBe(0o600);
    expect((await client(third.url, fresh)('GET', '/v1/vaults')).status).toBe(200);
    call = client(third.url, token);
    const again = await call<{ title: string; version: number }>('GET', `/v1/vaults/${vault}/items/${created.body.id}`);
    expect(again.body.title).toBe('renamed');
    expect(again.body.version).toBe(2);
    third.child.kill('SIGINT');
    expect((await third.exited).code).toBe(0);
  });

  it('lets a request that is in flight at SIGTERM finish before it exits', async () => {
    const dir = tempProject();
    const srv = await startServerProcess(dir, ['--data', join(dir, 'data')]);
    const token = readFileSync(join(dir, 'data', 'token'), 'utf8').trim();
    const vault = (await client(srv.url, token)<{ id: string }[]>('GET', '/v1/vaults')).body[0].id;
    const body = Buffer.from(JSON.stringify({ vault: { id: vault }, title: 'late', category: 'API_CREDENTIAL', tags: ['x'.repeat(2000)] }));

    const { port, hostname } = new URL(srv.url);
    const reply = new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = request(
        {
          host: hostname,
          port,
          method: 'POST',
          path: `/v1/vaults/${vault}/items`,
          headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json', 'Content-Length': body.length },
        },
        (res) => {
          let text = '';
          res.on('data', (d: Buffer) => (text += d.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
        },
      );
      req.on('error', reject);
      // Half the body now; the rest only after the server has been told to stop.
      req.write(body.subarray(0, 100));
      setTimeout(() => {
        srv.child.kill('SIGTERM');
        void until(() => srv.stderr().includes('SIGTERM received'), 'the SIGTERM line').then(() => req.end(body.subarray(100)));
      }, 200);
    });

    const r = await reply;
    expect(r.status).toBe(200);
    expect(JSON.parse(r.text)).toMatchObject({ title: 'late', version: 1 });
    expect(await srv.exited).toEqual({ code: 0, signal: null });
  });

  it('--memory writes nothing and prints its one full-access token on stdout', async () => {
    const dir = tempProject();
    const srv = await startServerProcess(dir, ['--memory']);
    await until(() => srv.stdout().includes('\n'), 'the token on stdout');
    const token = srv.stdout().trim();
    expect(token.split('\n')).toHaveLength(1);
    const vaults = await client(srv.url, token)('GET', '/v1/vaults');
    expect(vaults.status).toBe(200);
    srv.child.kill('SIGTERM');
    expect((await srv.exited).code).toBe(0);
    expect(() => statSync(join(dir, '.opsync'))).toThrow();
  });

  it('--pid-file names the server process while it runs, and is removed when it stops', async () => {
    const dir = tempProject();
    const pidFile = join(dir, 'server.pid');
    const srv = await startServerProcess(dir, ['--memory', '--pid-file', pidFile]);
    await until(() => existsSync(pidFile), 'the pid file');
    expect(Number(readFileSync(pidFile, 'utf8').trim())).toBe(srv.child.pid);
    process.kill(Number(readFileSync(pidFile, 'utf8')), 'SIGTERM');
    expect((await srv.exited).code).toBe(0);
    expect(existsSync(pidFile)).toBe(false);
  });

  it('token create prints only a token, scoped to the vaults it names', async () => {
    const dir = tempProject();
    const data = join(dir, 'data');
    const seed = join(dir, 'seed.yaml');
    writeFileSync(seed, 'vaults:\n  - name: Production\n    description: prod\n  - name: Staging\n    description: stage\n');
    const srv = await startServerProcess(dir, ['--data', data, '--seed', seed, '--quiet']);
    const full = client(srv.url, readFileSync(join(data, 'token'), 'utf8').trim());
    const vaults = (await full<{ id: string; name: string }[]>('GET', '/v1/vaults')).body;
    const prod = vaults.find((v) => v.name === 'Production')!.id;
    const staging = vaults.find((v) => v.name === 'Staging')!.id;

    // Issued by a second process while the server runs (SQLite WAL lets both open the store).
    const issued = await runCli(['server', 'token', 'create', '--data', data, '--name', 'ci', '--vault', 'Staging:read'], { cwd: dir });
    expect(issued.code).toBe(0);
    expect(issued.stdout).toMatch(/^\S+\n$/);
    const scoped = client(srv.url, issued.stdout.trim());
    expect((await scoped('GET', `/v1/vaults/${staging}/items`)).status).toBe(200);
    const denied = await scoped('GET', `/v1/vaults/${prod}/items`);
    expect(denied.status).toBe(403);
    expect(denied.body).toEqual({ status: 403, message: expect.stringContaining('does not have access to vault') });
    const readOnly = await scoped('POST', `/v1/vaults/${staging}/items`, { vault: { id: staging }, title: 'x', category: 'LOGIN' });
    expect(readOnly.status).toBe(401);
    expect((await scoped('GET', '/v1/vaults')).body).toEqual([expect.objectContaining({ name: 'Staging' })]);

    const unknown = await runCli(['server', 'token', 'create', '--data', data, '--vault', 'Nope'], { cwd: dir });
    expect(unknown.code).not.toBe(0);
    expect(unknown.stdout).toBe('');
    expect(unknown.stderr).toContain('Nope');
    srv.child.kill('SIGTERM');
    await srv.exited;
  });

  it('says clearly when the port is taken, without a stack trace', async () => {
    const dir = tempProject();
    const srv = await startServerProcess(dir, ['--memory']);
    const r = await runCli(['server', '--memory', '--port', new URL(srv.url).port], { cwd: dir });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('already in use');
    expect(r.stderr).not.toMatch(/\n\s+at /);
    srv.child.kill('SIGTERM');
    await srv.exited;
  });
});
