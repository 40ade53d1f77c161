// Apply at the server's speed (issue 12): apply of N creates in 100 vaults against `opsync server --memory`
// in a process of its own (as Connect is: the apply never shares the server's event loop), next to the raw create throughput of the same server in the same run at the same
// concurrency (a plain undici loop of POSTs), with their ratio; then the same against a `realistic: true`
// server (200 ms vault write hold, 409 on overlap), where the apply backs off on conflicts.
// Figures only, never asserted. Run: `npx tsc -p tsconfig.bench.json && node bench/run.mjs apply`.
// BENCH_SCALE (default 1) shrinks or grows every size; BENCH_SIZES the apply sizes (default 1000,10000);
// BENCH_ROUNDS (default 3) rounds of each size, with the median ratio (the machine's noise moves a single round);
// BENCH_PROFILE=DIR writes a CPU profile of the client during each apply; BENCH_PHASES=1 prints where its time went; BENCH_REALISTIC_ITEMS sets the realistic size (default 500).
import { mkdtempSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Pool } from 'undici';
import { applyPlan } from '../src/apply/execute.js';
import { ConnectClient } from '../src/connect/client.js';
import { loadManifests } from '../src/manifest/load.js';
import { makePlan } from '../src/plan/build.js';
import { digestKey } from '../src/plan/digest.js';
import type { ServerOptions } from '../src/server/index.js';
import { StateStore } from '../src/state/store.js';
import { startServerProcess } from './server-process.js';

const SCALE = Number(process.env.BENCH_SCALE ?? 1);
const VAULTS = 100;
const PARALLELISM = Number(process.env.BENCH_PARALLELISM ?? 8);
const SIZES = (process.env.BENCH_SIZES ?? '1000,10000').split(',').map(Number).map((n) => Math.max(VAULTS, Math.round(n * SCALE)));
const ROUNDS = Math.max(1, Number(process.env.BENCH_ROUNDS ?? 3));
const REALISTIC_ITEMS = Math.max(VAULTS, Math.round(Number(process.env.BENCH_REALISTIC_ITEMS ?? 500) * SCALE));

const secs = (t: bigint) => Number(process.hrtime.bigint() - t) / 1e9;
/** CPU seconds this process used since `from` (every thread: the main one, GC, libuv's pool). */
const cpuSince = (from: NodeJS.CpuUsage) => {
  const u = process.cpuUsage(from);
  return (u.user + u.system) / 1e6;
};

interface Run {
  applyS: number;
  /** CPU time the apply (the client: this process) used. */
  applyCpuS: number;
  /** CPU time the server used during the apply, and during the raw loop. */
  serverCpuS: number;
  rawServerCpuS: number;
  /** CPU time the raw loop (this process) used. */
  rawClientCpuS: number;
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
  const start = () => startServerProcess({ seedFiles: [join(dir, 'seed.yaml')], ...serverOpts });

  // The server's own create throughput: PARALLELISM connections, each POSTing the next item, a body like
  // opsync's (a username and a generated password), to vaults in turn (so writes to one vault rarely overlap).
  // A fresh server of the same options as the apply's, so both start from the same (empty) store: the
  // server's per-create cost grows with the items it holds.
  const rawServer = await start();
  let rawS: number;
  let raw409 = 0;
  let rawServerCpuS = 0;
  let rawClientCpuS = 0;
  try {
    const token = rawServer.token;
    const setup = new ConnectClient({ host: rawServer.url, token });
    const vaults = await setup.listVaults();
    await setup.close();
    const rawIds = raws.map((r) => vaults.find((v) => v.name === r)!.id);
    const pool = new Pool(rawServer.url, { connections: PARALLELISM });
    let next = 0;
    const rawCpu0 = await rawServer.cpu();
    const rawClient0 = process.cpuUsage();
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
    rawClientCpuS = cpuSince(rawClient0);
    rawServerCpuS = (await rawServer.cpu()) - rawCpu0;
    await pool.close();
  } finally {
    await rawServer.close();
  }

  const server = await start();
  try {
    const token = server.token;
    const client = new ConnectClient({ host: server.url, token, concurrency: PARALLELISM });
    const { manifest } = loadManifests(files, { env: {} });
    const key = digestKey(token, {});
    const store = await StateStore.open(join(dir, 'state.json'), { lockTimeoutMs: 0, command: 'bench' });
    const t1 = process.hrtime.bigint();
    const plan = await makePlan({ client, env: {}, key, connectHost: 'bench' }, { manifest, state: store.state });
    const planS = secs(t1);
    const serverCpu0 = await server.cpu();
    const t2 = process.hrtime.bigint();
    const cpu0 = process.cpuUsage();
    const stopProfile = await profile(`apply-${n}`);
    let lastDone = 0n;
    const result = await applyPlan({ client, env: {}, key, store }, plan, { parallelism: PARALLELISM, onEvent: (e) => { if (e.type === 'done') lastDone = process.hrtime.bigint(); } });
    const tEnd = process.hrtime.bigint();
    store.close(); // the final compaction is part of the apply
    if (process.env.BENCH_PHASES) console.log(`    phases: operations ${(Number(lastDone - t2) / 1e9).toFixed(2)} s, then ${(Number(tEnd - lastDone) / 1e9).toFixed(2)} s to the end of applyPlan, close ${secs(tEnd).toFixed(2)} s`);
    await stopProfile();
    const applyS = secs(t2);
    const applyCpuS = cpuSince(cpu0);
    const serverCpuS = (await server.cpu()) - serverCpu0;
    const { fsyncs, stateWrites } = store.stats;
    if (process.env.BENCH_PHASES) console.log(`    requests: ${JSON.stringify(client.stats.byOperation)}`);
    await client.close();
    return { applyS, applyCpuS, serverCpuS, rawServerCpuS, rawClientCpuS, planS, rawS, raw409, failed: result.failed.length, fsyncs, stateWrites };
  } finally {
    await server.close();
  }
}

/** With BENCH_PROFILE=DIR, a CPU profile of the client (this process) during each apply, written to DIR. */
async function profile(name: string): Promise<() => Promise<void>> {
  const dir = process.env.BENCH_PROFILE;
  if (!dir) return async () => {};
  const session = new Session();
  session.connect();
  const post = (method: string) => new Promise<unknown>((res, rej) => session.post(method, (err, r) => (err ? rej(err) : res(r))));
  await post('Profiler.enable');
  await post('Profiler.start');
  return async () => {
    const { profile: p } = (await post('Profiler.stop')) as { profile: unknown };
    writeFileSync(join(dir, `${name}.cpuprofile`), JSON.stringify(p));
    session.disconnect();
  };
}

function show(label: string, n: number, r: Run): void {
  console.log(
    `  ${label.padEnd(11)} ${String(n).padStart(6)} creates  raw ${r.rawS.toFixed(2).padStart(7)} s (${(n / r.rawS).toFixed(0).padStart(5)}/s${r.raw409 ? `, ${r.raw409} x 409 retried` : ''})` +
      `  apply ${r.applyS.toFixed(2).padStart(7)} s (${(n / r.applyS).toFixed(0).padStart(5)}/s)  apply/raw ${(r.applyS / r.rawS).toFixed(2)}x` +
      `  [CPU client/server: apply ${r.applyCpuS.toFixed(2)}/${r.serverCpuS.toFixed(2)} s, raw ${r.rawClientCpuS.toFixed(2)}/${r.rawServerCpuS.toFixed(2)} s; plan ${r.planS.toFixed(2)} s, ${r.fsyncs} journal fsyncs, ${r.stateWrites} state writes${r.failed ? `, ${r.failed} FAILED` : ''}]`,
  );
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

console.log(
  `apply of N creates in ${VAULTS} vaults vs the same server's raw POST loop, concurrency ${PARALLELISM}, ${ROUNDS} round(s) of each (raw loop then apply, on fresh servers), median ratio`,
);
const medians: number[] = [];
for (const n of SIZES) {
  const ratios: number[] = [];
  const applies: number[] = [];
  for (let round = 1; round <= ROUNDS; round++) {
    const r = await measure(n, {});
    ratios.push(r.applyS / r.rawS);
    applies.push(r.applyS);
    show(ROUNDS > 1 ? `memory #${round}` : 'memory', n, r);
  }
  medians.push(median(applies));
  if (ROUNDS > 1) console.log(`  ${String(n).padStart(6)} creates: apply/raw median ${median(ratios).toFixed(2)}x (rounds ${ratios.map((x) => x.toFixed(2)).join(', ')})`);
}
if (SIZES.length > 1) console.log(`  ${SIZES[1]} / ${SIZES[0]} apply cost: ${(medians[1] / medians[0]).toFixed(1)}x (sizes ${(SIZES[1] / SIZES[0]).toFixed(0)}x; medians)`);
if (process.env.BENCH_SKIP_REALISTIC !== '1') {
  const r = await measure(REALISTIC_ITEMS, { realistic: true });
  show('realistic', REALISTIC_ITEMS, r);
}
