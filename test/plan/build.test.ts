// Plans against a real server, in-process, to count the requests a refresh costs.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { applyPlan } from '../../src/apply/execute.js';
import { ConnectClient } from '../../src/connect/client.js';
import { loadManifests } from '../../src/manifest/load.js';
import { makePlan } from '../../src/plan/build.js';
import { digestKey } from '../../src/plan/digest.js';
import { StateStore } from '../../src/state/store.js';
import { startTestServer } from '../support/server.js';

const VAULTS = ['One', 'Two', 'Three'];
const PER_VAULT = 20;

let srv: Awaited<ReturnType<typeof startTestServer>>;
let dir: string;

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'opsync-build-'));
  writeFileSync(join(dir, 'seed.yaml'), `vaults:\n${VAULTS.map((v) => `  - name: ${v}\n`).join('')}`);
  for (const v of VAULTS) {
    const items = Array.from({ length: PER_VAULT }, (_, i) => `  item${i}:\n    title: ${v} item ${i}\n    category: LOGIN\n    fields:\n      username: user${i}\n      password: { purpose: PASSWORD, generate: true }\n`).join('');
    writeFileSync(join(dir, `${v}.yaml`), `vault: ${v}\nitems:\n${items}`);
  }
  srv = await startTestServer({ seedFiles: [join(dir, 'seed.yaml')] });
});

afterEach(async () => {
  await srv.close();
});

function load() {
  const { manifest, diagnostics } = loadManifests(VAULTS.map((v) => join(dir, `${v}.yaml`)), { env: {} });
  expect(diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
  return manifest;
}

describe('fast refresh', () => {
  it('plans a no-op of N items in V vaults with one vault list and V item lists (state without contentVersions)', async () => {
    const manifest = load();
    const key = digestKey(srv.token, {});
    const store = await StateStore.open(join(dir, 'state.json'), { lockTimeoutMs: 0, command: 'test' });
    const setup = new ConnectClient({ host: srv.url, token: srv.token });
    const ctx = { client: setup, env: {}, key, connectHost: 'test' };
    const first = await makePlan(ctx, { manifest, state: store.state });
    expect(first.summary.create).toBe(VAULTS.length * PER_VAULT);
    const result = await applyPlan({ client: setup, env: {}, key, store }, first, { parallelism: 8 });
    expect(result.failed).toEqual([]);
    await setup.close();

    // A state without recorded contentVersions (written before they existed) lists every vault.
    const client = new ConnectClient({ host: srv.url, token: srv.token });
    const { vaults: _recorded, ...older } = store.state;
    const plan = await makePlan({ ...ctx, client }, { manifest, state: older });
    expect(plan.summary).toMatchObject({ create: 0, update: 0, delete: 0, noop: VAULTS.length * PER_VAULT });
    expect(client.stats.total).toBe(1 + VAULTS.length);

    // One item changed by hand costs exactly one more GET.
    const vault = (await client.findVault('Two'))!;
    const [victim] = await client.listItems(vault.id);
    await client.patchItem(vault.id, victim.id, [{ op: 'replace', path: '/tags', value: ['by-hand'] }]);
    const counting = new ConnectClient({ host: srv.url, token: srv.token });
    const drifted = await makePlan({ ...ctx, client: counting }, { manifest, state: older });
    expect(drifted.summary.update).toBe(1);
    expect(drifted.summary.drifted).toBe(1);
    expect(counting.stats.total).toBe(1 + VAULTS.length + 1);
    store.close();
    await Promise.all([client.close(), counting.close()]);
  });
});
