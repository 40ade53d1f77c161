// Refresh at the floor (issue 12): a no-op plan of 10,000 items in 100 vaults through a proxy that adds 20 ms to
// every request (a real network), for
//   (a) no vault changed since the state recorded their contentVersions (the floor: the vault list alone),
//   (b) every vault's contentVersion moved but no managed item (an unmanaged item made and deleted in each),
//   (c) a full refresh (another digest key: every item is read),
// with requests, wall time and the ratios; then the peak RSS of a plan of 100,000 items in 1,000 vaults, made
// in a child process that reads its own maxRSS. The server is seeded through its store directly (the bodies
// apply would send, built as the server builds them) and the state written as an apply leaves it, so setting
// up 100,000 items takes seconds. Figures only, never asserted: `npm run bench -- plan-floor`.
// Sizes: BENCH_FLOOR_VAULTS, BENCH_FLOOR_ITEMS (per vault), BENCH_RSS_VAULTS, BENCH_RSS_ITEMS, BENCH_LATENCY_MS;
// BENCH_RSS_FULL=1 also measures the RSS of a full refresh of the 100,000 items (a GET each: slow).
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, request, Agent, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConnectClient } from '../src/connect/client.js';
import type { DesiredItem, Manifest } from '../src/manifest/types.js';
import { makePlan } from '../src/plan/build.js';
import { createBody } from '../src/plan/diff.js';
import { desiredDigest, digestKey } from '../src/plan/digest.js';
import { recordVaultVersions, type LiveView } from '../src/plan/refresh.js';
import { createResolver } from '../src/plan/resolve.js';
import { newId } from '../src/server/ids.js';
import { openStore, startServer } from '../src/server/index.js';
import { buildItem } from '../src/server/items.js';
import { finishItemBody, normalizeItemInput } from '../src/server/normalize.js';
import { readState } from '../src/state/file.js';
import { StateStore } from '../src/state/store.js';
import type { StateFile, StateResource } from '../src/state/types.js';

const num = (name: string, dflt: number) => Number(process.env[name] ?? dflt);
const SECRET_ENV = { BENCH_SECRET: 'not-a-real-secret' };
const POS = { file: 'bench.yaml', line: 1, col: 1 };

const vaultNames = (vaults: number) => Array.from({ length: vaults }, (_, i) => `Floor${String(i).padStart(4, '0')}`);

/** The manifest as loadManifests would give it for a plain login per item; built in code, not parsed. */
function manifestFor(vaults: number, perVault: number): Manifest {
  const items: DesiredItem[] = [];
  for (const vault of vaultNames(vaults)) {
    for (let i = 0; i < perVault; i++) {
      items.push({
        address: `${vault}/item${i}`,
        vault,
        key: `item${i}`,
        title: `${vault} item ${i}`,
        category: 'LOGIN',
        tags: [],
        urls: [],
        sections: [],
        fields: [
          { key: 'username', label: 'username', type: 'STRING', purpose: 'USERNAME', source: { kind: 'literal', value: `user${i}` }, sensitive: false, pos: POS },
          { key: 'password', label: 'password', type: 'CONCEALED', purpose: 'PASSWORD', source: { kind: 'env', name: 'BENCH_SECRET' }, sensitive: true, pos: POS },
        ],
        ignore: [],
        protect: false,
        adopt: false,
        pos: POS,
      });
    }
  }
  return { files: [], items, moved: [], removed: [] };
}

/** A local resolver: the bench's values are literals and one environment variable (no request is made). */
function localValues(): (d: DesiredItem) => Promise<Map<string, string>> {
  const nowhere = new ConnectClient({ host: 'http://127.0.0.1:9', token: 'unused' });
  const r = createResolver(nowhere, SECRET_ENV, async () => []);
  return (d) => r.values(d);
}

/**
 * A data directory whose store holds the manifest's items, each as the server builds what apply sends, and
 * the state an apply of them leaves (written once). Returns the server and what the bench needs of it.
 */
async function seeded(dir: string, vaults: number, perVault: number) {
  const manifest = manifestFor(vaults, perVault);
  const values = localValues();
  const started = Date.now();
  const { store } = openStore({ dataDir: join(dir, 'server') });
  const vaultIds = new Map<string, string>();
  const placed: { d: DesiredItem; itemId: string; version: number; vaultId: string; values: Map<string, string> }[] = [];
  const resolved = await Promise.all(manifest.items.map(values));
  store.transaction(() => {
    const now = new Date().toISOString();
    const actorId = newId();
    for (const name of vaultNames(vaults)) {
      const id = newId();
      vaultIds.set(name, id);
      store.insertVault({ id, name, type: 'USER_CREATED', now });
    }
    manifest.items.forEach((d, i) => {
      const vaultId = vaultIds.get(d.vault)!;
      const body = finishItemBody(normalizeItemInput(createBody(d, resolved[i]), 'seed') as ReturnType<typeof createBody>, 'seed');
      const item = buildItem(body, { vaultId, actorId, now });
      store.insertItem(item);
      placed.push({ d, itemId: item.id, version: item.version, vaultId, values: resolved[i] });
    });
  });
  store.close();
  const server = await startServer({ dataDir: join(dir, 'server'), host: '127.0.0.1', port: 0, quiet: true });
  const token = server.localToken();
  const key = digestKey(token, {});
  const resources: Record<string, StateResource> = {};
  const updatedAt = new Date().toISOString();
  for (const p of placed) {
    resources[p.d.address] = {
      address: p.d.address,
      vaultId: p.vaultId,
      vaultName: p.d.vault,
      itemId: p.itemId,
      title: p.d.title,
      category: p.d.category,
      version: p.version,
      digest: desiredDigest(p.d, p.values, key),
      updatedAt,
    };
  }
  const statePath = join(dir, 'state.json');
  const state = await StateStore.open(statePath, { lockTimeoutMs: 0, command: 'bench' });
  state.update((s) => {
    s.resources = resources;
  });
  // As the end of an apply does: each vault checked against live, and its contentVersion recorded.
  const direct = new ConnectClient({ host: server.url, token });
  await recordVaultVersions(direct, state, [...vaultIds.values()].map((id) => ({ vault: { id } })));
  const recorded = Object.keys(state.state.vaults ?? {}).length;
  state.close();
  const setupMs = Date.now() - started;
  return { server, token, key, manifest, statePath, vaultIds, direct, recorded, setupMs };
}

/** A proxy that holds every request this long before passing it on: a network's latency, counted. */
async function latencyProxy(target: string, delayMs: number): Promise<{ url: string; requests: () => number; reset: () => void; close: () => Promise<void> }> {
  const upstream = new URL(target);
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });
  let count = 0;
  const server: Server = createServer((req, res) => {
    count += 1;
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      setTimeout(() => {
        const up = request(
          { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: { ...req.headers, host: upstream.host }, agent },
          (ur) => {
            res.writeHead(ur.statusCode ?? 502, ur.headers);
            ur.pipe(res);
          },
        );
        up.on('error', () => res.destroy());
        up.end(Buffer.concat(chunks));
      }, delayMs);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests: () => count,
    reset: () => (count = 0),
    close: () =>
      new Promise<void>((r) => {
        agent.destroy();
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

interface Measured {
  ms: number;
  requests: number;
  listed: number;
  summary: string;
}

async function planOnce(url: string, token: string, key: Buffer, manifest: Manifest, state: StateFile, count: () => number, reset: () => void): Promise<Measured> {
  const client = new ConnectClient({ host: url, token, concurrency: 8 });
  reset();
  let live: LiveView | undefined;
  const t = process.hrtime.bigint();
  const plan = await makePlan({ client, env: SECRET_ENV, key, connectHost: 'bench', onLiveView: (l) => (live = l) }, { manifest, state });
  const ms = Number(process.hrtime.bigint() - t) / 1e6;
  await client.close();
  const s = plan.summary;
  return { ms, requests: count(), listed: live!.listed.size, summary: `${s.noop} noop, ${s.update} update, ${s.create} create, ${s.delete} delete` };
}

async function best(rounds: number, run: () => Promise<Measured>): Promise<Measured> {
  let out: Measured | undefined;
  for (let i = 0; i < rounds; i++) {
    const m = await run();
    if (!out || m.ms < out.ms) out = m;
  }
  return out!;
}

function child(args: string[], env: NodeJS.ProcessEnv): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    p.on('error', reject);
    p.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

const mb = (kib: number) => `${(kib / 1024).toFixed(0)} MiB`;

/** In the child: plan the state in one of three ways, and report the peak RSS of this process. */
async function rssChild(): Promise<void> {
  const [, , , url, statePath, vaults, perVault, mode] = process.argv;
  const token = process.env.BENCH_TOKEN!;
  const manifest = manifestFor(Number(vaults), Number(perVault));
  let state = readState(statePath);
  if (mode === 'listed') state = { ...state, vaults: undefined };
  const key = mode === 'full' ? digestKey('another key', {}) : digestKey(token, {});
  const client = new ConnectClient({ host: url, token, concurrency: 8 });
  const t = process.hrtime.bigint();
  const plan = await makePlan({ client, env: SECRET_ENV, key, connectHost: 'bench' }, { manifest, state });
  const ms = Number(process.hrtime.bigint() - t) / 1e6;
  const requests = client.stats.total;
  await client.close();
  process.stdout.write(JSON.stringify({ maxRSS: process.resourceUsage().maxRSS, ms, requests, noop: plan.summary.noop }) + '\n');
}

async function main(): Promise<void> {
  const latency = num('BENCH_LATENCY_MS', 20);
  const small = { vaults: num('BENCH_FLOOR_VAULTS', 100), perVault: num('BENCH_FLOOR_ITEMS', 100) };
  const big = { vaults: num('BENCH_RSS_VAULTS', 1000), perVault: num('BENCH_RSS_ITEMS', 100) };

  const dir = mkdtempSync(join(tmpdir(), 'opsync-bench-floor-'));
  try {
    const s = await seeded(join(dir, 'small'), small.vaults, small.perVault);
    const proxy = await latencyProxy(s.server.url, latency);
    try {
      const n = small.vaults * small.perVault;
      console.log(`no-op plan of ${n} items in ${small.vaults} vaults, ${latency} ms added to every request (setup ${(s.setupMs / 1000).toFixed(1)} s, ${s.recorded} vaults recorded)`);
      const state = () => readState(s.statePath);
      const run = (k: Buffer) => planOnce(proxy.url, s.token, k, s.manifest, state(), proxy.requests, proxy.reset);
      const a = await best(3, () => run(s.key));
      const c = await best(1, () => run(digestKey('another key', {})));
      // Every vault moves: an unmanaged item made and deleted in each (no managed item changes).
      for (const id of s.vaultIds.values()) {
        const scratch = await s.direct.createItem(id, { title: 'scratch', category: 'LOGIN' });
        await s.direct.deleteItem(id, scratch.id);
      }
      const b = await best(3, () => run(s.key));
      const row = (label: string, m: Measured) =>
        console.log(`  ${label.padEnd(34)} ${String(m.requests).padStart(6)} requests ${String(m.listed).padStart(4)} lists ${m.ms.toFixed(0).padStart(7)} ms  (c)/this ${(c.ms / m.ms).toFixed(1).padStart(6)}x  (${m.summary})`);
      row('(a) no vault changed', a);
      row('(b) every vault moved, no item', b);
      row('(c) full refresh (another key)', c);
      console.log(`  targets: (a) 1 request: ${a.requests === 1 ? 'met' : 'NOT met'}; (c)/(a) >= 50x: ${c.ms / a.ms >= 50 ? 'met' : 'NOT met'} (${(c.ms / a.ms).toFixed(0)}x)`);
    } finally {
      await proxy.close();
      await s.direct.close();
      await s.server.close();
    }

    const g = await seeded(join(dir, 'big'), big.vaults, big.perVault);
    try {
      const n = big.vaults * big.perVault;
      console.log(`\npeak RSS of a plan of ${n} items in ${big.vaults} vaults, in a child process (setup ${(g.setupMs / 1000).toFixed(1)} s)`);
      const modes: [string, string][] = [
        ['floor', 'no vault changed (vault list only)'],
        ['listed', 'every vault listed (no records)'],
      ];
      if (process.env.BENCH_RSS_FULL === '1') modes.push(['full', 'full refresh (a GET per item)']);
      for (const [mode, label] of modes) {
        // Not spawnSync: the server answering the child lives in this process.
        const r = await child([fileURLToPath(import.meta.url), '--rss-child', g.server.url, g.statePath, String(big.vaults), String(big.perVault), mode], { ...process.env, BENCH_TOKEN: g.token });
        if (r.status !== 0) {
          console.log(`  ${label}: child failed (${r.status}): ${r.stderr.slice(0, 500)}`);
          process.exitCode = 1;
          continue;
        }
        const out = JSON.parse(r.stdout.trim().split('\n').pop()!) as { maxRSS: number; ms: number; requests: number; noop: number };
        console.log(`  ${label.padEnd(38)} ${mb(out.maxRSS).padStart(9)} peak RSS ${String(out.requests).padStart(7)} requests ${out.ms.toFixed(0).padStart(7)} ms  (${out.noop} noop)   target < 1 GiB: ${out.maxRSS < 1024 * 1024 ? 'met' : 'NOT met'}`);
      }
    } finally {
      await g.direct.close();
      await g.server.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[2] === '--rss-child') await rssChild();
else await main();
