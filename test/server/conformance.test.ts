// Every response body of our server, for every operation of spec/connect-openapi.yaml and every status
// code the spec documents (plus the error answers it does not document), validated against the spec's own
// response schemas. The spec is read here, at test time, and converted for ajv: OpenAPI 3.1 component schemas
// are JSON Schema 2020-12, so the conversion only moves them under $defs, points their $refs there and drops
// OpenAPI-only annotations.
//
// Deliberate departures from the spec, each because real 1Password Connect does otherwise:
// - `format: uuid` also accepts Connect ids (^[a-z0-9]{26}$): real Connect's ids are not UUIDs.
// - Field.type also allows "OTP": real Connect returns one-time-password fields as type "OTP" (connect-sdk-go
//   FieldTypeOTP = "OTP"; connect-sdk-js FieldType.Otp = "OTP" and reads the code from `totp` on it).
// - Field.purpose also allows "": connect-sdk-js's ItemBuilder sends purpose "" for fields without one.
import { readFileSync } from 'node:fs';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { startTestServer, type TestServer } from '../support/server.js';

const SPEC_URL = new URL('../../spec/connect-openapi.yaml', import.meta.url);
const ROOT = 'https://opsync.test/connect-openapi.json';
const UUID_OR_CONNECT_ID = /^(?:[a-z0-9]{26}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/i;
const OPENAPI_ONLY = new Set(['example', 'discriminator', 'xml', 'externalDocs']);

const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ?? addFormatsModule) as (a: Ajv2020) => void;

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
interface SpecResponse {
  $ref?: string;
  description?: string;
  content?: Record<string, { schema?: Json }>;
}
interface SpecOperation {
  operationId: string;
  responses: Record<string, SpecResponse>;
}
interface Spec {
  paths: Record<string, Record<string, SpecOperation>>;
  components: { schemas: Record<string, Json>; responses: Record<string, SpecResponse> };
}

/** Moves OpenAPI `#/components/schemas/X` refs to `ROOT#/$defs/X` and drops OpenAPI-only keywords. */
function toJsonSchema(node: Json): Json {
  if (Array.isArray(node)) return node.map(toJsonSchema);
  if (node === null || typeof node !== 'object') return node;
  const out: { [k: string]: Json } = {};
  for (const [k, v] of Object.entries(node)) {
    if (OPENAPI_ONLY.has(k) || k.startsWith('x-')) continue;
    if (k === '$ref' && typeof v === 'string') {
      const m = /^#\/components\/schemas\/(.+)$/.exec(v);
      if (!m) throw new Error(`unsupported $ref in the spec: ${v}`);
      out[k] = `${ROOT}#/$defs/${m[1]}`;
      continue;
    }
    out[k] = toJsonSchema(v);
  }
  return out;
}

function withRealConnectDepartures(schemas: Record<string, Json>): Record<string, Json> {
  const field = schemas.Field as { properties: { type: { enum: string[] }; purpose: { enum: string[] } } };
  field.properties.type.enum = [...field.properties.type.enum, 'OTP'];
  field.properties.purpose.enum = [...field.properties.purpose.enum, ''];
  return schemas;
}

interface Documented {
  operationId: string;
  method: string;
  path: string;
  statuses: Map<string, { mediaType?: string; validate?: ValidateFunction }>;
}

function loadSpec(): { ops: Map<string, Documented>; errorSchema: ValidateFunction } {
  const spec = parse(readFileSync(SPEC_URL, 'utf8')) as Spec;
  const ajv = new Ajv2020({ allErrors: true, strict: true, strictTypes: false });
  addFormats(ajv);
  ajv.addFormat('uuid', UUID_OR_CONNECT_ID);
  const defs = withRealConnectDepartures(
    Object.fromEntries(Object.entries(spec.components.schemas).map(([k, v]) => [k, toJsonSchema(v)])),
  );
  ajv.addSchema({ $id: ROOT, $defs: defs });

  const ops = new Map<string, Documented>();
  for (const [path, methods] of Object.entries(spec.paths)) {
    for (const [method, op] of Object.entries(methods)) {
      const statuses = new Map<string, { mediaType?: string; validate?: ValidateFunction }>();
      for (const [status, raw] of Object.entries(op.responses)) {
        let resp = raw;
        if (resp.$ref) {
          const name = /^#\/components\/responses\/(.+)$/.exec(resp.$ref)?.[1];
          if (!name || !spec.components.responses[name]) throw new Error(`unresolvable response $ref ${resp.$ref}`);
          resp = spec.components.responses[name];
        }
        const [mediaType, media] = Object.entries(resp.content ?? {})[0] ?? [];
        const schema = media?.schema;
        statuses.set(status, {
          mediaType,
          validate: schema !== undefined && mediaType === 'application/json' ? ajv.compile(toJsonSchema(schema) as object) : undefined,
        });
      }
      ops.set(op.operationId, { operationId: op.operationId, method: method.toUpperCase(), path, statuses });
    }
  }
  const errorSchema = ajv.compile({ $ref: `${ROOT}#/$defs/Error` });
  return { ops, errorSchema };
}

interface Exchange {
  label: string;
  operationId?: string;
  method: string;
  path: string;
  status: number;
  contentType: string;
  contentLength: string | null;
  raw: Buffer;
  body: unknown;
}

const { ops: OPERATIONS, errorSchema: ERROR_SCHEMA } = loadSpec();
const exercised = new Map<string, Set<string>>();

function describeErrors(errors: ErrorObject[] | null | undefined): string[] {
  return (errors ?? []).map((e) => `${e.instancePath || '(body)'} ${e.message ?? e.keyword} [${e.keyword} at ${e.schemaPath}]`);
}

/** Violations of the spec by one exchange; empty when it conforms. */
function violations(ex: Exchange): string[] {
  const out: string[] = [];
  const doc = ex.operationId ? OPERATIONS.get(ex.operationId) : undefined;
  if (ex.operationId && !doc) return [`unknown operationId ${ex.operationId}`];
  const documented = doc?.statuses.get(String(ex.status)) ?? doc?.statuses.get('default');
  const isError = ex.status >= 400;

  if (doc && !documented && !isError) out.push(`status ${ex.status} is not documented for ${doc.operationId}`);
  const mediaType = documented?.mediaType ?? (isError ? 'application/json' : undefined);
  if (ex.status === 204) {
    if (ex.raw.length !== 0) out.push('a 204 response has a body');
    return out;
  }
  if (mediaType && !ex.contentType.toLowerCase().startsWith(mediaType)) {
    out.push(`Content-Type is "${ex.contentType}", the spec says ${mediaType}`);
  }
  if (mediaType === 'application/json') {
    if (ex.body === undefined) return [...out, 'the body is not JSON'];
    const validate = documented?.validate ?? ERROR_SCHEMA;
    if (!validate(ex.body)) out.push(...describeErrors(validate.errors));
    if (isError) {
      const b = ex.body as { status?: unknown; message?: unknown };
      if (b.status !== ex.status) out.push(`error body status ${JSON.stringify(b.status)} differs from the HTTP status ${ex.status}`);
      if (typeof b.message !== 'string' || b.message === '') out.push('error body has no message');
    }
  }
  if (mediaType === 'application/octet-stream' && ex.contentLength !== String(ex.raw.length)) {
    out.push(`Content-Length is ${ex.contentLength}, the body has ${ex.raw.length} bytes`);
  }
  if (mediaType === 'text/plain' && typeof ex.body !== 'string') out.push('the body is not text');
  return out;
}

function expectConforms(...exchanges: Exchange[]): void {
  const report = exchanges
    .map((ex) => ({ ex, v: violations(ex) }))
    .filter((r) => r.v.length > 0)
    .map(({ ex, v }) => `${ex.label}: ${ex.method} ${ex.path} -> ${ex.status}${ex.operationId ? ` (${ex.operationId})` : ''}\n    ${v.join('\n    ')}`);
  expect(report, `responses that violate spec/connect-openapi.yaml:\n${report.join('\n')}`).toEqual([]);
}

let srv: TestServer;
let dir: string;
let eng: string;
let ops: string;
let certItem: string;
let certFiles: { id: string; name: string }[];
let readOnlyOps: string; // token: read-only on Operations
let otherVaultOnly: string; // token: Operations only (no Engineering)

const SEED = `
vaults:
  - name: Engineering
    description: Team secrets
    items:
      - title: Web certificate
        category: SECURE_NOTE
        tags: [tls]
        urls: [{ href: "https://web.example.com", primary: true }]
        sections: [{ id: certs, label: Certificates }]
        fields:
          - { id: notesPlain, type: STRING, purpose: NOTES, label: notes, value: rotate yearly }
          - { id: otp, type: OTP, label: one-time password, value: "otpauth://totp/x?secret=JBSWY3DPEHPK3PXP" }
        files:
          - { name: cert.pem, content: "-----BEGIN CERTIFICATE-----\\n", section: certs }
          - { name: blob.bin, contentBase64: AAEC+vv8/f7/ }
  - name: Operations
`;

async function call(
  label: string,
  operationId: string | undefined,
  method: string,
  path: string,
  opts: { body?: unknown; token?: string | null; headers?: Record<string, string> } = {},
): Promise<Exchange> {
  const token = opts.token === undefined ? srv.token : opts.token;
  const res = await fetch(`${srv.url}${path}`, {
    method,
    headers: {
      ...(token ? { Authorization: `Bearer ${token}` } : {}),
      ...(opts.body !== undefined ? { 'Content-Type': 'application/json' } : {}),
      ...opts.headers,
    },
    body: opts.body === undefined ? undefined : typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body),
  });
  const raw = Buffer.from(await res.arrayBuffer());
  const contentType = res.headers.get('content-type') ?? '';
  let body: unknown;
  if (contentType.includes('json')) {
    try {
      body = JSON.parse(raw.toString('utf8'));
    } catch {
      body = undefined;
    }
  } else if (contentType.startsWith('text/')) body = raw.toString('utf8');
  if (operationId) {
    if (!exercised.has(operationId)) exercised.set(operationId, new Set());
    exercised.get(operationId)!.add(String(res.status));
  }
  const contentLength = res.headers.get('content-length');
  return { label, operationId, method, path, status: res.status, contentType, contentLength, raw, body };
}

const NO_SUCH = 'zzzzzzzzzzzzzzzzzzzzzzzzzz';
const BAD_TOKEN = 'eyJhbGciOiJIUzI1NiJ9.e30.not-a-signature';

function newItem(title: string) {
  return {
    title,
    category: 'LOGIN',
    tags: ['conformance'],
    urls: [{ href: 'https://login.example.com', primary: true }],
    sections: [{ id: 'extra', label: 'Extra' }],
    fields: [
      { id: 'username', type: 'STRING', purpose: 'USERNAME', label: 'username', value: 'alice' },
      { id: 'password', type: 'CONCEALED', purpose: 'PASSWORD', label: 'password', generate: true, recipe: { length: 24 } },
      { type: 'STRING', label: 'host', value: 'db.local', section: { id: 'extra' } },
      { type: 'OTP', label: 'otp', value: 'JBSWY3DPEHPK3PXP' },
    ],
  };
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'opsync-conformance-'));
  const seed = join(dir, 'seed.yaml');
  writeFileSync(seed, SEED);
  srv = await startTestServer({ seedFiles: [seed], maxBodyBytes: 64 * 1024 });
  const vaults = (await (await fetch(`${srv.url}/v1/vaults`, { headers: { Authorization: `Bearer ${srv.token}` } })).json()) as {
    id: string;
    name: string;
  }[];
  eng = vaults.find((v) => v.name === 'Engineering')!.id;
  ops = vaults.find((v) => v.name === 'Operations')!.id;
  const items = (await (
    await fetch(`${srv.url}/v1/vaults/${eng}/items`, { headers: { Authorization: `Bearer ${srv.token}` } })
  ).json()) as { id: string; title: string }[];
  certItem = items.find((i) => i.title === 'Web certificate')!.id;
  certFiles = (await (
    await fetch(`${srv.url}/v1/vaults/${eng}/items/${certItem}/files`, { headers: { Authorization: `Bearer ${srv.token}` } })
  ).json()) as { id: string; name: string }[];
  readOnlyOps = srv.server.createToken({ name: 'ro', vaults: [{ vault: 'Operations', read: true, write: false }] });
  otherVaultOnly = srv.server.createToken({ name: 'ops-only', vaults: [{ vault: 'Operations', read: true, write: true }] });
});

afterAll(async () => {
  await srv?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('vaults', () => {
  it('listVaults', async () => {
    const all = await call('all vaults', 'listVaults', 'GET', '/v1/vaults');
    const named = await call('filtered by name', 'listVaults', 'GET', `/v1/vaults?filter=${encodeURIComponent('name eq "Operations"')}`);
    const scoped = await call('scoped token', 'listVaults', 'GET', '/v1/vaults', { token: otherVaultOnly });
    const badFilter = await call('malformed filter', 'listVaults', 'GET', `/v1/vaults?filter=${encodeURIComponent('name eq')}`);
    const noToken = await call('no token', 'listVaults', 'GET', '/v1/vaults', { token: null });
    const badToken = await call('invalid token', 'listVaults', 'GET', '/v1/vaults', { token: BAD_TOKEN });
    expect([all.status, named.status, scoped.status, badFilter.status, noToken.status, badToken.status]).toEqual([200, 200, 200, 400, 401, 401]);
    expect((named.body as unknown[]).length).toBe(1);
    expectConforms(all, named, scoped, badFilter, noToken, badToken);
  });

  it('getVaultById', async () => {
    const ok = await call('existing vault', 'getVaultById', 'GET', `/v1/vaults/${eng}`);
    const missing = await call('unknown vault', 'getVaultById', 'GET', `/v1/vaults/${NO_SUCH}`);
    const invalid = await call('malformed vault id', 'getVaultById', 'GET', '/v1/vaults/not-an-id');
    const denied = await call('vault outside the token', 'getVaultById', 'GET', `/v1/vaults/${eng}`, { token: otherVaultOnly });
    const noToken = await call('no token', 'getVaultById', 'GET', `/v1/vaults/${eng}`, { token: null });
    expect([ok.status, missing.status, invalid.status, denied.status, noToken.status]).toEqual([200, 404, 400, 403, 401]);
    expectConforms(ok, missing, invalid, denied, noToken);
  });
});

describe('items', () => {
  it('listItems', async () => {
    const all = await call('all items', 'listItems', 'GET', `/v1/vaults/${eng}/items`);
    const filtered = await call('title/tag filter', 'listItems', 'GET', `/v1/vaults/${eng}/items?filter=${encodeURIComponent('(title sw "Web" or tag eq "x") and title co "cert"')}`);
    const empty = await call('empty vault', 'listItems', 'GET', `/v1/vaults/${ops}/items`);
    const badFilter = await call('malformed filter', 'listItems', 'GET', `/v1/vaults/${eng}/items?filter=${encodeURIComponent('title eq "x" )')}`);
    const missing = await call('unknown vault', 'listItems', 'GET', `/v1/vaults/${NO_SUCH}/items`);
    const noToken = await call('no token', 'listItems', 'GET', `/v1/vaults/${eng}/items`, { token: null });
    expect([all.status, filtered.status, empty.status, badFilter.status, missing.status, noToken.status]).toEqual([200, 200, 200, 400, 404, 401]);
    expect((filtered.body as unknown[]).length).toBe(1);
    expectConforms(all, filtered, empty, badFilter, missing, noToken);
  });

  it('createItem', async () => {
    const ok = await call('full item with generated value and TOTP', 'createItem', 'POST', `/v1/vaults/${eng}/items`, { body: newItem('Created') });
    const minimal = await call('minimal item', 'createItem', 'POST', `/v1/vaults/${eng}/items`, { body: { title: 'Minimal', category: 'SECURE_NOTE' } });
    const noCategory = await call('missing category', 'createItem', 'POST', `/v1/vaults/${eng}/items`, { body: { title: 'x' } });
    const badEnum = await call('unknown category', 'createItem', 'POST', `/v1/vaults/${eng}/items`, { body: { title: 'x', category: 'CAR' } });
    const badJson = await call('invalid JSON', 'createItem', 'POST', `/v1/vaults/${eng}/items`, { body: '{"title": ' });
    const badRecipe = await call('impossible recipe', 'createItem', 'POST', `/v1/vaults/${eng}/items`, {
      body: { title: 'x', category: 'LOGIN', fields: [{ generate: true, recipe: { length: 2 } }] },
    });
    const tooBig = await call('body over the limit', 'createItem', 'POST', `/v1/vaults/${eng}/items`, {
      body: { title: 'x', category: 'SECURE_NOTE', fields: [{ value: 'a'.repeat(70 * 1024) }] },
    });
    const readOnly = await call('read-only grant', 'createItem', 'POST', `/v1/vaults/${ops}/items`, { body: newItem('x'), token: readOnlyOps });
    const missing = await call('unknown vault', 'createItem', 'POST', `/v1/vaults/${NO_SUCH}/items`, { body: newItem('x') });
    const noToken = await call('no token', 'createItem', 'POST', `/v1/vaults/${eng}/items`, { body: newItem('x'), token: null });
    expect([ok.status, minimal.status, noCategory.status, badEnum.status, badJson.status, badRecipe.status]).toEqual([200, 200, 400, 400, 400, 400]);
    expect([tooBig.status, readOnly.status, missing.status, noToken.status]).toEqual([413, 401, 404, 401]);
    expectConforms(ok, minimal, noCategory, badEnum, badJson, badRecipe, tooBig, readOnly, missing, noToken);
  });

  it('getItemById', async () => {
    const withFiles = await call('item with files and TOTP', 'getItemById', 'GET', `/v1/vaults/${eng}/items/${certItem}`);
    const missing = await call('unknown item', 'getItemById', 'GET', `/v1/vaults/${eng}/items/${NO_SUCH}`);
    const invalid = await call('malformed item id', 'getItemById', 'GET', `/v1/vaults/${eng}/items/NOT_AN_ID`);
    const noToken = await call('no token', 'getItemById', 'GET', `/v1/vaults/${eng}/items/${certItem}`, { token: null });
    expect([withFiles.status, missing.status, invalid.status, noToken.status]).toEqual([200, 404, 400, 401]);
    const body = withFiles.body as { files?: unknown[]; fields?: { id: string; totp?: string }[] };
    expect(body.files).toHaveLength(2);
    expect(body.fields!.find((f) => f.id === 'otp')!.totp).toMatch(/^[0-9]{6}$/);
    expectConforms(withFiles, missing, invalid, noToken);
  });

  it('replaceItem', async () => {
    const created = (await call('setup', undefined, 'POST', `/v1/vaults/${eng}/items`, { body: newItem('To replace') })).body as { id: string };
    const path = `/v1/vaults/${eng}/items/${created.id}`;
    const ok = await call('replace', 'replaceItem', 'PUT', path, { body: { ...newItem('Replaced'), id: created.id } });
    const mismatch = await call('id in body differs', 'replaceItem', 'PUT', path, { body: { ...newItem('x'), id: NO_SUCH } });
    const badBody = await call('invalid body', 'replaceItem', 'PUT', path, { body: { title: 5, category: 'LOGIN' } });
    const missing = await call('unknown item', 'replaceItem', 'PUT', `/v1/vaults/${eng}/items/${NO_SUCH}`, { body: newItem('x') });
    const noToken = await call('no token', 'replaceItem', 'PUT', path, { body: newItem('x'), token: null });
    expect([ok.status, mismatch.status, badBody.status, missing.status, noToken.status]).toEqual([200, 400, 400, 404, 401]);
    expectConforms(ok, mismatch, badBody, missing, noToken);
  });

  it('patchItem', async () => {
    const created = (await call('setup', undefined, 'POST', `/v1/vaults/${eng}/items`, { body: newItem('To patch') })).body as { id: string };
    const path = `/v1/vaults/${eng}/items/${created.id}`;
    const ok = await call('patch by field id', 'patchItem', 'PATCH', path, {
      body: [
        { op: 'replace', path: '/title', value: 'Patched' },
        { op: 'replace', path: '/fields/username/value', value: 'bob' },
        { op: 'add', path: '/tags/-', value: 'patched' },
        { op: 'replace', path: '/favorite', value: true },
      ],
    });
    const serverOwned = await call('server-owned path', 'patchItem', 'PATCH', path, { body: [{ op: 'replace', path: '/version', value: 9 }] });
    const noField = await call('unknown field id', 'patchItem', 'PATCH', path, { body: [{ op: 'remove', path: '/fields/nope' }] });
    const badOp = await call('move op', 'patchItem', 'PATCH', path, { body: [{ op: 'move', from: '/title', path: '/tags/0' }] });
    const notArray = await call('not an array', 'patchItem', 'PATCH', path, { body: { op: 'add' } });
    const missing = await call('unknown item', 'patchItem', 'PATCH', `/v1/vaults/${eng}/items/${NO_SUCH}`, { body: [] });
    const noToken = await call('no token', 'patchItem', 'PATCH', path, { body: [], token: null });
    expect([ok.status, serverOwned.status, noField.status, badOp.status, notArray.status, missing.status, noToken.status]).toEqual([
      200, 400, 400, 400, 400, 404, 401,
    ]);
    expectConforms(ok, serverOwned, noField, badOp, notArray, missing, noToken);
  });

  it('deleteItem', async () => {
    const created = (await call('setup', undefined, 'POST', `/v1/vaults/${ops}/items`, { body: newItem('To delete') })).body as { id: string };
    const path = `/v1/vaults/${ops}/items/${created.id}`;
    const readOnly = await call('read-only grant', 'deleteItem', 'DELETE', path, { token: readOnlyOps });
    const noToken = await call('no token', 'deleteItem', 'DELETE', path, { token: null });
    const ok = await call('delete', 'deleteItem', 'DELETE', path);
    const again = await call('already deleted', 'deleteItem', 'DELETE', path);
    const gone = await call('get after delete', 'getItemById', 'GET', path);
    expect([readOnly.status, noToken.status, ok.status, again.status, gone.status]).toEqual([401, 401, 204, 404, 404]);
    expectConforms(readOnly, noToken, ok, again, gone);
  });
});

describe('files', () => {
  it('listFiles', async () => {
    const base = `/v1/vaults/${eng}/items/${certItem}/files`;
    const ok = await call('files', 'listFiles', 'GET', base);
    const inline = await call('inline_files=true', 'listFiles', 'GET', `${base}?inline_files=true`);
    const bare = (await call('setup', undefined, 'POST', `/v1/vaults/${eng}/items`, { body: { title: 'No files', category: 'SECURE_NOTE' } })).body as { id: string };
    const none = await call('item without files', 'listFiles', 'GET', `/v1/vaults/${eng}/items/${bare.id}/files`);
    const missing = await call('unknown item', 'listFiles', 'GET', `/v1/vaults/${eng}/items/${NO_SUCH}/files`);
    const noToken = await call('no token', 'listFiles', 'GET', base, { token: null });
    expect([ok.status, inline.status, none.status, missing.status, noToken.status]).toEqual([200, 200, 200, 404, 401]);
    expect((inline.body as { content?: string }[]).every((f) => typeof f.content === 'string')).toBe(true);
    expect(none.body).toEqual([]);
    expectConforms(ok, inline, none, missing, noToken);
  });

  it('getFileById', async () => {
    const base = `/v1/vaults/${eng}/items/${certItem}/files`;
    const ok = await call('file', 'getFileById', 'GET', `${base}/${certFiles[0].id}`);
    const inline = await call('inline_files=true', 'getFileById', 'GET', `${base}/${certFiles[1].id}?inline_files=true`);
    const missing = await call('unknown file', 'getFileById', 'GET', `${base}/${NO_SUCH}`);
    const noToken = await call('no token', 'getFileById', 'GET', `${base}/${certFiles[0].id}`, { token: null });
    expect([ok.status, inline.status, missing.status, noToken.status]).toEqual([200, 200, 404, 401]);
    expectConforms(ok, inline, missing, noToken);
  });

  it('getFileContent', async () => {
    const base = `/v1/vaults/${eng}/items/${certItem}/files`;
    const bin = certFiles.find((f) => f.name === 'blob.bin')!;
    const ok = await call('binary content', 'getFileContent', 'GET', `${base}/${bin.id}/content`);
    const missing = await call('unknown file', 'getFileContent', 'GET', `${base}/${NO_SUCH}/content`);
    const noToken = await call('no token', 'getFileContent', 'GET', `${base}/${bin.id}/content`, { token: null });
    expect([ok.status, missing.status, noToken.status]).toEqual([200, 404, 401]);
    expect(ok.raw.equals(Buffer.from('AAEC+vv8/f7/', 'base64'))).toBe(true);
    expectConforms(ok, missing, noToken);
  });
});

describe('activity, health, metrics', () => {
  it('listActivity', async () => {
    const ok = await call('default page', 'listActivity', 'GET', '/v1/activity');
    const page = await call('limit and offset', 'listActivity', 'GET', '/v1/activity?limit=3&offset=2');
    const badLimit = await call('malformed limit', 'listActivity', 'GET', '/v1/activity?limit=lots');
    const noToken = await call('no token', 'listActivity', 'GET', '/v1/activity', { token: null });
    expect([ok.status, page.status, badLimit.status, noToken.status]).toEqual([200, 200, 400, 401]);
    expect((page.body as unknown[]).length).toBe(3);
    expectConforms(ok, page, badLimit, noToken);
  });

  it('getHeartbeat', async () => {
    const ok = await call('heartbeat', 'getHeartbeat', 'GET', '/heartbeat', { token: null });
    expect(ok.status).toBe(200);
    expect(ok.body).toBe('.');
    expectConforms(ok);
  });

  it('getHealth', async () => {
    const ok = await call('health', 'getHealth', 'GET', '/health', { token: null });
    expect(ok.status).toBe(200);
    expectConforms(ok);
  });

  it('getMetrics', async () => {
    const ok = await call('metrics', 'getMetrics', 'GET', '/metrics', { token: null });
    expect(ok.status).toBe(200);
    expectConforms(ok);
  });
});

describe('answers outside the spec are still Connect errors', () => {
  it('unknown routes, wrong methods, bad content', async () => {
    const unknown = await call('unknown route', undefined, 'GET', '/v1/nothing-here');
    const unknownPublic = await call('unknown public route', undefined, 'GET', '/nothing-here', { token: null });
    const wrongMethod = await call('wrong method', undefined, 'DELETE', '/v1/vaults');
    const wrongMethodItem = await call('POST on an item', undefined, 'POST', `/v1/vaults/${eng}/items/${certItem}`, { body: {} });
    expect([unknown.status, unknownPublic.status, wrongMethod.status, wrongMethodItem.status]).toEqual([404, 404, 405, 405]);
    expectConforms(unknown, unknownPublic, wrongMethod, wrongMethodItem);
  });
});

describe('the checker', () => {
  const fake = (operationId: string, status: number, body: unknown): Exchange => ({
    label: 'fake',
    operationId,
    method: 'GET',
    path: '/fake',
    status,
    contentType: 'application/json',
    contentLength: null,
    raw: Buffer.from(JSON.stringify(body)),
    body,
  });

  it('rejects bodies that break the spec', () => {
    expect(violations(fake('getVaultById', 200, { id: 'Not-An-Id', name: 5, type: 'BAD', createdAt: 'yesterday' }))).toEqual([
      expect.stringContaining('/id must match format "uuid"'),
      expect.stringContaining('/name must be string'),
      expect.stringContaining('/type must be equal to one of the allowed values'),
      expect.stringContaining('/createdAt must match format "date-time"'),
    ]);
    expect(violations(fake('getItemById', 200, { fields: [{ type: 'PHONE' }], urls: [{ href: 'not a uri' }] }))).toHaveLength(2);
    expect(violations(fake('listVaults', 404, { status: 400, message: '' }))).toEqual([
      'error body status 400 differs from the HTTP status 404',
      'error body has no message',
    ]);
    expect(violations(fake('listVaults', 201, []))).toEqual(['status 201 is not documented for listVaults']);
  });

  it('accepts Connect ids, UUIDs, and the real-Connect departures', () => {
    expect(violations(fake('getVaultById', 200, { id: 'abcdefghijklmnopqrstuvwxyz' }))).toEqual([]);
    expect(violations(fake('listActivity', 200, [{ requestId: '3f2504e0-4f89-11d3-9a0c-0305e82c3301' }]))).toEqual([]);
    expect(violations(fake('getItemById', 200, { fields: [{ type: 'OTP', purpose: '', totp: '123456' }] }))).toEqual([]);
  });
});

describe('coverage', () => {
  it('exercised every operation of the spec with every status code it documents', () => {
    const missing: string[] = [];
    for (const op of OPERATIONS.values()) {
      for (const status of op.statuses.keys()) {
        if (status === 'default') continue;
        if (!exercised.get(op.operationId)?.has(status)) missing.push(`${op.operationId} ${op.method} ${op.path} -> ${status}`);
      }
    }
    expect(missing, `documented responses never exercised:\n${missing.join('\n')}`).toEqual([]);
  });
});
