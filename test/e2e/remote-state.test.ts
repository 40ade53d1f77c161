// Remote state backends end to end (issue 15): the real CLI as a process, a real opsync server as the Connect
// server and as the http state backend (/state/NAME), PostgreSQL when this machine has one. The manifest
// holds no literal value: every value comes from {env:}, and no command's output, nor any stored state,
// may show one (nor the state token).
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { StateFile } from '../../src/state/types.js';
import { startHttpProxy, type HttpProxy } from '../support/httpProxy.js';
import { freshSchema, postgresTarget } from '../support/postgres.js';
import { useSeededProject, type CliResult } from './cli.js';

const SEED = `vaults:
  - name: Production
    description: prod
`;

const ctx = useSeededProject(SEED);

const SECRETS = { DB_USER: 'dbuser-E2e-91c4d0', DB_PASSWORD: 'pw-E2e-remote-7c1e9a44', API_KEY: 'key-E2e-remote-3b8d2f61' };

const MANIFEST = (tag = 'v1') => `vault: Production
items:
  db:
    title: Database
    tags: [${tag}]
    fields:
      username: { type: STRING, value: { env: DB_USER } }
      password: { type: CONCEALED, value: { env: DB_PASSWORD } }
  api:
    title: API key
    category: API_CREDENTIAL
    fields:
      credential: { type: CONCEALED, value: { env: API_KEY } }
`;
const ADDRESSES = ['Production/api', 'Production/db'];

/** Every output of the test's CLI runs, checked for values and the state token after each test. */
let outputs: string[] = [];
let closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closers.reverse()) await close();
  closers = [];
  const all = outputs.join('\n');
  outputs = [];
  for (const [name, value] of Object.entries(SECRETS)) expect(all, name).not.toContain(value);
  expect(all).not.toMatch(/Bearer|Basic [A-Za-z0-9+/=]{8}/);
});

/** The state token of the test's server (every state): one per server, as a CI job has one. */
const tokens = new WeakMap<object, string>();
const token = (): string => {
  let t = tokens.get(ctx.srv);
  if (t === undefined) tokens.set(ctx.srv, (t = ctx.srv.stateToken()));
  return t;
};

/** The CLI in the project with the manifest's variables and the state token; its output is kept for the leak check. */
async function cli(args: string[], env: Record<string, string | undefined> = {}): Promise<CliResult> {
  const r = await ctx.cli(args, { ...SECRETS, OPSYNC_HTTP_PASSWORD: token(), ...env });
  outputs.push(r.stdout, r.stderr);
  expect(r.stdout + r.stderr).not.toContain(token());
  return r;
}

/** opsync.yaml naming the http backend at BASE/state/NAME (lines indented under backend: in `extra`). */
const httpYaml = (base: string, name: string, extra = '') =>
  `manifests: [m.yaml]\nbackend:\n  type: http\n  address: ${base}/state/${name}\n  lock_address: ${base}/state/${name}\n  username: ci\n${extra}`;

/** The --backend-config flags (or --to / --from) of the same backend. */
const httpFlags = (flag: string, base: string, name: string) =>
  [`type=http`, `address=${base}/state/${name}`, `lock_address=${base}/state/${name}`, 'username=ci'].flatMap((kv) => [flag, kv]);

/** A request to the server's /state API with the state token. */
async function stateApi(method: string, path: string, body?: unknown): Promise<{ status: number; json: unknown; text: string }> {
  const res = await fetch(`${ctx.srv.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${token()}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    /* not JSON */
  }
  return { status: res.status, json, text };
}

const stored = async (name: string) => (await stateApi('GET', `/state/${name}`)).text;

/** A Terraform LockInfo of a run on another machine. */
const otherHostLock = (id: string) => ({
  ID: id,
  Operation: 'OperationTypeApply',
  Info: JSON.stringify({ host: 'runner-7.ci.example', pid: 4242 }),
  Who: 'alice@runner-7.ci.example',
  Version: '1.9.0',
  Created: '2026-01-02T03:04:05.000Z',
  Path: '',
});

async function itemTitles(): Promise<string[]> {
  const vault = (await ctx.client.findVault('Production'))!;
  return (await ctx.client.listItems(vault.id)).map((i) => i.title).sort();
}

const oneLine = (r: CliResult) => {
  expect(r.stderr.trimEnd().split('\n'), r.stderr).toHaveLength(1);
  return r.stderr.trimEnd();
};

/** The document `state pull` printed. */
const pulled = (r: CliResult): StateFile => {
  expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
  return JSON.parse(r.stdout) as StateFile;
};

/** Apply the manifest with opsync.yaml's backend, successfully. */
async function applyOk(args: string[] = []): Promise<void> {
  const r = await cli(['apply', '--auto-approve', ...args]);
  expect(r.code, r.stdout + r.stderr).toBe(0);
}

describe('http backend on opsync server', () => {
  it('apply stores the state remotely; pull, plan, state list read it; the server keeps versions', async () => {
    ctx.write('m.yaml', MANIFEST());
    ctx.write('opsync.yaml', httpYaml(ctx.srv.url, 'prod'));
    await applyOk();
    expect(await itemTitles()).toEqual(['API key', 'Database']);
    expect(existsSync(join(ctx.dir, '.opsync/state.json'))).toBe(false); // nothing local

    const pull = await cli(['state', 'pull']);
    expect(pull.code, pull.stderr).toBe(0);
    const s = pulled(pull);
    expect(s.lineage).toMatch(/^[0-9a-f-]{36}$/);
    expect(s.serial).toBeGreaterThan(1);
    expect(Object.keys(s.resources).sort()).toEqual(ADDRESSES);
    expect(s.connect).toBe(ctx.srv.url);
    expect(pull.stdout).toBe(await stored('prod')); // as stored, byte for byte

    const plan = await cli(['plan', '--detailed-exitcode']);
    expect(plan.code, plan.stdout + plan.stderr).toBe(0);

    const list = await cli(['state', 'list']);
    expect(list.code, list.stderr).toBe(0);
    expect(list.stdout.trimEnd().split('\n').map((l) => l.split('\t')[0])).toEqual(ADDRESSES);

    const versions = (await stateApi('GET', '/state/prod/versions')).json as { serial: number; lineage: string; current: boolean }[];
    expect(versions.length).toBeGreaterThanOrEqual(3);
    expect(versions[0]).toMatchObject({ serial: s.serial, lineage: s.lineage, current: true });
    expect(versions.every((v) => v.lineage === s.lineage)).toBe(true);
    for (const v of versions) {
      const doc = (await stateApi('GET', `/state/prod/versions/${v.serial}`)).text;
      for (const value of Object.values(SECRETS)) expect(doc).not.toContain(value);
    }
    // Unlocked at the end.
    const list2 = (await stateApi('GET', '/state')).json as { name: string; locked: boolean }[];
    expect(list2.find((x) => x.name === 'prod')).toMatchObject({ locked: false });
  });

  it('--backend-config alone selects the backend; what is missing or secret is refused in one line', async () => {
    ctx.write('m.yaml', MANIFEST());
    ctx.write('opsync.yaml', 'manifests: [m.yaml]\n');
    const flags = httpFlags('--backend-config', ctx.srv.url, 'flags');
    let r = await cli(['apply', '--auto-approve', ...flags]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(existsSync(join(ctx.dir, '.opsync/state.json'))).toBe(false);
    r = await cli(['state', 'pull', ...flags]);
    expect(Object.keys(pulled(r).resources).sort()).toEqual(ADDRESSES);
    r = await cli(['plan', '--detailed-exitcode', ...flags]);
    expect(r.code, r.stdout + r.stderr).toBe(0);

    r = await cli(['plan', '--backend-config', 'type=http']);
    expect(r.code).toBe(1);
    expect(oneLine(r)).toBe('opsync: error: the http backend needs address: set backend.address in opsync.yaml or pass --backend-config address=URL');

    r = await cli(['plan', ...flags, '--backend-config', 'password=flag-Pw-0d1e']);
    expect(r.code).toBe(1);
    expect(oneLine(r)).toMatch(/^opsync: error: --backend-config password: the backend password comes from OPSYNC_HTTP_PASSWORD only/);
    expect(r.stderr).not.toContain('flag-Pw-0d1e');

    r = await cli(['plan', ...flags, '--state', 'other.json']);
    expect(r.code).toBe(1);
    expect(oneLine(r)).toBe(
      `opsync: error: --state names a local state file, but the state backend is http (${ctx.srv.url}/state/flags); drop one of them`,
    );

    ctx.write('opsync.yaml', `${httpYaml(ctx.srv.url, 'flags')}  password: yaml-Pw-77a3\n`);
    r = await cli(['plan']);
    expect(r.code).toBe(1);
    expect(oneLine(r)).toMatch(/^opsync\.yaml:7:3: error: the state backend password must not be in opsync\.yaml .*set OPSYNC_HTTP_PASSWORD$/);
    expect(r.stderr).not.toContain('yaml-Pw-77a3');
  });

  it('state migrate copies a local state to the server and back into another; another lineage needs --force', async () => {
    ctx.write('m.yaml', MANIFEST());
    ctx.write('opsync.yaml', 'manifests: [m.yaml]\n');
    await applyOk();
    const local = JSON.parse(ctx.read('.opsync/state.json')) as StateFile;

    let r = await cli(['state', 'migrate', ...httpFlags('--to', ctx.srv.url, 'mig')]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe(
      `Copied the state (lineage ${local.lineage}, 2 resource(s)) from .opsync/state.json to ${ctx.srv.url}/state/mig, now at serial ${local.serial}.\n`,
    );
    expect(r.stderr).toContain('is left as it is');
    expect(JSON.parse(await stored('mig'))).toMatchObject({ lineage: local.lineage, serial: local.serial });

    // opsync.yaml switched to the server: nothing to do.
    ctx.write('opsync.yaml', httpYaml(ctx.srv.url, 'mig'));
    r = await cli(['plan', '--detailed-exitcode']);
    expect(r.code, r.stdout + r.stderr).toBe(0);

    // --from: opsync.yaml names the destination (a new state), the flags the source.
    ctx.write('opsync.yaml', httpYaml(ctx.srv.url, 'mig2'));
    r = await cli(['state', 'migrate', '--from', 'type=local', '--from', 'path=.opsync/state.json']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`from ${join(ctx.dir, '.opsync/state.json')} to ${ctx.srv.url}/state/mig2, now at serial`);
    r = await cli(['plan', '--detailed-exitcode']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    r = await cli(['state', 'migrate', '--from', 'type=local', '--from', 'path=.opsync/state.json']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('already holds this state');

    // A state of another lineage onto it: refused, then forced.
    ctx.write('other.json', JSON.stringify({ ...local, lineage: randomUUID() }, null, 2));
    const before = await stored('mig2');
    r = await cli(['state', 'migrate', '--from', 'type=local', '--from', 'path=other.json']);
    expect(r.code).toBe(1);
    expect(oneLine(r)).toMatch(new RegExp(`^opsync: error: state ${ctx.srv.url}/state/mig2 has lineage ${local.lineage}, not [0-9a-f-]{36}: it is another state; nothing was written \\(--force replaces it\\)$`));
    expect(await stored('mig2')).toBe(before);
    r = await cli(['state', 'migrate', '--from', 'type=local', '--from', 'path=other.json', '--force']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(await stored('mig2')).lineage).not.toBe(local.lineage);
  });

  it('state push: refused on another lineage and an older serial, accepted with --force; the same state writes nothing', async () => {
    ctx.write('m.yaml', MANIFEST());
    ctx.write('opsync.yaml', httpYaml(ctx.srv.url, 'push'));
    await applyOk();
    let r = await cli(['state', 'pull']);
    ctx.write('old.json', r.stdout);
    const old = pulled(r);

    // The same state again: nothing written.
    r = await cli(['state', 'push', 'old.json']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe(`State ${ctx.srv.url}/state/push already holds old.json (serial ${old.serial}); nothing was written.\n`);

    // A newer apply, then the old state: refused.
    ctx.write('m.yaml', MANIFEST('v2'));
    await applyOk();
    const newer = JSON.parse(await stored('push')) as StateFile;
    expect(newer.serial).toBeGreaterThan(old.serial);
    r = await cli(['state', 'push', 'old.json']);
    expect(r.code).toBe(1);
    expect(oneLine(r)).toBe(
      `opsync: error: state ${ctx.srv.url}/state/push is at serial ${newer.serial}; serial ${old.serial} is not newer: nothing was written (--force replaces it)`,
    );
    expect(r.stdout).toBe('');

    // Another lineage: refused.
    ctx.write('other.json', JSON.stringify({ ...old, lineage: randomUUID(), serial: newer.serial + 5 }, null, 2));
    r = await cli(['state', 'push', 'other.json']);
    expect(r.code).toBe(1);
    expect(oneLine(r)).toMatch(new RegExp(`^opsync: error: state ${ctx.srv.url}/state/push has lineage ${newer.lineage}, not .*nothing was written \\(--force replaces it\\)$`));
    expect(JSON.parse(await stored('push'))).toMatchObject({ lineage: newer.lineage, serial: newer.serial });

    // --force: the old state goes in, above the stored serial.
    r = await cli(['state', 'push', 'old.json', '--force']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('Pushed old.json');
    const forced = JSON.parse(await stored('push')) as StateFile;
    expect(forced.lineage).toBe(old.lineage);
    expect(forced.serial).toBeGreaterThan(newer.serial);
    expect(forced.resources['Production/db'].version).toBe(old.resources['Production/db'].version);

    // Pushing what is stored: nothing written.
    ctx.write('now.json', await stored('push'));
    r = await cli(['state', 'push', 'now.json']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('nothing was written');
    expect(((await stateApi('GET', '/state/push/versions')).json as unknown[])[0]).toMatchObject({ serial: forced.serial });
  });

  it('a lock held on another host stops apply, names its holder and force-unlock; --lock-timeout waits for it', async () => {
    ctx.write('m.yaml', MANIFEST());
    ctx.write('opsync.yaml', httpYaml(ctx.srv.url, 'lock'));
    const held = await stateApi('LOCK', '/state/lock', otherHostLock('hand-lock-1'));
    expect(held.status, held.text).toBe(200);

    let r = await cli(['apply', '--auto-approve']);
    expect(r.code).toBe(1);
    expect(oneLine(r)).toBe(
      `opsync: error: state ${ctx.srv.url}/state/lock is locked: lock hand-lock-1 held by alice@runner-7.ci.example (OperationTypeApply, pid 4242) since 2026-01-02T03:04:05.000Z; ` +
        'wait for it (--lock-timeout), or if that run is gone: opsync force-unlock hand-lock-1',
    );
    expect(await itemTitles()).toEqual([]);

    r = await cli(['force-unlock', 'hand-lock-1']);
    expect(r.code).toBe(1);
    expect(oneLine(r)).toBe('opsync: error: force-unlock asks before it unlocks: pass --auto-approve when not on a terminal');
    const still = await stateApi('LOCK', '/state/lock', otherHostLock('contender'));
    expect(still.status).toBe(423);
    expect(still.json).toMatchObject({ ID: 'hand-lock-1' });

    r = await cli(['force-unlock', 'hand-lock-1', '--auto-approve']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe(`Unlocked ${ctx.srv.url}/state/lock (lock hand-lock-1).\n`);
    await applyOk();
    expect(await itemTitles()).toEqual(['API key', 'Database']);

    // A holder that lets go after about a second: --lock-timeout 5s waits for it.
    expect((await stateApi('LOCK', '/state/lock', otherHostLock('hand-lock-2'))).status).toBe(200);
    const release = new Promise<void>((resolve) =>
      setTimeout(() => void stateApi('UNLOCK', '/state/lock', { ID: 'hand-lock-2' }).then(() => resolve()), 1000),
    );
    ctx.write('m.yaml', MANIFEST('v2'));
    const t0 = Date.now();
    r = await cli(['apply', '--auto-approve', '--lock-timeout', '5s']);
    await release;
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(900);
    r = await cli(['plan', '--detailed-exitcode']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
  });

  it('state set-connect: a plan against another URL is refused until the state is re-pointed, then warns once', async () => {
    ctx.write('m.yaml', MANIFEST());
    ctx.write('opsync.yaml', httpYaml(ctx.srv.url, 'moved'));
    await applyOk();
    // The same server under another URL: a Connect server that moved.
    const moved: HttpProxy = await startHttpProxy(ctx.srv.url, () => undefined);
    closers.push(() => moved.close());
    const there = { OP_CONNECT_HOST: moved.url };

    let r = await cli(['plan'], there);
    expect(r.code).toBe(1);
    expect(oneLine(r)).toContain(`was written against ${ctx.srv.url}, not ${moved.url}; if the server moved, run \`opsync state set-connect ${moved.url}\``);

    r = await cli(['state', 'set-connect', moved.url]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`now points at ${moved.url} (was ${ctx.srv.url})`);
    r = await cli(['plan', '--detailed-exitcode'], there);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout + r.stderr).toContain(`re-pointed from ${ctx.srv.url} to ${moved.url}`);
    // The old URL is refused now.
    r = await cli(['plan']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`opsync state set-connect ${ctx.srv.url}`);

    // Back again: no re-pointing left to warn about.
    r = await cli(['state', 'set-connect', ctx.srv.url]);
    expect(r.code, r.stderr).toBe(0);
    r = await cli(['plan', '--detailed-exitcode']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout + r.stderr).not.toContain('re-pointed');
    expect(JSON.parse(await stored('moved')).connectMovedFrom).toBeUndefined();
  });

  it('the backend goes away at the end of an apply: opsync.errored.json, pushed once it is back; nothing created twice', async () => {
    const { proxy, lockId, saved } = await applyWhileTheBackendGoes();
    // The run keeps its lock when the backend lacks its last changes: it does not even try to release it.
    expect(proxy.refused).not.toContain('UNLOCK /state/gone');
    const held = await stateApi('LOCK', '/state/gone', otherHostLock('contender'));
    expect(held.status).toBe(423);
    expect(held.json).toMatchObject({ ID: lockId });

    proxy.up();
    let r = await cli(['state', 'push', 'opsync.errored.json']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe(`Pushed opsync.errored.json (lineage ${saved.lineage}, 2 resource(s)) to ${proxy.url}/state/gone, now at serial ${saved.serial}.\n`);
    expect(JSON.parse(await stored('gone'))).toEqual(saved);
    // The dead run's lock (this host, its pid gone) was taken over by the push, and released.
    expect(((await stateApi('GET', '/state')).json as { name: string; locked: boolean }[]).find((x) => x.name === 'gone')).toMatchObject({ locked: false });

    r = await cli(['plan', '--detailed-exitcode']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(await itemTitles()).toEqual(['API key', 'Database']);
  });

  // The commands come in the order to run them: a lock the run could not release first, then the push.
  it('the commands the errored-state error names, run in its order, each succeed', async () => {
    const { proxy, message } = await applyWhileTheBackendGoes();
    proxy.up();
    const commands = [...message.matchAll(/`opsync ([^`]+)`/g)].map((m) => m[1].split(' '));
    expect(commands.map((c) => c[0]).sort()).toEqual(['force-unlock', 'state']);
    for (const args of commands) {
      const r = await cli(args[0] === 'force-unlock' ? [...args, '--auto-approve'] : args);
      expect(r.code, `opsync ${args.join(' ')}: ${r.stderr}`).toBe(0);
    }
    const r = await cli(['plan', '--detailed-exitcode']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
  });

  // The backend's own message starts "state NAME:" too: the line still names the state once.
  it('the errored-state error names the state once', async () => {
    const { proxy, message } = await applyWhileTheBackendGoes();
    expect(message.split(`${proxy.url}/state/gone`)).toHaveLength(2);
  });
});

/**
 * An apply whose state backend stops answering at its last write (every state request after it gets 502,
 * the unlock too): checks the error and opsync.errored.json, and gives the lock id the error names.
 */
async function applyWhileTheBackendGoes(): Promise<{ proxy: Awaited<ReturnType<typeof goesAway>>; lockId: string; saved: StateFile; message: string }> {
  const proxy = await goesAway((doc) => ADDRESSES.every((a) => doc.resources[a]));
  ctx.write('m.yaml', MANIFEST());
  ctx.write('opsync.yaml', httpYaml(proxy.url, 'gone', '  retry_max: 0\n'));
  const r = await cli(['apply', '--auto-approve']);
  expect(r.code).toBe(1);
  expect(r.stdout).toMatch(/Production\/db: created/);
  const message = r.stderr.split('\n').find((l) => l.includes('opsync.errored.json')) ?? '';
  expect(message, r.stderr).toMatch(
    new RegExp(`^opsync: error: cannot write state ${proxy.url}/state/gone: .*POST answered 502 Bad Gateway.*; the state of this run is saved in opsync\\.errored\\.json, and the lock \\S+ is kept so that no other run applies over it: `),
  );
  expect(message).toContain('`opsync state push opsync.errored.json`');
  // The unlock was refused too: the line names the lock to release.
  const lockId = /`opsync force-unlock ([0-9a-f-]{36})[^`]*`/.exec(message)?.[1];
  expect(lockId, message).toBeDefined();

  const file = join(ctx.dir, 'opsync.errored.json');
  expect(statSync(file).mode & 0o777).toBe(0o600);
  const text = readFileSync(file, 'utf8');
  for (const value of Object.values(SECRETS)) expect(text).not.toContain(value);
  const saved = JSON.parse(text) as StateFile;
  expect(Object.keys(saved.resources).sort()).toEqual(ADDRESSES);
  expect(saved.pending).toEqual({});
  // The server has what was stored before it went: less than the run did.
  const before = JSON.parse(await stored('gone')) as StateFile;
  expect(before.lineage).toBe(saved.lineage);
  expect(before.serial).toBeLessThan(saved.serial);
  return { proxy, lockId: lockId!, saved, message };
}

/**
 * The test server's /state behind a proxy that answers 502 Bad Gateway to every state request (writes, the
 * unlock) from the first write whose document passes `from` on, until up().
 */
async function goesAway(from: (doc: StateFile) => boolean): Promise<HttpProxy & { up(): void; refused: string[] }> {
  let down = false;
  let recovered = false;
  const refused: string[] = [];
  const proxy = await startHttpProxy(ctx.srv.url, (req, body) => {
    const path = req.url ?? '';
    if (!path.startsWith('/state/')) return undefined;
    if (!down && !recovered && req.method === 'POST' && body.length > 0) down = from(JSON.parse(body.toString('utf8')) as StateFile);
    if (!down) return undefined;
    refused.push(`${req.method} ${path.split('?')[0]}`);
    return { status: 502, headers: { 'content-type': 'text/plain' }, body: 'Bad Gateway' };
  });
  closers.push(() => proxy.close());
  return { ...proxy, up: () => void ((down = false), (recovered = true)), refused };
}

describe('postgres backend', async () => {
  const target = await postgresTarget();
  it.skipIf(!target.url)(target.url ? 'apply, pull, plan, state list on PostgreSQL' : `apply on PostgreSQL (skipped: ${target.reason})`, async () => {
    const schema = freshSchema('e2e');
    ctx.write('m.yaml', MANIFEST());
    ctx.write('opsync.yaml', `manifests: [m.yaml]\nbackend:\n  type: postgres\n  schema_name: ${schema}\n  name: prod\n`);
    const pg = { OPSYNC_PG_CONN_STR: target.url! };
    let r = await cli(['apply', '--auto-approve'], pg);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(await itemTitles()).toEqual(['API key', 'Database']);
    expect(existsSync(join(ctx.dir, '.opsync/state.json'))).toBe(false);
    r = await cli(['state', 'pull'], pg);
    expect(r.code, r.stderr).toBe(0);
    const s = pulled(r);
    expect(s.serial).toBeGreaterThan(1);
    expect(Object.keys(s.resources).sort()).toEqual(ADDRESSES);
    r = await cli(['plan', '--detailed-exitcode'], pg);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    r = await cli(['state', 'list'], pg);
    expect(r.stdout.trimEnd().split('\n').map((l) => l.split('\t')[0])).toEqual(ADDRESSES);
    // The lock was released: a second apply takes it, and its change is stored.
    ctx.write('m.yaml', MANIFEST('v2'));
    r = await cli(['apply', '--auto-approve'], pg);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    r = await cli(['state', 'pull'], pg);
    expect(pulled(r).serial).toBeGreaterThan(s.serial);
    r = await cli(['plan', '--detailed-exitcode'], pg);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(await itemTitles()).toEqual(['API key', 'Database']);
  });
});
