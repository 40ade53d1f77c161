// makePlan's onProgress: (0, total) first, then once per resource refreshed and judged, deletes included.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { applyPlan } from '../../src/apply/execute.js';
import { ConnectClient } from '../../src/connect/client.js';
import { loadManifests } from '../../src/manifest/load.js';
import { makePlan } from '../../src/plan/build.js';
import { digestKey } from '../../src/plan/digest.js';
import { StateStore } from '../../src/state/store.js';
import { startTestServer } from '../support/server.js';

let srv: Awaited<ReturnType<typeof startTestServer>>;
let dir: string;

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'opsync-progress-'));
  writeFileSync(join(dir, 'seed.yaml'), 'vaults:\n  - name: One\n');
  srv = await startTestServer({ seedFiles: [join(dir, 'seed.yaml')] });
});

afterEach(async () => {
  await srv.close();
});

function manifestOf(n: number) {
  const items = Array.from({ length: n }, (_, i) => `  item${i}:\n    title: Item ${i}\n    category: LOGIN\n    fields:\n      username: user${i}\n`).join('');
  writeFileSync(join(dir, 'm.yaml'), `vault: One\nitems:\n${items}`);
  return loadManifests([join(dir, 'm.yaml')], { env: {} }).manifest;
}

it('reports refresh progress from 0 to the number of resources planned', async () => {
  const client = new ConnectClient({ host: srv.url, token: srv.token });
  const key = digestKey(srv.token, {});
  const store = await StateStore.open(join(dir, 'state.json'), { lockTimeoutMs: 0, command: 'test' });
  try {
    const calls: [number, number][] = [];
    const ctx = { client, env: {}, key, connectHost: 'test', onProgress: (done: number, total: number) => calls.push([done, total]) };
    const first = await makePlan(ctx, { manifest: manifestOf(5), state: store.state });
    expect(calls).toEqual([0, 1, 2, 3, 4, 5].map((d) => [d, 5]));
    expect((await applyPlan({ client, env: {}, key, store }, first, { parallelism: 4 })).failed).toEqual([]);

    calls.length = 0;
    const second = await makePlan(ctx, { manifest: manifestOf(3), state: store.state }); // 3 kept, 2 deleted
    expect(second.summary.delete).toBe(2);
    expect(calls).toEqual([0, 1, 2, 3, 4, 5].map((d) => [d, 5]));

    // Without a callback nothing changes (and nothing is counted).
    expect((await makePlan({ client, env: {}, key, connectHost: 'test' }, { manifest: manifestOf(3), state: store.state })).summary).toEqual(second.summary);
  } finally {
    store.close();
    await client.close();
  }
});
