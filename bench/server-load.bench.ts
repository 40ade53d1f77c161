// The server under load (issue 12): requests per second at 16 connections, from autocannon, for GET of an item,
// the list of a vault's items and POST of an item, beside `/heartbeat` (no token, no store, no activity: the
// floor of node:http itself on this machine). Activity is recorded as by default (every /v1 item and vault
// request is an entry); at the end the bench reads the log's total back and prints it beside the requests sent.
// The server runs in a child process, alone on its event loop; autocannon runs in this one. Beside requests
// per second it prints the server process's CPU time per request (user + system, process.cpuUsage), which a
// loaded machine changes far less than the rate, and what one core would serve at that cost. Prints figures
// only (no assertion): `npm run bench -- server-load`.
//
// BENCH_SECONDS (default 3) per round, BENCH_ROUNDS (default 3) rounds per case (the best and the median are
// printed), BENCH_CONNECTIONS (default 16), BENCH_ITEMS (default 50: items seeded, and the vault's list size),
// BENCH_DISK=1 for a store on disk (WAL) instead of in memory, BENCH_CPU_PROF=DIR to write the server's CPU
// profile (node --cpu-prof) into DIR, BENCH_ONLY=TEXT to measure only the cases whose name holds TEXT (the
// floor is always measured).
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 16);
const ITEMS = Number(process.env.BENCH_ITEMS ?? 50);
const DISK = process.env.BENCH_DISK === '1';
const CPU_PROF = process.env.BENCH_CPU_PROF;
const ONLY = process.env.BENCH_ONLY;

type FromServer = { kind: 'ready'; url: string; token: string } | { kind: 'cpu'; micros: number } | { kind: 'stopped' };
type FromMain = { kind: 'cpu' } | { kind: 'stop' };

async function serve(): Promise<void> {
  const { startServer } = await import('../src/server/index.js');
  const dataDir = process.env.BENCH_DATA_DIR;
  const server = await startServer(dataDir ? { dataDir, host: '127.0.0.1', port: 0, quiet: true } : { memory: true, host: '127.0.0.1', port: 0, quiet: true });
  process.on('message', (m: FromMain) => {
    if (m.kind === 'cpu') {
      const u = process.cpuUsage();
      process.send!({ kind: 'cpu', micros: u.user + u.system } satisfies FromServer);
      return;
    }
    void server.close().then(() => {
      process.send!({ kind: 'stopped' } satisfies FromServer, () => process.exit(0));
    });
  });
  process.send!({ kind: 'ready', url: server.url, token: server.localToken() } satisfies FromServer);
}

function next(child: ChildProcess, kind: FromServer['kind']): Promise<FromServer> {
  return new Promise((resolveNext, reject) => {
    const on = (m: FromServer) => {
      if (m.kind !== kind) return;
      child.off('message', on);
      child.off('exit', onExit);
      resolveNext(m);
    };
    const onExit = (code: number | null) => reject(new Error(`the server process exited (${code}) before "${kind}"`));
    child.on('message', on);
    child.once('exit', onExit);
  });
}

interface Figures {
  rps: number;
  /** The server process's CPU time (user + system) per request answered, in microseconds. */
  cpuMicros: number;
  p50: number;
  p99: number;
  requests: number;
  bad: number;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main(): Promise<void> {
  const dataDir = DISK ? mkdtempSync(join(tmpdir(), 'opsync-server-load-')) : undefined;
  const execArgv = CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${resolve(CPU_PROF)}`] : [];
  const child = fork(fileURLToPath(import.meta.url), ['--serve'], {
    execArgv,
    env: { ...process.env, ...(dataDir ? { BENCH_DATA_DIR: dataDir } : {}) },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  try {
    const { url, token } = (await next(child, 'ready')) as Extract<FromServer, { kind: 'ready' }>;
    const auth = { Authorization: `Bearer ${token}` };
    const call = async (method: string, path: string, body?: unknown) => {
      const r = await fetch(`${url}${path}`, {
        method,
        headers: { ...auth, ...(body === undefined ? {} : { 'Content-Type': 'application/json' }) },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      return { status: r.status, headers: r.headers, body: (await r.json()) as any };
    };
    const vault = ((await call('GET', '/v1/vaults')).body as { id: string }[])[0].id;
    const itemsPath = `/v1/vaults/${vault}/items`;
    const itemBody = (i: number) => ({
      title: `load ${i}`,
      category: 'LOGIN',
      tags: ['bench'],
      fields: [
        { id: 'username', purpose: 'USERNAME', type: 'STRING', label: 'username', value: `user${i}` },
        { id: 'password', purpose: 'PASSWORD', type: 'CONCEALED', label: 'password', value: `secret-${i}-${'x'.repeat(24)}` },
        { id: 'url', type: 'URL', label: 'website', value: `https://example.com/${i}` },
      ],
    });
    const ids: string[] = [];
    for (let i = 0; i < ITEMS; i++) {
      const r = await call('POST', itemsPath, itemBody(i));
      if (r.status !== 200) throw new Error(`seeding: ${r.status} ${JSON.stringify(r.body)}`);
      ids.push(r.body.id);
    }
    const postBody = JSON.stringify(itemBody(ITEMS));
    const allCases: { name: string; opts: Omit<Parameters<typeof autocannon>[0], 'url'> }[] = [
      { name: 'GET /heartbeat (floor)', opts: { requests: [{ method: 'GET', path: '/heartbeat' }] } },
      { name: 'GET item', opts: { headers: auth, requests: ids.map((id) => ({ method: 'GET', path: `${itemsPath}/${id}` })) } },
      { name: `GET list of ${ITEMS} items`, opts: { headers: auth, requests: [{ method: 'GET', path: itemsPath }] } },
      { name: 'POST item', opts: { headers: { ...auth, 'Content-Type': 'application/json' }, requests: [{ method: 'POST', path: itemsPath, body: postBody }] } },
    ];
    const cases = allCases.filter((c, i) => i === 0 || ONLY === undefined || c.name.includes(ONLY));

    const cpu = async () => {
      child.send({ kind: 'cpu' } satisfies FromMain);
      return ((await next(child, 'cpu')) as Extract<FromServer, { kind: 'cpu' }>).micros;
    };
    const before = loadavg()[0];
    console.log(
      `server under load: autocannon, ${CONNECTIONS} connections, ${ROUNDS} rounds of ${SECONDS} s per case, ${DISK ? 'store on disk (WAL)' : 'store in memory'}, activity recorded` +
        ` (load average ${before.toFixed(1)} on ${availableParallelism()} CPUs)`,
    );
    // Warm up the server's code paths (JIT, prepared statements) before anything is measured.
    // Every API request answered is counted, to compare with the activity log's total at the end: the seeding
    // POSTs and the vault list, the warm-up and the rounds.
    let apiRequests = ITEMS + 1;
    for (const c of cases.filter((x) => !x.name.startsWith('POST'))) {
      const res = await autocannon({ url, connections: CONNECTIONS, duration: 1, ...c.opts });
      if (c !== cases[0]) apiRequests += res['2xx'] + res.non2xx;
    }
    const results: { name: string; best: Figures; median: number; rounds: number[]; cpu: number }[] = [];
    for (const c of cases) {
      const rounds: Figures[] = [];
      for (let r = 0; r < ROUNDS; r++) {
        const cpu0 = await cpu();
        const res = await autocannon({ url, connections: CONNECTIONS, duration: SECONDS, ...c.opts });
        const cpuMicros = (await cpu()) - cpu0;
        const requests = res['2xx'] + res.non2xx;
        rounds.push({ rps: requests / res.duration, cpuMicros: cpuMicros / requests, p50: res.latency.p50, p99: res.latency.p99, requests, bad: res.non2xx + res.errors + res.timeouts });
      }
      const best = rounds.reduce((a, b) => (b.rps > a.rps ? b : a));
      results.push({ name: c.name, best, median: median(rounds.map((f) => f.rps)), rounds: rounds.map((f) => f.rps), cpu: Math.min(...rounds.map((f) => f.cpuMicros)) });
      if (c.name !== cases[0].name) apiRequests += rounds.reduce((n, f) => n + f.requests, 0);
    }
    const floor = results[0].best.rps;
    // The server's CPU time per request is the figure that the machine's load changes least (req/s falls with
    // the CPU share the server and autocannon get): 1e6 / it is what one core would serve.
    console.log(
      `  ${'case'.padEnd(26)} ${'best req/s'.padStart(11)} ${'median'.padStart(9)} ${'x floor'.padStart(8)} ${'p50 ms'.padStart(7)} ${'p99 ms'.padStart(7)} ${'CPU µs/req'.padStart(11)} ${'x floor'.padStart(8)} ${'req/s/core'.padStart(11)}  rounds (req/s)`,
    );
    for (const r of results) {
      const bad = r.best.bad > 0 ? `   (${r.best.bad} errors or non-2xx)` : '';
      console.log(
        `  ${r.name.padEnd(26)} ${Math.round(r.best.rps).toLocaleString('en').padStart(11)} ${Math.round(r.median).toLocaleString('en').padStart(9)} ${(r.best.rps / floor).toFixed(3).padStart(8)} ${r.best.p50.toFixed(1).padStart(7)} ${r.best.p99.toFixed(1).padStart(7)} ${r.cpu.toFixed(0).padStart(11)} ${(r.cpu / results[0].cpu).toFixed(2).padStart(8)} ${Math.round(1e6 / r.cpu).toLocaleString('en').padStart(11)}  ${r.rounds.map((x) => Math.round(x)).join(' / ')}${bad}`,
      );
    }
    const rate = (name: string) => results.find((r) => r.name.startsWith(name))?.best.rps;
    const [get, list, post] = [rate('GET item'), rate('GET list'), rate('POST item')];
    if (get && list && post) console.log(`  GET item / POST item: ${(get / post).toFixed(2)}x; GET item / list: ${(get / list).toFixed(2)}x`);
    const range = (await call('GET', '/v1/activity?limit=1')).headers.get('content-range') ?? '';
    const logged = Number(range.split('/')[1]);
    // A request the server answered as autocannon stopped may be an entry that autocannon did not count.
    console.log(`  activity log read at once: ${logged.toLocaleString('en')} entries for ${apiRequests.toLocaleString('en')} API requests answered (at least as many entries expected)`);
    console.log(`  load average ${before.toFixed(1)} before, ${loadavg()[0].toFixed(1)} after`);
    const exited = new Promise((r) => child.once('exit', r));
    child.send({ kind: 'stop' } satisfies FromMain);
    await next(child, 'stopped');
    await exited; // the CPU profile is written as the process exits
  } finally {
    if (child.exitCode === null) child.kill();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  }
}

if (process.argv.includes('--serve')) await serve();
else await main();
