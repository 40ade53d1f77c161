// Refresh at the floor (issue 12): after an apply or a refresh the state records each vault's contentVersion,
// and a plan where no vault moved costs one request (the vault list); a vault that moved costs one item list;
// a title lookup (a new resource) always lists its vault. Real server over HTTP, real engine, counted requests.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { applyPlan } from '../../src/apply/execute.js';
import { ConnectClient } from '../../src/connect/client.js';
import { loadManifests } from '../../src/manifest/load.js';
import { makePlan } from '../../src/plan/build.js';
import { digestKey } from '../../src/plan/digest.js';
import type { LiveView } from '../../src/plan/refresh.js';
import type { Plan } from '../../src/plan/types.js';
import { StateStore } from '../../src/state/store.js';
import type { StateFile } from '../../src/state/types.js';
import { startTestServer } from '../support/server.js';
import { runCli } from './cli.js';

const VAULTS = ['One', 'Two', 'Three'];
const PER_VAULT = 10;

let srv: Awaited<ReturnType<typeof startTestServer>>;
let dir: string;
let store: StateStore;
let key: Buffer;
const clients: ConnectClient[] = [];

function client(): ConnectClient {
  const c = new ConnectClient({ host: srv.url, token: srv.token });
  clients.push(c);
  return c;
}

function manifestText(vault: string, extra = '', skip = -1): string {
  const items = Array.from({ length: PER_VAULT }, (_, i) => i)
    .filter((i) => i !== skip)
    .map((i) => `  item${i}:\n    title: ${vault} item ${i}\n    category: LOGIN\n    fields:\n      username: user${i}\n      password: { purpose: PASSWORD, generate: true }\n`)
    .join('');
  return `vault: ${vault}\nitems:\n${items}${extra}`;
}

function load() {
  const { manifest, diagnostics } = loadManifests(VAULTS.map((v) => join(dir, `${v}.yaml`)), { env: {} });
  expect(diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
  return manifest;
}

/** A plan counted from a fresh client: its requests by operation, and the vaults it listed. */
async function countedPlan(state: StateFile = store.state, k: Buffer = key, rotate: string[] = []) {
  const c = client();
  let live: LiveView | undefined;
  const plan = await makePlan({ client: c, env: {}, key: k, connectHost: 'test', onLiveView: (l) => (live = l) }, { manifest: load(), state, rotate });
  return { plan, total: c.stats.total, ops: { ...c.stats.byOperation }, listed: [...live!.listed] };
}

async function apply(plan: Plan) {
  const result = await applyPlan({ client: client(), env: {}, key, store }, plan, { parallelism: 8 });
  expect(result.failed).toEqual([]);
  return result;
}

async function vaultId(name: string): Promise<string> {
  return (await client().findVault(name))!.id;
}

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'opsync-floor-'));
  writeFileSync(join(dir, 'seed.yaml'), `vaults:\n${VAULTS.map((v) => `  - name: ${v}\n`).join('')}`);
  for (const v of VAULTS) writeFileSync(join(dir, `${v}.yaml`), manifestText(v));
  srv = await startTestServer({ seedFiles: [join(dir, 'seed.yaml')] });
  key = digestKey(srv.token, {});
  store = await StateStore.open(join(dir, 'state.json'), { lockTimeoutMs: 0, command: 'test' });
  const { plan } = await countedPlan();
  expect(plan.summary.create).toBe(VAULTS.length * PER_VAULT);
  await apply(plan);
});

afterEach(async () => {
  store.close();
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await srv.close();
});

describe('refresh at the floor', () => {
  it('records every vault after an apply, and a no-op plan of unmoved vaults costs one request', async () => {
    const live = await client().listVaults();
    for (const v of VAULTS) {
      const lv = live.find((x) => x.name === v)!;
      expect(store.state.vaults?.[lv.id]).toEqual({ name: v, contentVersion: lv.contentVersion });
    }
    const { plan, total, ops, listed } = await countedPlan();
    expect(plan.summary).toMatchObject({ create: 0, update: 0, delete: 0, noop: VAULTS.length * PER_VAULT, drifted: 0 });
    expect(total).toBe(1);
    expect(ops).toEqual({ 'GET /v1/vaults': 1 });
    expect(listed).toEqual([]);
    // Every noop is planned on the state's version, as apply checks it.
    for (const c of plan.changes) expect(c.plannedVersion).toBe(store.state.resources[c.address].version);

    // A rotation reads its item (one GET) and lists nothing.
    const rotated = await countedPlan(store.state, key, ['Two/item4']);
    expect(rotated.plan.changes.find((ch) => ch.address === 'Two/item4')).toMatchObject({ action: 'update', rotate: ['password'] });
    expect(rotated.ops).toEqual({ 'GET /v1/vaults': 1, 'GET /v1/vaults/{vault}/items/{item}': 1 });
  });

  it('finds drift after a hand edit: the edit bumps the vault, which is listed once, and the item read once', async () => {
    const two = await vaultId('Two');
    const c = client();
    const [victim] = await c.listItems(two);
    await c.patchItem(two, victim.id, [{ op: 'replace', path: '/tags', value: ['by-hand'] }]);

    const { plan, total, ops, listed } = await countedPlan();
    expect(plan.summary).toMatchObject({ update: 1, drifted: 1 });
    expect(listed).toEqual([two]);
    expect(ops).toEqual({ 'GET /v1/vaults': 1, 'GET /v1/vaults/{vault}/items': 1, 'GET /v1/vaults/{vault}/items/{item}': 1 });
    expect(total).toBe(3);

    // A refresh that leaves the drift in place must not record the vault as matching: the drift stays visible.
    const noops = { ...plan, changes: plan.changes.filter((ch) => ch.action === 'noop') };
    await apply(noops);
    const liveTwo = (await client().listVaults()).find((v) => v.id === two)!;
    expect(store.state.vaults?.[two]?.contentVersion).not.toBe(liveTwo.contentVersion);
    const again = await countedPlan();
    expect(again.plan.summary).toMatchObject({ update: 1, drifted: 1 });
    expect(again.listed).toEqual([two]);

    // Applying the plan reverts the drift and records the vault again: back to one request.
    await apply((await countedPlan()).plan);
    const after = await countedPlan();
    expect(after.plan.summary).toMatchObject({ update: 0, drifted: 0 });
    expect(after.total).toBe(1);
  });

  it('lists each moved vault once when only unmanaged items changed, and a refresh records them again', async () => {
    const c = client();
    for (const v of VAULTS) {
      const id = await vaultId(v);
      const scratch = await c.createItem(id, { title: `scratch ${v}`, category: 'LOGIN' });
      await c.deleteItem(id, scratch.id);
    }
    const moved = await countedPlan();
    expect(moved.plan.summary).toMatchObject({ update: 0, noop: VAULTS.length * PER_VAULT, drifted: 0 });
    expect(moved.total).toBe(1 + VAULTS.length);
    expect(moved.ops['GET /v1/vaults/{vault}/items']).toBe(VAULTS.length);

    // `opsync refresh` (the CLI, on this state file) records the vaults it checked.
    store.close();
    const r = await runCli(['refresh', ...VAULTS.map((v) => `${v}.yaml`), '--state', 'state.json'], {
      cwd: dir,
      env: { OP_CONNECT_HOST: srv.url, OP_CONNECT_TOKEN: srv.token },
    });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const written = JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8')) as StateFile;
    const live = await client().listVaults();
    for (const v of VAULTS) {
      const lv = live.find((x) => x.name === v)!;
      expect(written.vaults?.[lv.id]?.contentVersion).toBe(lv.contentVersion);
    }
    store = await StateStore.open(join(dir, 'state.json'), { lockTimeoutMs: 0, command: 'test' });
    expect((await countedPlan()).total).toBe(1);
  });

  it('a new resource in an unmoved vault still gets its title check: that vault alone is listed', async () => {
    const one = await vaultId('One');
    // Somebody else made an item titled like the new resource, in a vault the state recorded before.
    await client().createItem(one, { title: 'Shared', category: 'LOGIN' });
    await apply((await countedPlan()).plan); // records One again (it moved), with the unmanaged item in it
    expect(store.state.vaults?.[one]?.contentVersion).toBe((await client().listVaults()).find((v) => v.id === one)!.contentVersion);

    writeFileSync(join(dir, 'One.yaml'), manifestText('One', `  shared:\n    title: Shared\n    category: LOGIN\n    fields:\n      username: s\n  fresh:\n    title: Fresh\n    category: LOGIN\n    fields:\n      username: f\n`));
    const { plan, total, listed } = await countedPlan();
    expect(listed).toEqual([one]);
    expect(total).toBe(2);
    expect(plan.diagnostics.map((d) => d.message)).toEqual([expect.stringMatching(/an item titled "Shared" already exists in vault One .* opsync does not manage it/)]);
    expect(plan.changes.find((ch) => ch.address === 'One/fresh')?.action).toBe('create');
  });

  it('plans deletes and manifest changes in unmoved vaults without listing them', async () => {
    writeFileSync(join(dir, 'Two.yaml'), manifestText('Two', '', 3));
    writeFileSync(join(dir, 'Three.yaml'), manifestText('Three').replace('username: user5\n', 'username: changed5\n'));
    const { plan, total, ops, listed } = await countedPlan();
    expect(listed).toEqual([]);
    const del = plan.changes.find((ch) => ch.address === 'Two/item3')!;
    expect(del).toMatchObject({ action: 'delete', plannedVersion: store.state.resources['Two/item3'].version, title: 'Two item 3' });
    expect(del.drift).toBeUndefined();
    expect(plan.changes.find((ch) => ch.address === 'Three/item5')).toMatchObject({ action: 'update', reasons: ['manifest changed'] });
    expect(ops).toEqual({ 'GET /v1/vaults': 1, 'GET /v1/vaults/{vault}/items/{item}': 1 });
    expect(total).toBe(2);
    await apply(plan);
    const after = await countedPlan();
    expect(after.plan.summary).toMatchObject({ create: 0, update: 0, delete: 0, drifted: 0 });
    expect(after.total).toBe(1);

    // Another digest key: every item is read (the full refresh), still without listing an unmoved vault.
    const full = await countedPlan(store.state, digestKey('another key', {}));
    expect(full.plan.changes.filter((ch) => ch.action === 'delete' || ch.action === 'create')).toEqual([]);
    expect(full.listed).toEqual([]);
    expect(full.total).toBe(1 + VAULTS.length * PER_VAULT - 1);
  });

  it('an item deleted by hand is found: the delete moves its vault', async () => {
    const three = await vaultId('Three');
    await client().deleteItem(three, store.state.resources['Three/item0'].itemId);
    const { plan, listed } = await countedPlan();
    expect(listed).toEqual([three]);
    expect(plan.changes.find((ch) => ch.address === 'Three/item0')).toMatchObject({ action: 'create', drift: { liveMissing: true } });
  });
});
