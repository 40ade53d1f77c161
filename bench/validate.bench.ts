// What validate costs as manifests grow: loadManifests in this process, and `opsync validate` as its own
// process (start-up included), for 1,000 and 10,000 items, written as several files and as one big file.
// Prints figures and the 10,000 / 1,000 ratio (target: at most 12x, and 10,000 items under 2 s).
// Wall time, and CPU time beside it: on a machine shared with other work the CPU time is the steadier figure.
// Run with `npm run bench -- validate`. Not a test: nothing here is asserted.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { loadManifests } from '../src/manifest/load.js';

const SIZES = (process.env.BENCH_SIZES ?? '1000,10000').split(',').map(Number);
const FILES = 10;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);

const root = mkdtempSync(join(tmpdir(), 'opsync-bench-validate-'));
writeFileSync(join(root, 'ca.pem'), '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');
const env = { ...process.env, DB_PASSWORD: 'x', API_TOKEN: 'y', NO_COLOR: '1' };

/** One item, a few fields each, in rotation: env, file, generate, ref and literal sources, sections, urls. */
function item(vault: string, i: number): string {
  switch (i % 4) {
    case 0:
      return `  db-${i}:
    title: Database ${i}
    category: DATABASE
    tags: [team-${i % 7}, prod]
    sections: { conn: Connection, admin: Administration }
    fields:
      host: { section: conn, value: db-${i}.internal }
      port: { section: conn, value: 5432 }
      username: { section: admin, value: app${i} }
      password: { section: admin, purpose: PASSWORD, value: { env: DB_PASSWORD } }
`;
    case 1:
      return `  api-${i}:
    title: API ${i}
    category: API_CREDENTIAL
    urls: [https://api-${i}.example.com]
    fields:
      token: { type: CONCEALED, value: { env: API_TOKEN } }
      ca: { type: CONCEALED, value: { file: ../ca.pem } }
      endpoint: https://api-${i}.example.com/v1
`;
    case 2:
      return `  login-${i}:
    title: Login ${i}
    fields:
      username: user${i}
      password: { purpose: PASSWORD, generate: { length: 32, characterSets: [LETTERS, DIGITS] } }
      notes: { purpose: NOTES, value: "rotated by the platform team" }
`;
    default:
      return `  copy-${i}:
    title: Copy ${i}
    category: SECURE_NOTE
    fields:
      secret: { type: CONCEALED, value: { ref: "op://${vault}/Database ${i - 3}/admin/password" } }
      note: plain text ${i}
`;
  }
}

function writeSet(n: number): { split: string; big: string } {
  const split = join(root, `split-${n}`);
  const big = join(root, `big-${n}`);
  mkdirSync(split);
  mkdirSync(big);
  const per = Math.ceil(n / FILES);
  for (let f = 0; f < FILES; f++) {
    const vault = `Vault${f}`;
    let items = '';
    for (let i = f * per; i < Math.min(n, (f + 1) * per); i++) items += item(vault, i - f * per);
    writeFileSync(join(split, `${vault}.yaml`), `vault: ${vault}\nitems:\n${items}`);
  }
  // The big file: one vault, every item in one document (the worst case for per-key lookups).
  let one = '';
  for (let i = 0; i < n; i++) one += item('Big', i);
  writeFileSync(join(big, 'all.yaml'), `vault: Big\nitems:\n${one}`);
  return { split, big };
}

interface Time {
  wall: number;
  cpu: number;
}
const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

/** The best of ROUNDS runs; `fn` returns the CPU time it measured itself, if it ran elsewhere. */
function best(fn: () => number | void): Time {
  const out: Time = { wall: Infinity, cpu: Infinity };
  for (let r = 0; r < ROUNDS; r++) {
    const c = cpuMs();
    const t = process.hrtime.bigint();
    const child = fn();
    out.wall = Math.min(out.wall, Number(process.hrtime.bigint() - t) / 1e6);
    out.cpu = Math.min(out.cpu, typeof child === 'number' ? child : cpuMs() - c);
  }
  return out;
}

// The CLI as a user runs it, from the compiled code of this bench run.
const cli = pathToFileURL(resolve('.bench-out/src/cli.js')).href;
const launcher = join(root, 'opsync.mjs');
writeFileSync(
  launcher,
  `process.on('exit', () => { const u = process.cpuUsage(); process.stderr.write('\\nbench-cpu-ms ' + (u.user + u.system) / 1000 + '\\n'); });
import { main } from ${JSON.stringify(cli)};
process.exitCode = await main(process.argv);
`,
);

/** Runs `opsync validate DIR`; returns the CPU time the process used. */
function cliRun(dir: string): number {
  const r = spawnSync(process.execPath, [launcher, 'validate', dir], { cwd: root, env, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`opsync validate ${dir} exited ${r.status}:\n${r.stderr.slice(0, 2000)}`);
  return Number(/bench-cpu-ms (\S+)/.exec(r.stderr)?.[1] ?? NaN);
}

interface Row {
  n: number;
  loadSplit: Time;
  loadBig: Time;
  cliSplit: Time;
  cliBig: Time;
}

const rows: Row[] = [];
for (const n of SIZES) {
  const { split, big } = writeSet(n);
  const check = (dir: string) => {
    const r = loadManifests([dir], { env, cwd: root });
    if (r.diagnostics.length > 0 || r.manifest.items.length !== n) throw new Error(`bench manifests do not validate: ${JSON.stringify(r.diagnostics.slice(0, 3))}`);
  };
  check(split);
  check(big);
  rows.push({
    n,
    loadSplit: best(() => check(split)),
    loadBig: best(() => check(big)),
    cliSplit: best(() => cliRun(split)),
    cliBig: best(() => cliRun(big)),
  });
}

const cols = ['loadSplit', 'loadBig', 'cliSplit', 'cliBig'] as const;
const pad = (t: string) => t.padStart(20);
const ms = (t: Time) => pad(`${t.wall.toFixed(0)} ms (cpu ${t.cpu.toFixed(0)})`);
console.log(`validate (best of ${ROUNDS}); split = ${FILES} files, big = one file, one document; load = loadManifests, cli = opsync validate`);
console.log(`  ${'items'.padStart(11)}${pad('load split')}${pad('load big')}${pad('cli split')}${pad('cli big')}`);
for (const r of rows) console.log(`  ${String(r.n).padStart(11)}${cols.map((k) => ms(r[k])).join('')}`);
if (rows.length >= 2) {
  const [a, b] = [rows[0], rows[rows.length - 1]];
  const ratio = (k: (typeof cols)[number]) => pad(`${(b[k].wall / a[k].wall).toFixed(1)}x (cpu ${(b[k].cpu / a[k].cpu).toFixed(1)}x)`);
  console.log(`  ${`${b.n}/${a.n}`.padStart(11)}${cols.map(ratio).join('')}`);
  console.log(`  target: ${b.n / a.n}x the items in at most ${((1.2 * b.n) / a.n).toFixed(0)}x the time; opsync validate of ${b.n} items under 2000 ms`);
}
rmSync(root, { recursive: true, force: true });
