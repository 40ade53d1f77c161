// Every path that creates an item recovers an interrupted create without making the item twice (kill -9 while the
// create of a replace, or the re-create of an item deleted by hand, is in flight), and never takes somebody
// else's item of the same title for its own (a refused create leaves no pending record; a pending record adopts
// only an item made while the create was in flight).
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { ConnectClient, filterEq } from '../../src/connect/client.js';
import type { StateFile } from '../../src/state/types.js';
import { startFaultProxy, type FaultProxy } from '../support/faultProxy.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { runCli, spawnCli, tempProject } from './cli.js';

let srv: TestServer;
let proxy: FaultProxy;
let client: ConnectClient;
let dir: string;
let vaultId: string;

const manifest = (category: string) =>
  `vault: Private\nitems:\n  db:\n    title: Orders DB\n    category: ${category}\n    fields:\n      username: app\n      password: { purpose: PASSWORD, generate: true }\n`;

beforeEach(async () => {
  srv = await startTestServer();
  proxy = await startFaultProxy(srv.url);
  client = new ConnectClient({ host: srv.url, token: srv.token });
  vaultId = (await client.findVault('Private'))!.id;
  dir = tempProject({ 'm.yaml': manifest('LOGIN') });
});

afterEach(async () => {
  await client.close();
  await proxy.close();
  await srv.close();
});

const env = () => ({ OP_CONNECT_HOST: proxy.url, OP_CONNECT_TOKEN: srv.token });
const cli = (args: string[]) => runCli(args, { cwd: dir, env: env() });
const state = () => JSON.parse(readFileSync(join(dir, '.opsync/state.json'), 'utf8')) as StateFile;
const titled = async (title: string) => client.listItems(vaultId, filterEq('title', title));
const postsSeen = () => proxy.seen.filter((r) => r.method === 'POST').length;

/** Runs apply and kills it with SIGKILL as soon as a create has reached the proxy (it is held there, then delivered). */
async function applyKilledDuringCreate(): Promise<void> {
  proxy.inject({ method: 'POST', delayMs: 300, times: 1 });
  const before = postsSeen();
  const child = spawnCli(['apply', 'm.yaml', '--auto-approve'], { cwd: dir, env: env() });
  const exited = new Promise<void>((r) => child.on('exit', () => r()));
  let done = false;
  void exited.then(() => (done = true));
  while (!done && postsSeen() === before) await new Promise((r) => setTimeout(r, 5));
  expect(done, 'apply ended before its create was sent').toBe(false);
  child.kill('SIGKILL');
  await exited;
  // The proxy still delivers the held create after the client died: wait until the server has it.
  await new Promise((r) => setTimeout(r, 600));
}

async function expectConverged(): Promise<void> {
  const r = await cli(['apply', 'm.yaml', '--auto-approve']);
  expect(r.code, r.stdout + r.stderr).toBe(0);
  const plan = await cli(['plan', 'm.yaml', '--detailed-exitcode']);
  expect(plan.code, plan.stdout + plan.stderr).toBe(0);
  const items = await titled('Orders DB');
  expect(items).toHaveLength(1);
  expect(state().resources['Private/db'].itemId).toBe(items[0].id);
  expect(state().pending).toEqual({});
}

it('kill -9 while the create of a replace is in flight: one item, adopted, then no changes', async () => {
  expect((await cli(['apply', 'm.yaml', '--auto-approve'])).code).toBe(0);
  writeFileSync(join(dir, 'm.yaml'), manifest('PASSWORD'));
  await applyKilledDuringCreate();
  const items = await titled('Orders DB');
  expect(items).toHaveLength(2); // create-before-destroy: the new one created by the killed run, the old one not yet deleted
  const plan = await cli(['plan', 'm.yaml', '--format', 'json']);
  const change = (JSON.parse(plan.stdout) as { resource_changes: { address: string; action: string; reasons: string[] }[] }).resource_changes.find((c) => c.address === 'Private/db')!;
  expect(change.action).not.toBe('create');
  expect(change.reasons).toContain('recovering an interrupted create');
  // The recovery as a saved plan passes the saved-plan checks (the state still names the old, deleted item).
  expect((await cli(['plan', 'm.yaml', '-out', 'p.opsplan'])).code).toBe(0);
  const saved = await cli(['apply', 'p.opsplan', '--auto-approve']);
  expect(saved.code, saved.stdout + saved.stderr).toBe(0);
  await expectConverged();
  expect(state().resources['Private/db'].category).toBe('PASSWORD');
});

it('kill -9 while re-creating an item deleted by hand: one item, adopted, then no changes', async () => {
  expect((await cli(['apply', 'm.yaml', '--auto-approve'])).code).toBe(0);
  await client.deleteItem(vaultId, state().resources['Private/db'].itemId);
  await applyKilledDuringCreate();
  expect(await titled('Orders DB')).toHaveLength(1);
  await expectConverged();
});

it('an item deleted by hand whose title somebody reused is not duplicated nor taken over', async () => {
  expect((await cli(['apply', 'm.yaml', '--auto-approve'])).code).toBe(0);
  await client.deleteItem(vaultId, state().resources['Private/db'].itemId);
  const theirs = await client.createItem(vaultId, { title: 'Orders DB', category: 'LOGIN', fields: [] });
  const plan = await cli(['plan', 'm.yaml']);
  expect(plan.code).toBe(1);
  expect(plan.stderr + plan.stdout).toContain(`opsync import Private/db Private/${theirs.id}`);
  expect(await titled('Orders DB')).toHaveLength(1);
});

it('a refused create leaves no pending record, so a later same-titled item is not adopted', async () => {
  proxy.inject({ method: 'POST', status: 400, times: 1 });
  const r = await cli(['apply', 'm.yaml', '--auto-approve']);
  expect(r.code).toBe(1);
  expect(state().pending).toEqual({});
  const theirs = await client.createItem(vaultId, { title: 'Orders DB', category: 'LOGIN', fields: [{ id: 'n', label: 'notes', type: 'STRING', value: 'theirs' }] });
  const again = await cli(['apply', 'm.yaml', '--auto-approve']);
  expect(again.code).toBe(1);
  expect(again.stderr + again.stdout).toContain('opsync does not manage it');
  const after = await client.getItem(vaultId, theirs.id);
  expect(after.version).toBe(theirs.version);
});

it('a pending record adopts only an item made while its create was in flight', async () => {
  const theirs = await client.createItem(vaultId, { title: 'Orders DB', category: 'LOGIN', fields: [] });
  // A create recorded as started two minutes after their item was made (e.g. a crash, long after they made it).
  mkdirSync(join(dir, '.opsync'), { recursive: true });
  const s: StateFile = {
    version: 3,
    lineage: '00000000-0000-4000-8000-000000000001',
    serial: 1,
    connect: proxy.url,
    resources: {},
    pending: {
      'Private/db': { address: 'Private/db', vaultId, vaultName: 'Private', title: 'Orders DB', startedAt: new Date(Date.now() + 120_000).toISOString() },
    },
  };
  writeFileSync(join(dir, '.opsync/state.json'), JSON.stringify(s));
  const plan = await cli(['plan', 'm.yaml']);
  expect(plan.code, plan.stdout + plan.stderr).toBe(1);
  expect(plan.stderr + plan.stdout).toContain('is not the one it made');
  expect(plan.stderr + plan.stdout).toContain(`opsync import Private/db Private/${theirs.id}`);
});

it('refuses to plan the create of a CUSTOM or DOCUMENT item, which real Connect refuses', async () => {
  writeFileSync(join(dir, 'm.yaml'), 'vault: Private\nitems:\n  doc:\n    title: Contract\n    category: DOCUMENT\n    fields:\n      note: hello\n');
  const plan = await cli(['plan', 'm.yaml']);
  expect(plan.code).toBe(1);
  expect(plan.stdout + plan.stderr).toContain('real Connect refuses to create DOCUMENT items');
  expect(proxy.seen.filter((r) => r.method === 'POST')).toHaveLength(0);
});
