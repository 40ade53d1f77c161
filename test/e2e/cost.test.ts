// The cost of every run (issue 17), end to end: the real CLI against a real opsync server, through a proxy
// that notes when each request arrived. The requests plan and apply say they made, in text, JSON and Markdown,
// are the server's own count of the requests it served (its /metrics, by method and route), kind by kind,
// retries included (conflicts answered 409, and 500 for a DELETE, as real Connect does); opsync.yaml's budget
// makes plan warn; a small write budget, or --max-writes-per-second, spaces the writes as the proxy saw them
// arrive; and no output holds a secret value.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { REQUEST_KINDS, type RequestKind } from '../../src/connect/cost.js';
import type { ServerOptions } from '../../src/server/index.js';
import { startHttpProxy, type HttpProxy } from '../support/httpProxy.js';
import { findLeak } from '../support/leaks.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { runCli, tempProject, type CliResult } from './cli.js';

const SEED = `vaults:
  - name: Production
  - name: Staging
`;
const SECRET = 'cost-Secret-7f3a9c1e5b';

/** The server's route templates (src/server/api.ts), as the client's kinds (src/connect/cost.ts). */
const ROUTE_KINDS: Record<string, RequestKind> = {
  'GET /v1/vaults': 'list_vaults',
  'GET /v1/vaults/:vault': 'get_vault',
  'GET /v1/vaults/:vault/items': 'list_items',
  'POST /v1/vaults/:vault/items': 'create',
  'GET /v1/vaults/:vault/items/:item': 'get_item',
  'PUT /v1/vaults/:vault/items/:item': 'update',
  'PATCH /v1/vaults/:vault/items/:item': 'patch',
  'DELETE /v1/vaults/:vault/items/:item': 'delete',
  'GET /v1/vaults/:vault/items/:item/files': 'list_files',
  'GET /v1/vaults/:vault/items/:item/files/:file': 'get_file',
  'GET /v1/vaults/:vault/items/:item/files/:file/content': 'get_file_content',
  'GET /v1/activity': 'list_activity',
  'GET /heartbeat': 'health',
  'GET /health': 'health',
};

interface ServerCount {
  byKind: Record<RequestKind, number>;
  /** Answers by status, e.g. 409 conflicts. */
  byStatus: Record<string, number>;
}

interface Arrival {
  method: string;
  path: string;
  at: number;
}

interface Rig {
  dir: string;
  srv: TestServer;
  proxy: HttpProxy;
  arrivals: Arrival[];
  cli(args: string[], env?: Record<string, string>): Promise<CliResult>;
  /** The server's request count (its /metrics) now. */
  served(): Promise<ServerCount>;
}

const rigs: Rig[] = [];
afterEach(async () => {
  for (const r of rigs.splice(0)) {
    await r.proxy.close();
    await r.srv.close();
  }
});

async function rig(files: Record<string, string>, opts: Partial<ServerOptions> = {}): Promise<Rig> {
  const dir = tempProject({ 'seed.yaml': SEED, ...files });
  const srv = await startTestServer({ seedFiles: [join(dir, 'seed.yaml')], ...opts });
  const arrivals: Arrival[] = [];
  const proxy = await startHttpProxy(srv.url, (req) => {
    arrivals.push({ method: req.method ?? '', path: req.url ?? '', at: Date.now() });
    return undefined;
  });
  const r: Rig = {
    dir,
    srv,
    proxy,
    arrivals,
    cli: (args, env = {}) => runCli(args, { cwd: dir, env: { OP_CONNECT_HOST: proxy.url, OP_CONNECT_TOKEN: srv.token, DB_PASSWORD: SECRET, ...env } }),
    async served() {
      const text = await (await fetch(`${srv.url}/metrics`)).text();
      const byKind = Object.fromEntries(REQUEST_KINDS.map((k) => [k, 0])) as Record<RequestKind, number>;
      const byStatus: Record<string, number> = {};
      for (const m of text.matchAll(/^opsync_http_requests_total\{([^}]*)\} (\d+)$/gm)) {
        const labels = Object.fromEntries([...m[1].matchAll(/(\w+)="([^"]*)"/g)].map((l) => [l[1], l[2]]));
        if (labels.route === '/metrics') continue; // this count's own reads
        const n = Number(m[2]);
        byKind[ROUTE_KINDS[`${labels.method} ${labels.route}`] ?? 'other'] += n;
        byStatus[labels.status] = (byStatus[labels.status] ?? 0) + n;
      }
      return { byKind, byStatus };
    },
  };
  rigs.push(r);
  return r;
}

/** What the server served between two counts. */
function between(after: ServerCount, before: ServerCount): ServerCount {
  const byKind = Object.fromEntries(REQUEST_KINDS.map((k) => [k, after.byKind[k] - before.byKind[k]])) as Record<RequestKind, number>;
  const byStatus = Object.fromEntries(Object.keys(after.byStatus).map((s) => [s, after.byStatus[s] - (before.byStatus[s] ?? 0)]));
  return { byKind, byStatus };
}

/** Runs the CLI and returns what the server served meanwhile. */
async function counted(r: Rig, args: string[], env?: Record<string, string>): Promise<{ out: CliResult; served: ServerCount }> {
  const before = await r.served();
  const out = await r.cli(args, env);
  return { out, served: between(await r.served(), before) };
}

const READS = new Set<RequestKind>(['list_vaults', 'get_vault', 'list_items', 'get_item', 'list_files', 'get_file', 'get_file_content', 'list_activity', 'health']);
const LABELS: Record<RequestKind, string> = {
  list_vaults: 'list vaults',
  get_vault: 'get vault',
  list_items: 'list items',
  get_item: 'get item',
  list_files: 'list files',
  get_file: 'get file',
  get_file_content: 'file content',
  list_activity: 'activity',
  health: 'health',
  create: 'create',
  update: 'update (PUT)',
  patch: 'patch',
  delete: 'delete',
  other: 'other',
};

/** The sentence the CLI should print for what the server served, retries aside (`1 list vaults, ...`). */
function kindsText(byKind: Record<RequestKind, number>, reads: boolean): string {
  return REQUEST_KINDS.filter((k) => byKind[k] > 0 && (READS.has(k) || k === 'other') === reads)
    .map((k) => `${byKind[k]} ${LABELS[k]}`)
    .join(', ');
}

function sum(byKind: Record<RequestKind, number>, reads: boolean): number {
  return REQUEST_KINDS.filter((k) => (READS.has(k) || k === 'other') === reads).reduce((n, k) => n + byKind[k], 0);
}

/** The `Connect requests:` line of a text output, parsed into counts by kind. */
function parseLine(text: string): { byKind: Record<RequestKind, number>; retries: number; line: string } {
  const line = text.split('\n').find((l) => l.startsWith('Connect requests: '));
  if (!line) throw new Error(`no "Connect requests:" line in:\n${text}`);
  const byKind = Object.fromEntries(REQUEST_KINDS.map((k) => [k, 0])) as Record<RequestKind, number>;
  const [counts, retries] = line.split('; ');
  for (const k of REQUEST_KINDS) {
    const m = new RegExp(`(\\d[\\d,]*) ${LABELS[k].replace(/[()]/g, '\\$&')}(?=[,)])`).exec(counts);
    if (m) byKind[k] = Number(m[1].replace(/,/g, ''));
  }
  return { byKind, retries: retries ? Number(/^(\d+)/.exec(retries)![1]) : 0, line };
}

const MANIFEST = (n: number, extra = '') => `vault: Production
items:
${Array.from({ length: n }, (_, i) => `  app${i}:
    title: App ${i}
    category: LOGIN
    fields:
      username: { purpose: USERNAME, value: user${i} }
      password: { purpose: PASSWORD, value: { env: DB_PASSWORD } }
`).join('')}${extra}`;

const GENERATED = `  gen:
    title: Generated
    category: PASSWORD
    fields:
      password: { purpose: PASSWORD, generate: { length: 20 } }
`;

describe('the requests each run reports are the ones the server served', () => {
  it('plan in text, JSON and Markdown, and apply in text and JSON, kind by kind', { timeout: 60_000 }, async () => {
    const r = await rig({ 'm.yaml': MANIFEST(3, GENERATED) });

    // A first plan: the vault list and a listing (creates look their titles up).
    let { out, served } = await counted(r, ['plan', 'm.yaml', '--format', 'json']);
    expect(out.code, out.stderr).toBe(0);
    const json = JSON.parse(out.stdout) as { requests: { total: number; reads: number; writes: number; retries: number; by_kind: Record<RequestKind, number> } };
    expect(json.requests.by_kind).toEqual(served.byKind);
    expect(json.requests).toMatchObject({ reads: sum(served.byKind, true), writes: 0, retries: 0 });
    expect(json.requests.total).toBeGreaterThan(0);

    ({ out, served } = await counted(r, ['plan', 'm.yaml']));
    expect(out.code, out.stderr).toBe(0);
    const lines = out.stdout.trimEnd().split('\n');
    expect(lines.at(-2)).toMatch(/^Plan: 4 to create/);
    expect(lines.at(-1)).toBe(`Connect requests: ${sum(served.byKind, true)} reads (${kindsText(served.byKind, true)}), 0 writes.`);

    ({ out, served } = await counted(r, ['plan', 'm.yaml', '--format', 'markdown']));
    expect(out.code, out.stderr).toBe(0);
    expect(out.stdout.trimEnd().split('\n').at(-1)).toContain(`Connect requests: ${sum(served.byKind, true)} reads (${kindsText(served.byKind, true)}), 0 writes`);

    // The apply: planning again, the creates, and what it reads around them.
    ({ out, served } = await counted(r, ['apply', 'm.yaml', '--auto-approve']));
    expect(out.code, out.stderr).toBe(0);
    expect(served.byKind.create).toBe(4);
    let printed = parseLine(out.stdout);
    expect(out.stdout.trimEnd().split('\n').at(-1)).toBe(printed.line); // the last line
    expect(printed.byKind).toEqual(served.byKind);
    expect(printed.line).toBe(`Connect requests: ${sum(served.byKind, true)} reads (${kindsText(served.byKind, true)}), 4 writes (4 create).`);

    // An update by patch, one by PUT (a rotated generated value), a delete: each kind once, in the JSON result.
    writeFileSync(join(r.dir, 'm.yaml'), MANIFEST(2, GENERATED).replace('value: user0', 'value: renamed0'));
    ({ out, served } = await counted(r, ['apply', 'm.yaml', '--auto-approve', '--format', 'json', '--rotate', 'Production/gen']));
    expect(out.code, out.stderr).toBe(0);
    const result = JSON.parse(out.stdout) as { requests: { reads: number; writes: number; by_kind: Record<RequestKind, number> } };
    expect(served.byKind).toMatchObject({ patch: 1, update: 1, delete: 1, create: 0 });
    expect(result.requests.by_kind).toEqual(served.byKind);
    expect(result.requests).toMatchObject({ reads: sum(served.byKind, true), writes: 3 });
    printed = parseLine(out.stderr); // the text apply's last lines, for a CI log, on stderr
    expect(printed.byKind).toEqual(served.byKind);

    // Nothing to do: the apply still ends with what it read.
    ({ out, served } = await counted(r, ['apply', 'm.yaml', '--auto-approve']));
    expect(out.code, out.stderr).toBe(0);
    expect(out.stdout.trimEnd().split('\n').at(-1)).toBe(`Connect requests: ${sum(served.byKind, true)} reads (${kindsText(served.byKind, true)}), 0 writes.`);
  });

  it('counts retries as requests, and apart: conflicts answered 409 (500 for a DELETE), as the server answered them', { timeout: 60_000 }, async () => {
    const r = await rig({ 'm.yaml': MANIFEST(6) }, { conflicts: true, writeHoldMs: 40 });
    let { out, served } = await counted(r, ['apply', 'm.yaml', '--auto-approve', '--format', 'json']);
    expect(out.code, out.stderr).toBe(0);
    type Doc = { requests: { total: number; writes: number; retries: number; by_kind: Record<RequestKind, number>; retries_by_kind: Partial<Record<RequestKind, number>> } };
    let doc = JSON.parse(out.stdout) as Doc;
    expect(doc.requests.by_kind).toEqual(served.byKind);
    // Six creates in one vault at once: the overlapping ones were refused with 409 and sent again.
    expect(served.byStatus['409'] ?? 0).toBeGreaterThan(0);
    expect(doc.requests.retries).toBe(served.byStatus['409']);
    expect(doc.requests.retries_by_kind.create).toBe(served.byStatus['409']);
    expect(doc.requests.writes).toBe(6 + served.byStatus['409']);

    writeFileSync(join(r.dir, 'm.yaml'), MANIFEST(1));
    ({ out, served } = await counted(r, ['apply', 'm.yaml', '--auto-approve', '--format', 'json', '--force']));
    expect(out.code, out.stderr).toBe(0);
    doc = JSON.parse(out.stdout) as Doc;
    expect(doc.requests.by_kind).toEqual(served.byKind);
    const refused = (served.byStatus['409'] ?? 0) + (served.byStatus['500'] ?? 0);
    expect(doc.requests.retries).toBe(refused);
    expect(served.byKind.delete).toBe(5 + (served.byStatus['500'] ?? 0));
  });
});

describe('budget', () => {
  it('plan warns when its apply passes budget.writesPerHour or budget.readsPerHour, in every format', { timeout: 60_000 }, async () => {
    const r = await rig({ 'm.yaml': MANIFEST(3), 'opsync.yaml': 'budget: { writesPerHour: 2, readsPerHour: 4 }\n' });
    const writes = 'this apply needs about 3 writes (3 create), more than budget.writesPerHour allows (2): apply paces them at 0.00056/s, about 1 h';
    let out = await r.cli(['plan', 'm.yaml']);
    expect(out.code, out.stderr).toBe(0);
    expect(out.stdout).toContain(`Warning: ${writes}`);
    // Reads: this plan's 2 (the vault list, a listing) and its apply's 3 (the vault list first and last, a listing).
    expect(out.stdout).toContain('Warning: this apply needs about 5 reads (2 to plan, about 3 to apply), more than budget.readsPerHour allows (4)');
    out = await r.cli(['plan', 'm.yaml', '--format', 'json']);
    const json = JSON.parse(out.stdout) as { diagnostics: { severity: string; message: string }[] };
    expect(json.diagnostics.filter((d) => d.severity === 'warning').map((d) => d.message.split(':')[0])).toEqual([
      'this apply needs about 3 writes (3 create), more than budget.writesPerHour allows (2)',
      'this apply needs about 5 reads (2 to plan, about 3 to apply), more than budget.readsPerHour allows (4)',
    ]);
    expect(out.stderr).toContain(`warning: ${writes}`);
    out = await r.cli(['plan', 'm.yaml', '--format', 'markdown']);
    expect(out.stdout).toContain('more than budget.writesPerHour allows (2)');
    // Within the budget: no warning.
    writeFileSync(join(r.dir, 'opsync.yaml'), 'budget: { writesPerHour: 3, readsPerHour: 5 }\n');
    out = await r.cli(['plan', 'm.yaml']);
    expect(out.stdout).not.toContain('Warning');
  });

  it('refuses a budget that is not a positive whole number, at its line', async () => {
    const r = await rig({ 'm.yaml': MANIFEST(1), 'opsync.yaml': 'budget:\n  writesPerHour: 0\n' });
    const out = await r.cli(['plan', 'm.yaml']);
    expect(out.code).toBe(1);
    expect(out.stderr).toMatch(/opsync\.yaml:2:\d+: error: .*writesPerHour/);
  });
});

describe('pacing', () => {
  const posts = (r: Rig) => r.arrivals.filter((a) => a.method === 'POST' && a.path.endsWith('/items'));
  /**
   * The k-th write arrived no sooner than k intervals after the first: the bucket gives each write its turn at
   * first + k * interval, so a write held up on its way (a connection, a slot) never lets the next one come early
   * by more than timer slack.
   */
  const paced = (xs: Arrival[], intervalMs: number) => xs.forEach((a, k) => expect(a.at - xs[0].at, `write ${k}`).toBeGreaterThanOrEqual(k * intervalMs - 30));

  it('--max-writes-per-second spaces the writes the server receives, and says so before it starts', { timeout: 60_000 }, async () => {
    const r = await rig({ 'm.yaml': MANIFEST(6) });
    const started = Date.now();
    const out = await r.cli(['apply', 'm.yaml', '--auto-approve', '--max-writes-per-second', '5']);
    expect(out.code, out.stderr).toBe(0);
    expect(out.stderr).toContain('Pacing 6 writes at 5/s (--max-writes-per-second 5): about 1 s.');
    const seen = posts(r);
    expect(seen).toHaveLength(6);
    // One every 200 ms: the six over a second at least.
    paced(seen, 200);
    expect(seen[0].at - started).toBeLessThan(10_000);
  });

  it('budget.writesPerHour paces every write, deletes and patches too; the flag sets another pace for one run', { timeout: 60_000 }, async () => {
    // 36,000 an hour: one every 100 ms.
    const r = await rig({ 'm.yaml': MANIFEST(4), 'opsync.yaml': 'budget: { writesPerHour: 36000 }\n' });
    let out = await r.cli(['apply', 'm.yaml', '--auto-approve', '--format', 'json']);
    expect(out.code, out.stderr).toBe(0);
    expect(out.stderr).toContain('Pacing 4 writes at 10/s (budget.writesPerHour 36,000): under a second.');
    const doc = JSON.parse(out.stdout) as { pacing: unknown };
    expect(doc.pacing).toEqual({ writes_per_second: 10, source: 'budget', estimated_writes: 4, estimated_seconds: 0.3 });
    paced(posts(r), 100);

    // Deletes and a patch, faster for this run only.
    r.arrivals.length = 0;
    writeFileSync(join(r.dir, 'm.yaml'), MANIFEST(1).replace('value: user0', 'value: renamed0'));
    out = await r.cli(['apply', 'm.yaml', '--auto-approve', '--force', '--max-writes-per-second', '4']);
    expect(out.code, out.stderr).toBe(0);
    expect(out.stderr).toContain('Pacing 4 writes at 4/s (--max-writes-per-second 4): under a second.');
    const writes = r.arrivals.filter((a) => a.method !== 'GET');
    expect(writes.map((w) => w.method).sort()).toEqual(['DELETE', 'DELETE', 'DELETE', 'PATCH']);
    paced(writes, 250);
  });

  it('refuses a pace that is not a positive number, before anything is sent', async () => {
    const r = await rig({ 'm.yaml': MANIFEST(1) });
    for (const bad of ['0', '-1', 'fast', '']) {
      const out = await r.cli(['apply', 'm.yaml', '--auto-approve', '--max-writes-per-second', bad]);
      expect(out.code).toBe(1);
      expect(out.stderr).toContain('--max-writes-per-second');
    }
    expect(r.arrivals).toEqual([]);
  });
});

it('no output of plan or apply holds a secret value', { timeout: 60_000 }, async () => {
  const r = await rig({ 'm.yaml': MANIFEST(2), 'opsync.yaml': 'budget: { writesPerHour: 1, readsPerHour: 1 }\n' });
  const outs: CliResult[] = [];
  for (const format of [[], ['--format', 'json'], ['--format', 'markdown']]) outs.push(await r.cli(['plan', 'm.yaml', ...format]));
  outs.push(await r.cli(['apply', 'm.yaml', '--auto-approve', '--format', 'json', '--max-writes-per-second', '50']));
  writeFileSync(join(r.dir, 'm.yaml'), MANIFEST(1));
  outs.push(await r.cli(['apply', 'm.yaml', '--auto-approve', '--max-writes-per-second', '50'], { OPSYNC_LOG: 'trace' }));
  for (const o of outs) {
    expect(o.code, o.stderr).toBe(0);
    expect(findLeak(o.stdout + o.stderr, SECRET)).toBeUndefined();
    expect(o.stdout + o.stderr).toMatch(/Connect requests: |"requests": \{/);
  }
});
