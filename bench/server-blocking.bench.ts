// How long single worst-case requests that the server accepts hold its event loop (issue 9, item 8): while
// one runs, no other client is served. The server runs in a worker thread, alone on its event loop, which
// perf_hooks.monitorEventLoopDelay watches; the requests come from the main thread. Prints figures only (no
// assertion): run with `npm run bench -- server-blocking`.
//
// Cases, each at the server's limits (1 MiB body, 1,000 patch operations, 1,000 fields per item (the LOGIN
// template's 3 built-ins included), 20 OTP fields per item, 64 levels of JSON, OTP digits 10):
// - PATCH of 997 operations, each appending a field with a ~1 KB value (1,000 fields after it)
// - PATCH of 1,000 operations on an item of 1,000 fields, each addressing the last field by id
// - POST and GET of an item of as many OTP fields as allowed (20; digits=10, SHA512, each its own secret), and
//   a refused POST of 997 of them
// - GET of a vault's list when it holds such items
// - POST of an item of 997 empty fields, and a refused one of 350,000 (one 1 MiB body)
// - POST of a body nested 64 levels (the deepest accepted) and one nested 200,000 (refused)
import { request } from 'node:http';
import { availableParallelism, loadavg } from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { isMainThread, parentPort, Worker } from 'node:worker_threads';
import { DEFAULT_MAX_BODY_BYTES } from '../src/server/defaults.js';
import { startServer } from '../src/server/index.js';
import { builtInFields } from '../src/server/templates.js';
import { MAX_OTP_FIELDS } from '../src/server/totp.js';
import { ITEM_LIMITS } from '../src/server/validate.js';

const LIMIT = DEFAULT_MAX_BODY_BYTES;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
/** Fields an item may be sent with: its LOGIN template's built-ins (username, password, notesPlain) count too. */
const MAX_SENT_FIELDS = ITEM_LIMITS.fields - builtInFields('LOGIN').length;

type FromMain = { kind: 'reset' } | { kind: 'read' } | { kind: 'stop' };
type FromWorker = { kind: 'ready'; url: string; token: string } | { kind: 'reset' } | { kind: 'read'; maxMs: number; p99Ms: number } | { kind: 'stopped' };

async function serverThread(): Promise<void> {
  const port = parentPort!;
  const server = await startServer({ memory: true, host: '127.0.0.1', port: 0, quiet: true });
  const delay = monitorEventLoopDelay({ resolution: 1 });
  delay.enable();
  port.on('message', (m: FromMain) => {
    if (m.kind === 'reset') {
      delay.reset();
      port.postMessage({ kind: 'reset' } satisfies FromWorker);
    } else if (m.kind === 'read') {
      // The histogram records a block when its timer next fires, after it: read only once it has (read at
      // once, the message could be handled before, and the block be missed).
      setTimeout(() => port.postMessage({ kind: 'read', maxMs: delay.max / 1e6, p99Ms: delay.percentile(99) / 1e6 } satisfies FromWorker), 20);
    } else {
      delay.disable();
      void server.close().then(() => port.postMessage({ kind: 'stopped' } satisfies FromWorker));
    }
  });
  port.postMessage({ kind: 'ready', url: server.url, token: server.localToken() } satisfies FromWorker);
}

interface Answer {
  status: number;
  bytes: number;
  text: string;
}

function send(url: string, token: string, method: string, path: string, body?: string): Promise<Answer> {
  const u = new URL(`${url}${path}`);
  const payload = body === undefined ? undefined : Buffer.from(body);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: u.hostname,
        port: u.port,
        path: u.pathname + u.search,
        method,
        headers: {
          Authorization: `Bearer ${token}`,
          ...(payload ? { 'Content-Type': 'application/json', 'Content-Length': payload.length } : {}),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const all = Buffer.concat(chunks);
          resolve({ status: res.statusCode ?? 0, bytes: all.length, text: all.subarray(0, 2000).toString('utf8') });
        });
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

/** The largest n for which make(n) fits in `limit` bytes (make grows with n). */
function fit(make: (n: number) => string, limit = LIMIT): number {
  let lo = 1;
  let hi = 2;
  while (Buffer.byteLength(make(hi)) <= limit) hi *= 2;
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (Buffer.byteLength(make(mid)) <= limit) lo = mid;
    else hi = mid;
  }
  return lo;
}

/** The item id at the start of an item answer (answers are cut to their first 2,000 characters). */
function idOf(a: Answer): string {
  const m = /^\{"id":"([a-z0-9]{26})"/.exec(a.text);
  if (!m) throw new Error(`expected an item, got ${a.status} ${a.text.slice(0, 200)}`);
  return m[1];
}

async function main(): Promise<void> {
  const worker = new Worker(new URL(import.meta.url));
  const next = (kind: FromWorker['kind']) =>
    new Promise<FromWorker>((resolve) => {
      const on = (m: FromWorker) => {
        if (m.kind !== kind) return;
        worker.off('message', on);
        resolve(m);
      };
      worker.on('message', on);
    });
  const ready = (await next('ready')) as Extract<FromWorker, { kind: 'ready' }>;
  const { url, token } = ready;
  const call = (method: string, path: string, body?: unknown) => send(url, token, method, path, body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body));
  const vaultId = (JSON.parse((await call('GET', '/v1/vaults')).text) as { id: string }[])[0].id;
  const items = `/v1/vaults/${vaultId}/items`;

  /** Runs `fn` ROUNDS times (after `setup` each time) and prints the worst event-loop delay seen and the time taken. */
  async function measure(name: string, setup: () => Promise<() => Promise<Answer>>): Promise<void> {
    let worstMax = 0;
    let bestMax = Infinity;
    let worstMs = 0;
    let last: Answer | undefined;
    for (let r = 0; r < ROUNDS; r++) {
      const run = await setup();
      worker.postMessage({ kind: 'reset' } satisfies FromMain);
      await next('reset');
      const t0 = performance.now();
      last = await run();
      const ms = performance.now() - t0;
      worker.postMessage({ kind: 'read' } satisfies FromMain);
      const d = (await next('read')) as Extract<FromWorker, { kind: 'read' }>;
      worstMax = Math.max(worstMax, d.maxMs);
      bestMax = Math.min(bestMax, d.maxMs);
      worstMs = Math.max(worstMs, ms);
    }
    const status = last ? `${last.status}${last.status >= 400 ? ` ${last.text.slice(0, 90)}` : ''}` : '?';
    console.log(`  ${name.padEnd(64)} loop blocked max ${worstMax.toFixed(1).padStart(7)} ms (best round ${bestMax.toFixed(1).padStart(6)})   request ${worstMs.toFixed(1).padStart(7)} ms   -> ${status}`);
  }

  console.log(`server event-loop blocking, worst of ${ROUNDS} rounds (body limit ${LIMIT} bytes, load average ${loadavg()[0].toFixed(1)} on ${availableParallelism()} CPUs)`);

  // 1. Appends with ~1 KB values up to the item's field limit: as large as the body limit allows.
  const appendOps = (size: number) => Array.from({ length: MAX_SENT_FIELDS }, (_, i) => ({ op: 'add', path: '/fields/-', value: { id: `f${i}`, type: 'CONCEALED', value: 'x'.repeat(size) } }));
  const valueSize = fit((n) => JSON.stringify(appendOps(n)));
  const appendBody = JSON.stringify(appendOps(valueSize));
  await measure(`PATCH ${MAX_SENT_FIELDS} field appends of ${valueSize} B (${(appendBody.length / 1024).toFixed(0)} KiB)`, async () => {
    const id = idOf(await call('POST', items, { title: 'bench', category: 'LOGIN' }));
    return () => call('PATCH', `${items}/${id}`, appendBody);
  });

  // 2. An item of the most fields allowed; then 1,000 operations that each look up its last field by id.
  const manyFields = (n: number) => JSON.stringify({ title: 'wide', category: 'LOGIN', fields: Array.from({ length: n }, (_, i) => ({ id: `f${i}` })) });
  const wide = MAX_SENT_FIELDS;
  const lookupBody = JSON.stringify(Array.from({ length: 1000 }, (_, i) => ({ op: 'add', path: `/fields/f${wide - 1}/value`, value: `v${i}` })));
  await measure(`PATCH 1,000 by-id lookups on an item of ${ITEM_LIMITS.fields} fields`, async () => {
    const id = idOf(await call('POST', items, manyFields(wide)));
    return () => call('PATCH', `${items}/${id}`, lookupBody);
  });

  // 3. OTP fields with digits=10, each with its own secret (a code is computed once per distinct value), as many
  // as allowed; created, then read (each read computes every code). And as many as fit, refused.
  const base32 = (i: number) => Array.from({ length: 4 }, (_, k) => 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567'[(i >> (5 * k)) & 31]).join('');
  const otpItem = (n: number) =>
    JSON.stringify({
      title: 'otp',
      category: 'LOGIN',
      fields: Array.from({ length: n }, (_, i) => ({ id: `o${i}`, type: 'OTP', value: `otpauth://totp/a:b?secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK${base32(i)}&digits=10&period=30&algorithm=SHA512` })),
    });
  const otps = Math.min(MAX_OTP_FIELDS, fit(otpItem));
  let otpId = '';
  const otpBody = otpItem(otps);
  await measure(`POST an item of ${otps} OTP fields, digits=10`, async () => () => call('POST', items, otpBody).then((a) => ((otpId = idOf(a)), a)));
  await measure(`GET that item (every code computed)`, async () => () => call('GET', `${items}/${otpId}`));
  const manyOtps = Math.min(MAX_SENT_FIELDS, fit(otpItem));
  const manyOtpBody = otpItem(manyOtps);
  await measure(`POST an item of ${manyOtps} OTP fields${manyOtps > MAX_OTP_FIELDS ? ' (refused)' : ''}`, async () => () => call('POST', items, manyOtpBody));
  await measure(`GET the vault's item list`, async () => () => call('GET', items));

  for (let i = 0; i < 20; i++) await call('POST', items, otpBody);
  await measure(`GET the vault's item list with 20 more such items`, async () => () => call('GET', items));

  // 4. Empty fields: the most elements per byte.
  const empties = (n: number) => `{"title":"e","category":"LOGIN","fields":[${Array.from({ length: n }, () => '{}').join(',')}]}`;
  const emptyBody = empties(MAX_SENT_FIELDS);
  await measure(`POST an item of ${MAX_SENT_FIELDS} empty fields`, async () => () => call('POST', items, emptyBody));
  const emptyCount = fit(empties);
  const tooMany = empties(emptyCount);
  await measure(`POST an item of ${emptyCount} empty fields (refused)`, async () => () => call('POST', items, tooMany));

  // 5. Nesting: the deepest accepted, and a refused one near the body limit.
  await measure('POST a body nested 64 levels', async () => () => call('POST', items, `{"title":"d","category":"LOGIN","x":${'['.repeat(63)}${']'.repeat(63)}}`));
  await measure('PATCH a value nested 200,000 levels (refused)', async () => () => call('PATCH', `${items}/${otpId}`, `[{"op":"add","path":"/tags/-","value":${'['.repeat(200_000)}${']'.repeat(200_000)}}]`));

  worker.postMessage({ kind: 'stop' } satisfies FromMain);
  await next('stopped');
  await worker.terminate();
}

if (isMainThread) await main();
else await serverThread();
