// Apply at the server's speed (issue 12): apply of N creates in 100 vaults against an in-process
// `opsync server --memory`, next to the raw create throughput of the same server in the same run at the same
// concurrency (a plain undici loop of POSTs), with their ratio; then the same against a `realistic: true`
// server (200 ms vault write hold, 409 on overlap), where the apply backs off on conflicts.
// Figures only, never asserted. Run: `npx tsc -p tsconfig.bench.json && node bench/run.mjs apply`.
// BENCH_SCALE (default 1) shrinks or grows every size; BENCH_REALISTIC_ITEMS sets the realistic size (default 500).
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Pool } from 'undici';
import { applyPlan } from '../src/apply/execute.js';
import { ConnectClient } from '../src/connect/client.js';
import { loadManifests } from '../src/manifest/load.js';
import { makePlan } from '../src/plan/build.js';
import { digestKey } from '../src/plan/digest.js';
import { startServer, type ServerOptions } from '../src/server/index.js';
import { StateStore } from '../src/state/store.js';

const SCALE = Number(process.env.BENCH_SCALE ?? 1);
const VAULTS = 100;
const PARALLELISM = Number(process.env.BENCH_PARALLELISM ?? 8);
const SIZES = [1000, 10000].map((n) => Math.max(VAULTS, Math.round(n * SCALE)));
const REALISTIC_ITEMS = Math.max(VAULTS, Math.round(Number(process.env.BENCH_REALISTIC_ITEMS ?? 500) * SCALE));

const secs = (t: bigint) => Number(process.hrtime.bigint() - t) / 1e9;

interface Run {
  applyS: number;
  planS: number;
  rawS: number;
  raw409: number;
  failed: number;
  fsyncs: number;
  stateWrites: number;
}

async function measure(n: number, serverOpts: Partial<ServerOptions>): Promise<Run> {
  const dir = mkdtempSync(join(tmpdir(), 'opsync-bench-apply-'));
  const names = Array.from({ length: VAULTS }, (_, i) => `Bench${i}`);
  const raws = Array.from({ length: VAULTS }, (_, i) => `Raw${i}`);
  writeFileSync(join(dir, 'seed.yaml'), `vaults:\n${[...names, ...raws].map((v) => `  - name: ${v}\n`).join('')}`);
  const per = Math.ceil(n / VAULTS);
  const files: string[] = [];
  for (const [vi, v] of names.entries()) {
    const count = Math.min(per, n - vi * per);
    if (count <= 0) break;
    const items = Array.from({ length: count }, (_, i) => `  i${i}:\n    title: ${v} item ${i}\n    category: LOGIN\n    fields:\n      username: user${i}\n      password: { purpose: PASSWORD, generate: true }\n`).join('');
    writeFileSync(join(dir, `${v}.yaml`), `vault: ${v}\nitems:\n${items}`);
    files.push(join(dir, `${v}.yaml`));
  }
  const start = () => startServer({ memory: true, host: '127.0.0.1', port: 0, quiet: true, seedFiles: [join(dir, 'seed.yaml')], ...serverOpts });

  // The server's own create throughput: PARALLELISM connections, each POSTing the next item, a body like
  // opsync's (a username and a generated password), to vaults in turn (so writes to one vault rarely overlap).
  // A fresh server of the same options as the apply's, so both start from the same (empty) store: the
  // server's per-create cost grows with the items it holds.
  const rawServer = await start();
  let rawS: number;
  let raw409 = 0;
  try {
    const token = rawServer.localToken();
    const setup = new ConnectClient({ host: rawServer.url, token });
    const vaults = await setup.listVaults();
    await setup.close();
    const rawIds = raws.map((r) => vaults.find((v) => v.name === r)!.id);
    const pool = new Pool(rawServer.url, { connections: PARALLELISM });
    let next = 0;
    const t0 = process.hrtime.bigint();
    await Promise.all(
      Array.from({ length: PARALLELISM }, async () => {
        while (next < n) {
          const i = next++;
          const vaultId = rawIds[i % VAULTS];
          const body = JSON.stringify({
            title: `raw item ${i}`,
            category: 'LOGIN',
            vault: { id: vaultId },
            fields: [
              { id: 'username', type: 'STRING', purpose: 'USERNAME', label: 'username', value: `user${i}` },
              { id: 'password', type: 'CONCEALED', purpose: 'PASSWORD', label: 'password', generate: true },
            ],
          });
          for (;;) {
            const res = await pool.request({ path: `/v1/vaults/${vaultId}/items`, method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body });
            await res.body.text();
            if (res.statusCode === 409) {
              raw409++;
              continue; // a plain loop: try again at once
            }
            if (res.statusCode !== 200) throw new Error(`raw POST: ${res.statusCode}`);
            break;
          }
        }
      }),
    );
    rawS = secs(t0);
    await pool.close();
  } finally {
    await rawServer.close();
  }

  const server = await start();
  try {
    const token = server.localToken();
    const client = new ConnectClient({ host: server.url, token, concurrency: PARALLELISM });
    const { manifest } = loadManifests(files, { env: {} });
    const key = digestKey(token, {});
    const store = await StateStore.open(join(dir, 'state.json'), { lockTimeoutMs: 0, command: 'bench' });
    const t1 = process.hrtime.bigint();
    const plan = await makePlan({ client, env: {}, key, connectHost: 'bench' }, { manifest, state: store.state });
    const planS = secs(t1);
    const t2 = process.hrtime.bigint();
    const result = await applyPlan({ client, env: {}, key, store }, plan, { parallelism: PARALLELISM });
    store.close(); // the final compaction is part of the apply
    const applyS = secs(t2);
    const { fsyncs, stateWrites } = store.stats;
    await client.close();
    return { applyS, planS, rawS, raw409, failed: result.failed.length, fsyncs, stateWrites };
  } finally {
    await server.close();
  }
}

function show(label: string, n: number, r: Run): void {
  console.log(
    `  ${label.padEnd(10)} ${String(n).padStart(6)} creates  raw ${r.rawS.toFixed(2).padStart(7)} s (${(n / r.rawS).toFixed(0).padStart(5)}/s${r.raw409 ? `, ${r.raw409} x 409 retried` : ''})` +
      `  apply ${r.applyS.toFixed(2).padStart(7)} s (${(n / r.applyS).toFixed(0).padStart(5)}/s)  apply/raw ${(r.applyS / r.rawS).toFixed(2)}x` +
      `  [plan ${r.planS.toFixed(2)} s, ${r.fsyncs} journal fsyncs, ${r.stateWrites} state writes${r.failed ? `, ${r.failed} FAILED` : ''}]`,
  );
}

console.log(`apply of N creates in ${VAULTS} vaults vs the same server's raw POST loop, concurrency ${PARALLELISM}`);
const runs: Run[] = [];
for (const n of SIZES) {
  const r = await measure(n, {});
  runs.push(r);
  show('memory', n, r);
}
console.log(`  ${SIZES[1]} / ${SIZES[0]} apply cost: ${(runs[1].applyS / runs[0].applyS).toFixed(1)}x (sizes ${(SIZES[1] / SIZES[0]).toFixed(0)}x)`);
if (process.env.BENCH_SKIP_REALISTIC !== '1') {
  const r = await measure(REALISTIC_ITEMS, { realistic: true });
  show('realistic', REALISTIC_ITEMS, r);
}
