// What the fast refresh buys: a no-op plan of N items in V vaults, with the state's versions and digests
// (one list per vault) against a full refresh (a GET per item, forced by another digest key).
// Prints figures and the ratio; run with `npm run bench -- plan`.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { applyPlan } from '../src/apply/execute.js';
import { ConnectClient } from '../src/connect/client.js';
import { loadManifests } from '../src/manifest/load.js';
import { makePlan } from '../src/plan/build.js';
import { digestKey } from '../src/plan/digest.js';
import { startServer } from '../src/server/index.js';
import { StateStore } from '../src/state/store.js';

const VAULTS = Number(process.env.BENCH_VAULTS ?? 4);
const PER_VAULT = Number(process.env.BENCH_ITEMS ?? 250);
const ROUNDS = 3;

const dir = mkdtempSync(join(tmpdir(), 'opsync-bench-'));
const names = Array.from({ length: VAULTS }, (_, i) => `Bench${i}`);
writeFileSync(join(dir, 'seed.yaml'), `vaults:\n${names.map((n) => `  - name: ${n}\n`).join('')}`);
for (const v of names) {
  const items = Array.from({ length: PER_VAULT }, (_, i) => `  i${i}:\n    title: ${v} item ${i}\n    category: LOGIN\n    fields:\n      username: user${i}\n      password: { purpose: PASSWORD, generate: true }\n`).join('');
  writeFileSync(join(dir, `${v}.yaml`), `vault: ${v}\nitems:\n${items}`);
}
const server = await startServer({ memory: true, host: '127.0.0.1', port: 0, quiet: true, seedFiles: [join(dir, 'seed.yaml')] });
try {
  const token = server.localToken();
  const { manifest } = loadManifests(names.map((v) => join(dir, `${v}.yaml`)), { env: {} });
  const key = digestKey(token, {});
  const store = await StateStore.open(join(dir, 'state.json'), { lockTimeoutMs: 0, command: 'bench' });
  const client = new ConnectClient({ host: server.url, token });
  const ctx = { client, env: {}, key, connectHost: 'bench' };
  await applyPlan({ client, env: {}, key, store }, await makePlan(ctx, { manifest, state: store.state }), { parallelism: 8 });

  async function measure(label: string, k: Buffer): Promise<number> {
    let best = Infinity;
    let requests = 0;
    for (let r = 0; r < ROUNDS; r++) {
      client.resetStats();
      const t = process.hrtime.bigint();
      await makePlan({ ...ctx, key: k }, { manifest, state: store.state });
      best = Math.min(best, Number(process.hrtime.bigint() - t) / 1e6);
      requests = client.stats.total;
    }
    console.log(`  ${label.padEnd(14)} ${best.toFixed(1).padStart(8)} ms  ${String(requests).padStart(6)} requests`);
    return best;
  }
  console.log(`no-op plan of ${VAULTS * PER_VAULT} items in ${VAULTS} vaults (best of ${ROUNDS})`);
  const fast = await measure('fast refresh', key);
  const full = await measure('full refresh', digestKey('another key', {}));
  console.log(`  full / fast: ${(full / fast).toFixed(1)}x`);
  store.close();
  await client.close();
} finally {
  await server.close();
}
