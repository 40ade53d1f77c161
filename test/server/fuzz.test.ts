// Property-based fuzzing of every route and method of the server (issue 9, item 7), over HTTP against a real
// server on 127.0.0.1: random methods, paths (real, malformed and unknown ids, percent-encoding, extra
// segments), queries (filters, limits, offsets), headers (tokens of every kind, content types) and bodies
// (items, patches, arbitrary JSON, broken JSON, deep nesting, oversized). Properties: never a 5xx, and every
// error answer is a JSON {"status":N,"message":"..."} whose status is the answer's.
//
// The seed is fixed and the budget bounded (FUZZ_RUNS requests, at most FUZZ_TIME_MS; defaults below), so a
// run is reproducible and takes well under a minute; FUZZ_SEED, FUZZ_RUNS and FUZZ_TIME_MS change them for a
// longer hunt (FUZZ_VERBOSE=1 prints the slowest requests and the statuses by route).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHARACTER_SETS, FIELD_PURPOSES, FIELD_TYPES, ITEM_CATEGORIES } from '../../src/connect/types.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { client } from './helpers.js';

const SEED = Number(process.env.FUZZ_SEED ?? 20240909);
const RUNS = Number(process.env.FUZZ_RUNS ?? 3000);
/** The run stops (passing) after this long even if RUNS are not done: a loaded CI machine still ends in time. */
const TIME_LIMIT_MS = Number(process.env.FUZZ_TIME_MS ?? 40_000);
const MAX_BODY = 64 * 1024;

let srv: TestServer;
let dir: string;
const agent = new Agent({ keepAlive: true, maxSockets: 4 });
/** Real ids, looked up at request time (a fuzzed DELETE may replace the plain item). */
const ids = { vault: '', other: '', item: '', fileItem: '', file: '', tokenFull: '', tokenRead: '', tokenOther: '' };

const ITEM = {
  title: 'fuzz',
  category: 'LOGIN',
  tags: ['a', 'b'],
  urls: [{ href: 'https://example.com', primary: true }],
  sections: [{ id: 's1', label: 'S' }],
  fields: [
    { id: 'username', purpose: 'USERNAME', value: 'me' },
    { id: 'password', purpose: 'PASSWORD', type: 'CONCEALED', value: 'pw' },
    { id: 'otp', type: 'OTP', value: 'otpauth://totp/x:y?secret=JBSWY3DPEHPK3PXP&digits=8', section: { id: 's1' } },
  ],
};

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'opsync-fuzz-'));
  const seed = join(dir, 'seed.yaml');
  writeFileSync(
    seed,
    `vaults:
  - name: main
    items:
      - title: with files
        category: DOCUMENT
        sections: [{ id: docs }]
        files:
          - { name: a.txt, content: "hello" }
          - { name: b.bin, contentBase64: "AAEC", section: docs }
  - name: other
    items: [{ title: elsewhere, category: PASSWORD, fields: [{ id: password, purpose: PASSWORD, type: CONCEALED, value: x }] }]
`,
  );
  srv = await startTestServer({ seedFiles: [seed], maxBodyBytes: MAX_BODY });
  const admin = client(srv.url, srv.token);
  const vaults = (await admin('GET', '/v1/vaults')).body;
  ids.vault = vaults.find((v: any) => v.name === 'main').id;
  ids.other = vaults.find((v: any) => v.name === 'other').id;
  ids.fileItem = (await admin('GET', `/v1/vaults/${ids.vault}/items`)).body[0].id;
  ids.file = (await admin('GET', `/v1/vaults/${ids.vault}/items/${ids.fileItem}/files`)).body[0].id;
  ids.item = (await admin('POST', `/v1/vaults/${ids.vault}/items`, ITEM)).body.id;
  ids.tokenFull = srv.token;
  ids.tokenRead = srv.server.createToken({ vaults: [{ vault: 'main', read: true, write: false }] });
  ids.tokenOther = srv.server.createToken({ vaults: [{ vault: 'other', read: true, write: true }] });
});
afterAll(async () => {
  agent.destroy();
  await srv?.close();
  rmSync(dir, { recursive: true, force: true });
});

interface Req {
  method: string;
  /** Segments; `{vault}` etc. are replaced with real ids when sent. */
  segments: string[];
  trailingSlash: boolean;
  query: [string, string][];
  auth: string;
  headers: [string, string][];
  body?: string;
}

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

function resolveSegment(s: string): string {
  return s.replace(/\{(vault|other|item|fileItem|file)\}/g, (_, k: keyof typeof ids) => ids[k]);
}

function send(r: Req): Promise<Answer> {
  const segs = r.segments.map(resolveSegment);
  // A fuzzed DELETE never takes the item with files (the API cannot make another one).
  if (r.method === 'DELETE') for (let i = 0; i < segs.length; i++) if (segs[i] === ids.fileItem) segs[i] = ids.item;
  const query = r.query.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&');
  const path = `/${segs.join('/')}${r.trailingSlash ? '/' : ''}${query ? `?${query}` : ''}`;
  const auth = r.auth
    .replace('{full}', ids.tokenFull)
    .replace('{read}', ids.tokenRead)
    .replace('{other}', ids.tokenOther);
  const headers: Record<string, string> = Object.fromEntries(r.headers);
  if (auth !== '') headers.Authorization = auth;
  // Node's client frames a GET/HEAD/DELETE/OPTIONS body only when told its length.
  if (r.body !== undefined) headers['Content-Length'] = String(Buffer.byteLength(r.body));
  const u = new URL(srv.url);
  return new Promise((resolve, reject) => {
    const req = request({ host: u.hostname, port: u.port, path, method: r.method, headers, agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(r.body);
  });
}

// ---- arbitraries

const printable = fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength: 40 });
const anyText = fc.oneof(printable, fc.string({ maxLength: 30 }), fc.string({ unit: 'grapheme', maxLength: 10 }));
const connectLikeId = fc.stringMatching(/^[a-z0-9]{26}$/);

const idSegment = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom('{vault}', '{item}', '{fileItem}', '{file}', '{other}') },
  { weight: 2, arbitrary: connectLikeId },
  { weight: 2, arbitrary: anyText.map(encodeURIComponent) },
  { weight: 1, arbitrary: fc.constantFrom('%', '%zz', '%00', '%2F', '..', '.', '-', '0', '__proto__', 'constructor', '%E0%A4%A', 'a'.repeat(300)) },
);

/** The server's routes, with the methods each serves (see src/server/api.ts and index.ts). */
const ROUTES: [string[], string[]][] = [
  [['v1', 'vaults'], ['GET']],
  [['v1', 'vaults', '{vault}'], ['GET']],
  [['v1', 'vaults', '{vault}', 'items'], ['GET', 'POST']],
  [['v1', 'vaults', '{vault}', 'items', '{item}'], ['GET', 'PUT', 'PATCH', 'DELETE']],
  [['v1', 'vaults', '{vault}', 'items', '{fileItem}', 'files'], ['GET']],
  [['v1', 'vaults', '{vault}', 'items', '{fileItem}', 'files', '{file}'], ['GET']],
  [['v1', 'vaults', '{vault}', 'items', '{fileItem}', 'files', '{file}', 'content'], ['GET']],
  [['v1', 'activity'], ['GET']],
  [['v1'], ['GET']],
  [['heartbeat'], ['GET']],
  [['health'], ['GET']],
  [['metrics'], ['GET']],
];

/** `arb` about once in `n`, else null. */
const rarely = <T>(arb: fc.Arbitrary<T>, n: number): fc.Arbitrary<T | null> =>
  fc.oneof({ weight: 1, arbitrary: arb }, { weight: n - 1, arbitrary: fc.constant(null) });

/** A route with its ids, mostly real, sometimes swapped; sometimes bent: a segment added or dropped. */
const route = fc
  .tuple(
    fc.constantFrom(...ROUTES),
    fc.array(rarely(idSegment, 8), { minLength: 3, maxLength: 3 }),
    rarely(fc.tuple(fc.nat(8), fc.oneof(idSegment, fc.constantFrom('v1', 'vaults', 'items', 'files', 'content', 'activity', 'v2', ''))), 12),
    rarely(fc.nat(8), 12),
    rarely(fc.constantFrom('GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS', 'PROPFIND', 'QUERY', 'PURGE'), 6),
    fc.nat(3),
  )
  .map(([[t, methods], swaps, insert, drop, otherMethod, m]) => {
    let n = 0;
    const segs = t.map((s) => (s.startsWith('{') ? (swaps[n++] ?? s) : s));
    if (insert) segs.splice(insert[0] % (segs.length + 1), 0, insert[1]);
    if (drop !== null && segs.length > 1) segs.splice(drop % segs.length, 1);
    return { segments: segs, method: otherMethod ?? methods[m % methods.length] };
  });

const filterText = fc.oneof(
  fc
    .array(
      fc.oneof(
        fc.constantFrom('title', 'tag', 'name', 'TITLE', 'eq', 'co', 'sw', 'EQ', 'ne', 'and', 'or', 'AND', '(', ')', '"x"', '"fuzz"', '"a\\"b"', '"\\', "'x'", '"', '\\', ' '),
        anyText,
      ),
      { maxLength: 12 },
    )
    .map((parts) => parts.join(' ')),
  fc.nat(100).map((d) => `${'('.repeat(d)}title eq "fuzz"${')'.repeat(d)}`),
  anyText,
);
const numberText = fc.oneof(
  fc.bigInt({ min: -(2n ** 70n), max: 2n ** 70n }).map(String),
  fc.nat(2000).map(String),
  fc.constantFrom('', '1e3', '0x10', '1.5', ' 1', 'NaN', 'Infinity', '-0', '00', '9223372036854775808', '9007199254740991', '9007199254740992'),
  anyText,
);
const query = fc.array(
  fc.oneof(
    fc.tuple(fc.constant('filter'), filterText),
    fc.tuple(fc.constantFrom('limit', 'offset'), numberText),
    fc.tuple(fc.constant('inline_files'), fc.constantFrom('true', 'false', 'TRUE', '1', '')),
    fc.tuple(anyText, anyText),
  ),
  { maxLength: 4 },
);

const auth = fc.oneof(
  { weight: 12, arbitrary: fc.constant('Bearer {full}') },
  { weight: 3, arbitrary: fc.constantFrom('Bearer {read}', 'Bearer {other}') },
  { weight: 1, arbitrary: fc.constantFrom('', 'Bearer', 'Bearer ', 'bearer {full}', 'Basic {full}', 'Bearer {full}x', 'Bearer a.b.c', 'Bearer {full} {full}', 'Bearer ...') },
  { weight: 1, arbitrary: printable.map((s) => `Bearer ${s}`) },
);

const headers = fc.array(
  fc.oneof(
    fc.tuple(fc.constant('Content-Type'), fc.constantFrom('application/json', 'text/plain', 'application/json; charset=latin1', '', 'multipart/form-data')),
    fc.tuple(fc.constant('Accept'), fc.constantFrom('*/*', 'text/html', 'application/json')),
    fc.tuple(fc.constantFrom('User-Agent', 'X-Request-Id', 'Accept-Encoding', 'If-None-Match', 'X-Forwarded-For'), printable),
  ),
  { maxLength: 3 },
).map((hs) => hs.filter(([k], i) => hs.findIndex(([k2]) => k2 === k) === i));

// Bodies
const json = fc.jsonValue({ maxDepth: 4 });
/** Mostly `good`, now and then any JSON. */
const sometimes = <T>(good: fc.Arbitrary<T>, freq = 6) => fc.oneof({ weight: freq, arbitrary: good }, { weight: 1, arbitrary: json });
const fieldBody = fc.record(
  {
    id: fc.oneof(fc.constantFrom('username', 'password', 'otp', 'x', '', '__proto__'), anyText),
    type: fc.oneof({ weight: 6, arbitrary: fc.constantFrom(...FIELD_TYPES) }, { weight: 1, arbitrary: fc.constantFrom('otp', 'string', '', 'SSHKEY') }, { weight: 1, arbitrary: anyText }),
    purpose: fc.constantFrom(...FIELD_PURPOSES, '', 'NOPE'),
    label: anyText,
    value: fc.oneof(
      { weight: 4, arbitrary: anyText },
      fc.tuple(fc.constantFrom('digits', 'period', 'algorithm', 'secret', 'counter'), numberText).map(
        ([k, v]) => `otpauth://totp/a:b?secret=JBSWY3DPEHPK3PXP&${k}=${encodeURIComponent(v)}`,
      ),
      fc.constantFrom('otpauth://hotp/x?secret=AAAA&counter=1', 'otpauth://totp/x?secret=!!!', 'JBSWY3DPEHPK3PXP', 'otpauth:', '2027-01-31', '202701'),
      json,
    ),
    section: fc.oneof(fc.constant({ id: 's1' }), fc.record({ id: anyText }), json),
    generate: sometimes(fc.boolean()),
    recipe: fc.oneof(
      fc.record(
        { length: fc.oneof(fc.integer({ min: -5, max: 100 }), fc.double(), json), characterSets: fc.array(fc.oneof(fc.constantFrom(...CHARACTER_SETS), anyText), { maxLength: 4 }), excludeCharacters: anyText },
        { requiredKeys: [] },
      ),
      json,
    ),
  },
  { requiredKeys: [] },
);
const itemBody = fc.record(
  {
    id: fc.oneof(fc.constant('{item}'), connectLikeId, anyText),
    title: sometimes(anyText),
    category: sometimes(fc.constantFrom(...ITEM_CATEGORIES, 'login', 'NOPE'), 12),
    vault: fc.oneof(fc.constant({ id: '{vault}' }), fc.record({ id: fc.oneof(connectLikeId, anyText) }), json),
    tags: sometimes(fc.array(anyText, { maxLength: 4 })),
    urls: sometimes(fc.array(fc.record({ href: anyText, primary: fc.boolean(), label: anyText }, { requiredKeys: ['href'] }), { maxLength: 3 })),
    favorite: sometimes(fc.boolean()),
    version: fc.oneof(fc.integer(), json),
    sections: sometimes(fc.array(fc.record({ id: fc.oneof(fc.constant('s1'), anyText), label: anyText }, { requiredKeys: [] }), { maxLength: 3 })),
    fields: sometimes(fc.array(fieldBody, { maxLength: 5 })),
    files: json,
  },
  { requiredKeys: ['category'] },
);
const pointerSegment = fc.oneof(
  fc.constantFrom('fields', 'sections', 'tags', 'urls', 'title', 'category', 'favorite', 'id', 'vault', 'version', 'files', 'value', 'label', 'type', 'purpose', 'section', 'href', 'generate', 'recipe'),
  fc.constantFrom('username', 'password', 'otp', 's1', '-', '0', '1', '99', '01', '-1', '', '~', '~0', '~1', '~2', '__proto__', 'constructor', 'prototype'),
  anyText,
);
const pointer = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom('/title', '/tags/-', '/tags/0', '/fields/-', '/fields/password/value', '/fields/otp/value', '/fields/0', '/sections/s1/label', '/urls/0/href', '/favorite', '/category', '/sections/-') },
  { weight: 4, arbitrary: fc.array(pointerSegment, { minLength: 0, maxLength: 5 }).map((s) => `/${s.join('/')}`) },
  { weight: 1, arbitrary: anyText },
);
const patchOp = fc.oneof(
  {
    weight: 8,
    arbitrary: fc.record(
      {
        op: fc.oneof({ weight: 8, arbitrary: fc.constantFrom('add', 'remove', 'replace') }, { weight: 1, arbitrary: fc.constantFrom('move', 'copy', 'test', 'ADD') }),
        path: pointer,
        value: fc.oneof(anyText, json, fieldBody, itemBody),
        from: pointer,
      },
      { requiredKeys: ['op', 'path'] },
    ),
  },
  { weight: 1, arbitrary: json },
);
const patchBody = fc.array(patchOp, { maxLength: 8 });

function withIds(text: string): string {
  return text.replace(/\{(vault|item)\}/g, (_, k: 'vault' | 'item') => ids[k]);
}

const body = fc.option(
  fc.oneof(
    { weight: 4, arbitrary: itemBody.map((b) => JSON.stringify(b)) },
    { weight: 4, arbitrary: patchBody.map((b) => JSON.stringify(b)) },
    { weight: 2, arbitrary: json.map((b) => JSON.stringify(b)) },
    { weight: 1, arbitrary: anyText },
    { weight: 1, arbitrary: fc.constantFrom('', ' ', '{', '[', '{"title":', '[{"op":"add","path":"/tags/-","value":"x"}', 'null', 'true', '"x"', '\uFEFF{}', '{"a":1}garbage', '\u0000') },
    { weight: 1, arbitrary: fc.tuple(fc.constantFrom('[', '{"a":'), fc.integer({ min: 60, max: 5000 })).map(([open, n]) => open.repeat(n) + (open === '[' ? ']' : '1}').repeat(n)) },
    { weight: 1, arbitrary: fc.integer({ min: MAX_BODY - 100, max: MAX_BODY + 100 }).map((n) => JSON.stringify({ title: 'x'.repeat(Math.max(0, n - 40)), category: 'LOGIN' })) },
  ),
  { freq: 3 },
);

/** Patches that mostly apply: known paths, values of the right kind. */
const plausibleOp = fc.oneof(
  fc.record({ op: fc.constantFrom('add', 'replace'), path: fc.constantFrom('/title', '/tags/-', '/fields/password/value', '/fields/username/label', '/sections/s1/label', '/urls/0/href', '/tags/0'), value: anyText }),
  fc.record({ op: fc.constant('add'), path: fc.constantFrom('/fields/-', '/fields/0'), value: fieldBody }),
  fc.record({ op: fc.constantFrom('replace', 'add'), path: fc.constant('/favorite'), value: fc.boolean() }),
  fc.record({ op: fc.constant('remove'), path: fc.constantFrom('/tags/0', '/fields/username', '/urls', '/fields/otp', '/sections/s1') }),
);
/** Items that mostly validate. */
const plausibleItem = fc.record(
  {
    title: anyText,
    category: fc.constantFrom('LOGIN', 'PASSWORD', 'API_CREDENTIAL', 'SECURE_NOTE', 'SERVER', 'DATABASE'),
    tags: fc.array(anyText, { maxLength: 3 }),
    sections: fc.constant([{ id: 's1', label: 'S' }]),
    fields: fc.array(
      fc.record(
        {
          id: fc.oneof(fc.constantFrom('username', 'password', 'otp', 'notesPlain'), fc.stringMatching(/^[a-z]{1,8}$/)),
          type: fc.constantFrom(...FIELD_TYPES),
          value: fc.oneof(anyText, fc.constant('otpauth://totp/a:b?secret=JBSWY3DPEHPK3PXP&digits=7&period=15')),
          section: fc.constant({ id: 's1' }),
          generate: fc.boolean(),
          recipe: fc.record({ length: fc.integer({ min: 1, max: 64 }), characterSets: fc.subarray([...CHARACTER_SETS], { minLength: 1 }) }),
        },
        { requiredKeys: ['type'] },
      ),
      { maxLength: 4 },
    ),
  },
  { requiredKeys: ['title', 'category'] },
);
const bodyFor = (method: string) =>
  method === 'POST' || method === 'PUT'
    ? fc.oneof(
        { weight: 4, arbitrary: plausibleItem.map((b) => JSON.stringify(b)) },
        { weight: 4, arbitrary: itemBody.map((b) => JSON.stringify(b)) },
        { weight: 2, arbitrary: body },
      )
    : method === 'PATCH'
      ? fc.oneof(
          { weight: 4, arbitrary: fc.array(plausibleOp, { maxLength: 6 }).map((b) => JSON.stringify(b)) },
          { weight: 3, arbitrary: patchBody.map((b) => JSON.stringify(b)) },
          { weight: 2, arbitrary: body },
        )
      : body;

const requestArb: fc.Arbitrary<Req> = route.chain(({ segments, method }) =>
  fc.record({
    method: fc.constant(method),
    segments: fc.constant(segments),
    trailingSlash: fc.boolean(),
    query,
    auth,
    headers,
    body: bodyFor(method).map((b) => (b === null ? undefined : withIds(b))),
  }),
);

// ---- the property

function problemWith(r: Req, a: Answer): string | undefined {
  if (a.status >= 500) return `answered ${a.status}: ${a.text.slice(0, 300)}`;
  if (a.status < 400 || r.method === 'HEAD') return undefined;
  if (!String(a.headers['content-type'] ?? '').startsWith('application/json')) return `error ${a.status} without a JSON content type`;
  let parsed: unknown;
  try {
    parsed = JSON.parse(a.text);
  } catch {
    return `error ${a.status} whose body is not JSON: ${a.text.slice(0, 200)}`;
  }
  const ok =
    typeof parsed === 'object' &&
    parsed !== null &&
    Object.keys(parsed).sort().join(',') === 'message,status' &&
    (parsed as { status: unknown }).status === a.status &&
    typeof (parsed as { message: unknown }).message === 'string' &&
    (parsed as { message: string }).message !== '';
  return ok ? undefined : `error ${a.status} whose body is not {"status":N,"message":"..."}: ${a.text.slice(0, 200)}`;
}

describe('fuzzing every route and method', () => {
  it(`${RUNS} random requests (seed ${SEED}): never a 5xx, every error a Connect error body`, async () => {
    const statuses = new Map<number, number>();
    const byRoute = new Map<string, number>();
    const slow: [number, string][] = [];
    await fc.assert(
      fc.asyncProperty(requestArb, async (r) => {
        const t0 = performance.now();
        const a = await send(r);
        if (process.env.FUZZ_VERBOSE) slow.push([performance.now() - t0, `${r.method} ${r.segments.join('/')} ${a.status} ${String(r.body ?? '').slice(0, 120)}`]);
        statuses.set(a.status, (statuses.get(a.status) ?? 0) + 1);
        if (process.env.FUZZ_VERBOSE) byRoute.set(`${r.method} ${r.segments.length} ${a.status}`, (byRoute.get(`${r.method} ${r.segments.length} ${a.status}`) ?? 0) + 1);
        // A DELETE that took the plain item: make another one, so later runs still reach a real item.
        if (r.method === 'DELETE' && a.status === 204) {
          const made = await client(srv.url, srv.token)('POST', `/v1/vaults/${ids.vault}/items`, ITEM);
          ids.item = made.body.id;
        }
        const problem = problemWith(r, a);
        if (problem) throw new Error(`${r.method} ${JSON.stringify(r.segments)}: ${problem}`);
      }),
      { seed: SEED, numRuns: RUNS, endOnFailure: false, interruptAfterTimeLimit: TIME_LIMIT_MS, markInterruptAsFailure: false },
    );
    if (process.env.FUZZ_VERBOSE) console.log(slow.sort((a, b) => b[0] - a[0]).slice(0, 15).map(([ms, d]) => `${ms.toFixed(1)}ms ${d}`).join('\n'));
    if (process.env.FUZZ_VERBOSE) console.log([...byRoute].sort().map(([k, n]) => `${k}: ${n}`).join('\n'));
    // The run reached real successes and real refusals alike, not only 404s.
    for (const s of [200, 400, 401, 403, 404, 405]) expect(statuses.get(s) ?? 0, `status ${s} in ${JSON.stringify([...statuses])}`).toBeGreaterThan(0);
  });
});
