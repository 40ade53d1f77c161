// Replaces that lose nothing: a category change (or --replace) creates the new item first, carrying over the
// generated and unmanaged values, then deletes the old one. Against a real server through the fault proxy: the
// item stays readable by title throughout; kill -9 between the create and the delete, or while the create is in
// flight, converges on the next apply to exactly one item and a no-op plan. Values are compared inside the test,
// never printed.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConnectClient, filterEq } from '../../src/connect/client.js';
import type { FullItem } from '../../src/connect/types.js';
import { readState } from '../../src/state/file.js';
import { startFaultProxy, type FaultProxy } from '../support/faultProxy.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { runCli, spawnCli, tempProject } from './cli.js';

let srv: TestServer;
let proxy: FaultProxy;
let client: ConnectClient;
let dir: string;
let vaultId: string;

const TITLE = 'Orders DB';
const manifest = (category: string, extra = '') =>
  `vault: Private\nitems:\n  db:\n    title: ${TITLE}\n    category: ${category}\n${extra}    fields:\n      username: app\n      password: { purpose: PASSWORD, generate: { length: 32 } }\n      legacy: { type: CONCEALED }\n`;

beforeEach(async () => {
  srv = await startTestServer();
  proxy = await startFaultProxy(srv.url);
  client = new ConnectClient({ host: srv.url, token: srv.token, backoffBaseMs: 5 });
  vaultId = (await client.findVault('Private'))!.id;
  dir = tempProject({ 'm.yaml': manifest('LOGIN') });
});

afterEach(async () => {
  await client.close();
  await proxy.close();
  await srv.close();
});

const env = (extra: Record<string, string> = {}) => ({ OP_CONNECT_HOST: proxy.url, OP_CONNECT_TOKEN: srv.token, ...extra });
const cli = (args: string[], extra: Record<string, string> = {}) => runCli(args, { cwd: dir, env: env(extra) });
const write = (text: string) => writeFileSync(join(dir, 'm.yaml'), text);
// With the journal a killed apply left replayed, as every reader sees it.
const state = () => readState(join(dir, '.opsync/state.json'));
const titled = () => client.listItems(vaultId, filterEq('title', TITLE));
const value = (item: FullItem, label: string) => item.fields?.find((f) => f.label === label)?.value;

interface JsonChange {
  address: string;
  action: string;
  reasons: string[];
  changes: { path: string; note?: string; sensitive: boolean; before?: unknown }[];
}
const planJson = async (args: string[] = []) => {
  const r = await cli(['plan', 'm.yaml', '--format', 'json', ...args]);
  expect(r.code, r.stdout + r.stderr).toBe(0);
  return (JSON.parse(r.stdout) as { resource_changes: JsonChange[] }).resource_changes.find((c) => c.address === 'Private/db')!;
};

/** The one item of the title, after a first apply, with its unmanaged field set by hand. */
async function applied(): Promise<FullItem> {
  const r = await cli(['apply', 'm.yaml', '--auto-approve']);
  expect(r.code, r.stdout + r.stderr).toBe(0);
  const [summary] = await titled();
  const item = await client.getItem(vaultId, summary.id);
  // A value opsync does not manage: set by hand, it must survive the replace.
  const legacy = item.fields!.find((f) => f.label === 'legacy')!;
  await client.patchItem(vaultId, item.id, [{ op: 'replace', path: `/fields/${legacy.id}/value`, value: 'set-by-hand-1' }]);
  const refreshed = await cli(['refresh', 'm.yaml']);
  expect(refreshed.code, refreshed.stdout + refreshed.stderr).toBe(0);
  return client.getItem(vaultId, item.id);
}

async function expectConverged(old: FullItem, category: string): Promise<FullItem> {
  const plan = await cli(['plan', 'm.yaml', '--detailed-exitcode']);
  expect(plan.code, plan.stdout + plan.stderr).toBe(0);
  const items = await titled();
  expect(items).toHaveLength(1);
  expect(items[0].id).not.toBe(old.id);
  const s = state();
  expect(s.resources['Private/db'].itemId).toBe(items[0].id);
  expect(s.resources['Private/db'].retired).toBeUndefined();
  expect(s.pending).toEqual({});
  const item = await client.getItem(vaultId, items[0].id);
  expect(item.category).toBe(category);
  // The generated password and the unmanaged value came over (compared here, never printed).
  expect(value(item, 'password')).toBe(value(old, 'password'));
  expect(value(item, 'legacy')).toBe('set-by-hand-1');
  return item;
}

describe('create-before-destroy', () => {
  it('a category change keeps an item of that title readable throughout and carries its generated and unmanaged values over', async () => {
    const old = await applied();
    write(manifest('PASSWORD'));

    const plan = await cli(['plan', 'm.yaml']);
    expect(plan.code, plan.stdout + plan.stderr).toBe(0);
    expect(plan.stdout).toContain('category changed: a new item is created, then the old one deleted');
    expect(plan.stdout).toMatch(/item id: "[a-z0-9]+" \(a new item id: create-before-destroy\)/);
    expect(plan.stdout).toContain('field password: (carried over)');
    expect(plan.stdout).toContain('field legacy: (carried over)');
    expect(plan.stdout).not.toContain(value(old, 'password')!);
    expect(plan.stdout).not.toContain('set-by-hand-1');

    // The create and the delete are each held a while, so the poll below sees the moments around them.
    proxy.inject({ method: 'POST', delayMs: 400 });
    proxy.inject({ method: 'DELETE', delayMs: 400 });
    proxy.resetCounters();
    let polling = true;
    const counts: number[] = [];
    const poll = (async () => {
      while (polling) counts.push((await titled()).length);
    })();
    const r = await cli(['apply', 'm.yaml', '--auto-approve']);
    polling = false;
    await poll;
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout + r.stderr).not.toContain(value(old, 'password')!);
    const writes = proxy.seen.filter((s) => s.method === 'POST' || s.method === 'DELETE').map((s) => s.method);
    expect(writes).toEqual(['POST', 'DELETE']); // created before destroyed
    expect(counts.length).toBeGreaterThan(5);
    expect(Math.min(...counts)).toBeGreaterThanOrEqual(1);
    expect(Math.max(...counts)).toBe(2); // both for a moment, while the create is done and the delete held

    await expectConverged(old, 'PASSWORD');
  });

  it('--rotate on a replace regenerates the password instead of carrying it over', async () => {
    const old = await applied();
    write(manifest('PASSWORD'));
    const change = await planJson(['--rotate', 'Private/db:password']);
    expect(change.action).toBe('replace');
    expect(change.changes).toContainEqual(expect.objectContaining({ path: 'field password', sensitive: true, note: 'regenerated: --rotate' }));
    expect(change.changes).toContainEqual(expect.objectContaining({ path: 'field legacy', note: 'carried over' }));
    const r = await cli(['apply', 'm.yaml', '--auto-approve', '--rotate', 'Private/db:password']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const [summary] = await titled();
    const item = await client.getItem(vaultId, summary.id);
    expect(item.id).not.toBe(old.id);
    expect(value(item, 'password')).not.toBe(value(old, 'password'));
    expect(value(item, 'password')).toMatch(/^.{32}$/);
    expect(value(item, 'legacy')).toBe('set-by-hand-1');
    expect((await cli(['plan', 'm.yaml', '--detailed-exitcode'])).code).toBe(0);
  });

  it('a refused create leaves the old item in place and the state as it was', async () => {
    const old = await applied();
    const before = state().resources['Private/db'];
    write(manifest('PASSWORD'));
    proxy.inject({ method: 'POST', status: 400 });
    const r = await cli(['apply', 'm.yaml', '--auto-approve']);
    expect(r.code).toBe(1);
    expect((await titled()).map((s) => s.id)).toEqual([old.id]);
    expect(state().resources['Private/db']).toEqual(before);
    expect(state().pending).toEqual({});
    const again = await cli(['apply', 'm.yaml', '--auto-approve']);
    expect(again.code, again.stdout + again.stderr).toBe(0);
    await expectConverged(old, 'PASSWORD');
  });

  it('a failed delete keeps the new item and the next apply deletes the old one', async () => {
    const old = await applied();
    write(manifest('PASSWORD'));
    proxy.inject({ method: 'DELETE', status: 403 });
    const r = await cli(['apply', 'm.yaml', '--auto-approve']);
    expect(r.code).toBe(1);
    expect(r.stdout + r.stderr).toContain('the next apply deletes it');
    expect(await titled()).toHaveLength(2);
    expect(state().resources['Private/db'].retired).toEqual([{ itemId: old.id, vaultId }]);
    const change = await planJson();
    expect(change.action).toBe('replace');
    expect(change.reasons).toContain('finishing an interrupted replace: the new item is kept, the old one deleted');
    const again = await cli(['apply', 'm.yaml', '--auto-approve']);
    expect(again.code, again.stdout + again.stderr).toBe(0);
    await expectConverged(old, 'PASSWORD');
  });

  it('a resource deleted while a replace left its old item warns, naming the item to delete by hand', async () => {
    const old = await applied();
    write(manifest('PASSWORD'));
    proxy.inject({ method: 'DELETE', status: 403 });
    expect((await cli(['apply', 'm.yaml', '--auto-approve'])).code).toBe(1);
    write('vault: Private\nitems: {}\n');
    const r = await cli(['plan', 'm.yaml']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout + r.stderr).toContain(`Private/db: an interrupted replace left its old item ${old.id} in vault Private, which this plan does not delete`);
  });
});

describe('crashes', () => {
  it('kill -9 between the create and the delete: the next apply deletes the old item, then nothing to do', async () => {
    const old = await applied();
    write(manifest('PASSWORD'));
    const killed = await cli(['apply', 'm.yaml', '--auto-approve'], { OPSYNC_TEST_KILL_AFTER_REPLACE_CREATE: '1' });
    expect(killed.code, killed.stdout + killed.stderr).toBe(-1); // died by the signal
    expect(await titled()).toHaveLength(2);
    expect(state().resources['Private/db'].retired).toEqual([{ itemId: old.id, vaultId }]);
    expect(state().resources['Private/db'].itemId).not.toBe(old.id);

    const change = await planJson();
    expect(change.action).toBe('replace');
    expect(change.reasons).toContain('finishing an interrupted replace: the new item is kept, the old one deleted');
    expect(change.changes).toContainEqual(expect.objectContaining({ path: 'old item', before: old.id }));
    // As a saved plan too: it passes the saved-plan checks (the old item is one the state retires).
    expect((await cli(['plan', 'm.yaml', '-out', 'p.opsplan'])).code).toBe(0);
    const r = await cli(['apply', 'p.opsplan', '--auto-approve']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    await expectConverged(old, 'PASSWORD');
  });

  it('kill -9 right after the create is sent, before its answer is recorded: the item it made is adopted, the old one deleted', async () => {
    const old = await applied();
    write(manifest('PASSWORD'));
    proxy.inject({ method: 'POST', delayMs: 300 });
    proxy.resetCounters();
    const child = spawnCli(['apply', 'm.yaml', '--auto-approve'], { cwd: dir, env: env() });
    const exited = new Promise<void>((r) => child.on('exit', () => r()));
    let done = false;
    void exited.then(() => (done = true));
    while (!done && !proxy.seen.some((s) => s.method === 'POST')) await new Promise((r) => setTimeout(r, 5));
    expect(done, 'apply ended before its create was sent').toBe(false);
    child.kill('SIGKILL');
    await exited;
    // The proxy still delivers the held create after the client died: wait until the server has it.
    for (let i = 0; i < 100 && (await titled()).length < 2; i++) await new Promise((r) => setTimeout(r, 20));
    expect(await titled()).toHaveLength(2); // the old item is still there: it is deleted only after the create
    expect(state().pending['Private/db']).toMatchObject({ replaces: old.id });

    const change = await planJson();
    expect(change.action).toBe('replace');
    expect(change.reasons).toContain('recovering an interrupted create');
    expect(change.reasons).toContain('finishing an interrupted replace: the new item is kept, the old one deleted');
    expect((await cli(['plan', 'm.yaml', '-out', 'p.opsplan'])).code).toBe(0);
    const r = await cli(['apply', 'p.opsplan', '--auto-approve']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    await expectConverged(old, 'PASSWORD');
  });

  it('kill -9 before the create reached Connect: the next apply replaces it again', async () => {
    const old = await applied();
    write(manifest('PASSWORD'));
    // The create never arrives: the connection is reset before it is forwarded, and the apply killed meanwhile.
    proxy.inject({ method: 'POST', delayMs: 2_000, reset: 'before' });
    proxy.resetCounters();
    const child = spawnCli(['apply', 'm.yaml', '--auto-approve'], { cwd: dir, env: env() });
    const exited = new Promise<void>((r) => child.on('exit', () => r()));
    while (!proxy.seen.some((s) => s.method === 'POST')) await new Promise((r) => setTimeout(r, 5));
    child.kill('SIGKILL');
    await exited;
    proxy.clear();
    expect((await titled()).map((s) => s.id)).toEqual([old.id]);
    expect(state().pending['Private/db']).toMatchObject({ replaces: old.id });
    const change = await planJson();
    expect(change.action).toBe('replace');
    expect(change.reasons.join('; ')).toContain('a replace was interrupted before its new item was made');
    const r = await cli(['apply', 'm.yaml', '--auto-approve']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    await expectConverged(old, 'PASSWORD');
  });
});

describe('--replace', () => {
  it('forces a create-before-destroy replace with no category change, on plan, saved plan and apply', async () => {
    const old = await applied();
    expect((await cli(['plan', 'm.yaml', '--detailed-exitcode'])).code).toBe(0);
    const change = await planJson(['--replace', 'Private/db']);
    expect(change.action).toBe('replace');
    expect(change.reasons).toContain('replace requested (--replace): a new item is created, then the old one deleted');
    expect(change.changes).toContainEqual(expect.objectContaining({ path: 'item id', before: old.id }));
    expect(change.changes).toContainEqual(expect.objectContaining({ path: 'field password', sensitive: true, note: 'carried over' }));

    const saved = await cli(['plan', 'm.yaml', '--replace', 'Private/db', '-out', 'p.opsplan']);
    expect(saved.code, saved.stdout + saved.stderr).toBe(0);
    const file = JSON.parse(readFileSync(join(dir, 'p.opsplan'), 'utf8')) as { replace: string[] };
    expect(file.replace).toEqual(['Private/db']);
    const r = await cli(['apply', 'p.opsplan', '--auto-approve']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const first = await expectConverged(old, 'LOGIN');

    // And straight from apply.
    const again = await cli(['apply', 'm.yaml', '--auto-approve', '--replace', 'Private/db']);
    expect(again.code, again.stdout + again.stderr).toBe(0);
    await expectConverged(first, 'LOGIN');
  });

  it('a protected resource refuses it', async () => {
    write(manifest('LOGIN', '    protect: true\n'));
    expect((await cli(['apply', 'm.yaml', '--auto-approve'])).code).toBe(0);
    const r = await cli(['plan', 'm.yaml', '--replace', 'Private/db']);
    expect(r.code).toBe(1);
    expect(r.stdout + r.stderr).toContain('Private/db: protected, but --replace would replace its item');
    write(manifest('PASSWORD', '    protect: true\n'));
    const category = await cli(['plan', 'm.yaml']);
    expect(category.code).toBe(1);
    expect(category.stdout + category.stderr).toContain('Private/db: protected, but its category change would replace its item');
  });
});
