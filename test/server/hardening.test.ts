// Hostile and careless input (issue 9, items 7, 8, 10 and 14), over HTTP against a real server: every case
// that used to be a 500, a denial of service, a leak or a mis-recorded request is now a 4xx naming the place,
// a bounded cost, a filtered answer or a client abort.
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../support/server.js';
import { MAX_OTP_FIELDS } from '../../src/server/totp.js';
import { client } from './helpers.js';

let srv: TestServer;
let call: ReturnType<typeof client>;
let vault: string;
let item: string;
const logs: string[] = [];
const SECRET = 'JBSWY3DPEHPK3PXP';

beforeAll(async () => {
  srv = await startTestServer({ log: (l) => logs.push(l) });
  call = client(srv.url, srv.token);
  vault = (await call('GET', '/v1/vaults')).body[0].id;
  item = (await call('POST', `/v1/vaults/${vault}/items`, { title: 'x', category: 'LOGIN', fields: [{ id: 'p', value: 'v' }], tags: ['a'] })).body.id;
});
afterAll(() => srv.close());

function expectError(r: { status: number; body: any }, status: number, message: RegExp) {
  expect(r.body).toEqual({ status, message: expect.stringMatching(message) });
  expect(r.status).toBe(status);
}

function nested(depth: number, leaf = '0'): string {
  return '['.repeat(depth) + leaf + ']'.repeat(depth);
}

describe('item 7: bad input is a 400 naming the place, never a 500', () => {
  it('patch paths through __proto__, constructor or prototype', async () => {
    const base = `/v1/vaults/${vault}/items/${item}`;
    for (const path of ['/fields/0/__proto__/polluted', '/fields/p/constructor/prototype/x', '/tags/__proto__', '/urls/prototype', '/__proto__']) {
      const r = await call('PATCH', base, [{ op: 'add', path, value: 'x' }]);
      expectError(r, 400, /^Invalid JSON Patch: operation 0 \(add .*\): /);
    }
    expectError(await call('PATCH', base, [{ op: 'add', path: '/fields/p/__proto__', value: { a: 1 } }]), 400, /path segment "__proto__" is not allowed/);
    expect(({} as any).polluted).toBeUndefined();
  });

  it('a patch the JSON Patch library cannot apply (a member of a string) is a 400 naming the operation', async () => {
    const r = await call('PATCH', `/v1/vaults/${vault}/items/${item}`, [{ op: 'add', path: '/title', value: 'y' }, { op: 'add', path: '/title/x', value: 'y' }]);
    expectError(r, 400, /^Invalid JSON Patch: operation 1 \(add "\/title\/x"\): /);
  });

  it('a filter nested 3,000 parentheses deep; 32 levels still work', async () => {
    const deep = `${'('.repeat(3000)}title eq "x"${')'.repeat(3000)}`;
    expectError(await call('GET', `/v1/vaults/${vault}/items?filter=${encodeURIComponent(deep)}`), 400, /invalid filter at column 33: parentheses nest deeper than 32 levels/);
    expectError(await call('GET', `/v1/vaults?filter=${encodeURIComponent(deep)}`), 400, /deeper than 32/);
    const ok = `${'('.repeat(32)}title eq "x"${')'.repeat(32)}`;
    const r = await call('GET', `/v1/vaults/${vault}/items?filter=${encodeURIComponent(ok)}`);
    expect(r.status).toBe(200);
    expect(r.body.map((i: any) => i.id)).toEqual([item]);
  });

  it('bodies nested deeper than 64 levels (a patch value nested 200,000 deep), on every body route', async () => {
    const patch = `[{"op":"add","path":"/tags/-","value":${nested(200_000)}}]`;
    expectError(await call('PATCH', `/v1/vaults/${vault}/items/${item}`, patch), 400, /nests arrays and objects deeper than 64 levels \(at line 1 column 101\)/);
    expectError(await call('PUT', `/v1/vaults/${vault}/items/${item}`, `{"title":"x","category":"LOGIN","x":${nested(100_000)}}`), 400, /deeper than 64/);
    expectError(await call('POST', `/v1/vaults/${vault}/items`, `{"a":${'{"a":'.repeat(100_000)}1${'}'.repeat(100_001)}`), 400, /deeper than 64/);
    // Brackets inside strings are text, not nesting.
    const r = await call('POST', `/v1/vaults/${vault}/items`, { title: '['.repeat(500) + '\\"{', category: 'LOGIN' });
    expect(r.status).toBe(200);
    // 64 levels are accepted by the parser (the schema then says what is wrong with them).
    const at64 = await call('PATCH', `/v1/vaults/${vault}/items/${item}`, `[{"op":"add","path":"/tags/-","value":${nested(62)}}]`);
    expectError(at64, 400, /tags\[1\] must be a string/);
  });

  it('/v1/activity offset and limit: above 2^63, above 2^53 - 1, not integers', async () => {
    for (const q of ['offset=9223372036854775809', 'offset=99999999999999999999999', 'offset=9007199254740992', 'offset=1e3', 'offset=-1', 'offset=0x10', 'offset=1.5', 'offset= 1', 'limit=18446744073709551616']) {
      const r = await call('GET', `/v1/activity?${q}`);
      expectError(r, 400, /^Query parameter (offset|limit) must be a non-negative integer no larger than 9007199254740991$/);
    }
    const far = await call('GET', '/v1/activity?offset=9007199254740991');
    expect(far.status).toBe(200);
    expect(far.body).toEqual([]);
  });
});

describe('item 8: bounded work per request', () => {
  it('a patch of more than 1,000 operations is refused; 1,000 are applied', async () => {
    const created = (await call('POST', `/v1/vaults/${vault}/items`, { title: 'many', category: 'LOGIN', tags: ['t'] })).body;
    const ops = (n: number) => Array.from({ length: n }, (_, i) => ({ op: 'add', path: '/tags/-', value: `t${i}` }));
    expectError(await call('PATCH', `/v1/vaults/${vault}/items/${created.id}`, ops(1001)), 400, /^Invalid JSON Patch: a patch may have at most 1000 operations; this one has 1001$/);
    const r = await call('PATCH', `/v1/vaults/${vault}/items/${created.id}`, [{ op: 'remove', path: '/tags/0' }, ...ops(999)]);
    expect(r.status).toBe(200);
    expect(r.body.tags).toHaveLength(999);
  });

  it('an item holds at most 1,000 fields, sections, URLs and tags, whether created, replaced or patched', async () => {
    const many = (n: number) => Array.from({ length: n }, (_, i) => ({ id: `f${i}` }));
    const post = await call('POST', `/v1/vaults/${vault}/items`, { title: 'wide', category: 'LOGIN', fields: many(1001) });
    expectError(post, 400, /^Invalid item: \/fields may hold at most 1000 elements; this one has 1001$/);
    const empties = (n: number) => `{"title":"e","category":"LOGIN","sections":[${Array.from({ length: n }, () => '{}').join(',')}]}`;
    expectError(await call('POST', `/v1/vaults/${vault}/items`, empties(40_000)), 400, /\/sections may hold at most 1000 elements; this one has 40000/);
    // A body of hundreds of thousands of tiny objects is refused before it is parsed.
    expectError(await call('POST', `/v1/vaults/${vault}/items`, empties(300_000)), 400, /^Request body holds more than 50000 arrays and objects \(at line 1 column 1\d+\)$/);
    // A LOGIN's own username, password and notesPlain, which real Connect adds (docs/connect-fidelity.md row 11),
    // count towards the 1,000: 997 sent make a full item.
    expectError(await call('POST', `/v1/vaults/${vault}/items`, { title: 'wide', category: 'LOGIN', fields: many(1000) }), 400, /\/fields may hold at most 1000 elements; with the LOGIN template's built-in fields this one has 1003$/);
    const ok = await call('POST', `/v1/vaults/${vault}/items`, { title: 'wide', category: 'LOGIN', fields: many(997), tags: ['t'] });
    expect(ok.status).toBe(200);
    expectError(await call('PUT', `/v1/vaults/${vault}/items/${ok.body.id}`, { title: 'w', category: 'LOGIN', urls: Array.from({ length: 1001 }, () => ({ href: 'x' })) }), 400, /\/urls may hold at most 1000/);
    const grow = await call('PATCH', `/v1/vaults/${vault}/items/${ok.body.id}`, [{ op: 'add', path: '/fields/-', value: { id: 'one-more' } }]);
    expectError(grow, 400, /^Invalid JSON Patch: operation 0 \(add "\/fields\/-"\): \/fields may hold at most 1000 elements$/);
    const swap = await call('PATCH', `/v1/vaults/${vault}/items/${ok.body.id}`, [{ op: 'remove', path: '/fields/f0' }, { op: 'add', path: '/fields/-', value: { id: 'new' } }]);
    expect(swap.status).toBe(200);
    const list = await call('GET', `/v1/vaults/${vault}/items?filter=${encodeURIComponent('title eq "wide"')}`);
    expect(list.body).toEqual([expect.objectContaining({ id: ok.body.id, title: 'wide', version: 2, tags: ['t'] })]);
    expect(list.body[0].fields).toBeUndefined();
  });

  it('a patch checks the item once, at the end: an invalid middle state fixed later is fine, all or nothing otherwise', async () => {
    const base = `/v1/vaults/${vault}/items/${item}`;
    const before = (await call('GET', base)).body;
    const fixed = await call('PATCH', base, [
      { op: 'replace', path: '/title', value: 5 },
      { op: 'replace', path: '/title', value: 'fine' },
    ]);
    expect(fixed.body.message).toBeUndefined();
    expect(fixed.status).toBe(200);
    expect(fixed.body.title).toBe('fine');
    const bad = await call('PATCH', base, [
      { op: 'replace', path: '/title', value: 'changed' },
      { op: 'add', path: '/tags/-', value: 7 },
      { op: 'add', path: '/tags/-', value: 'ok' },
    ]);
    // Named: the last operation on the property found wrong, and the place.
    expectError(bad, 400, /^Invalid JSON Patch: operation 2 \(add "\/tags\/-"\): the patched item would be invalid: tags\[1\] must be a string$/);
    const after = (await call('GET', base)).body;
    expect(after.title).toBe('fine');
    expect(after.tags).toEqual(before.tags);
    // Fields added without an id still get one that later operations of the same patch can address.
    // (The LOGIN's own username, password and notesPlain follow `p`, as real Connect adds them: the new field is after them.)
    const at = before.fields.length;
    const two = await call('PATCH', base, [
      { op: 'add', path: '/fields/-', value: { label: 'new' } },
      { op: 'add', path: `/fields/${at}/value`, value: 'set' },
    ]);
    expect(two.status).toBe(200);
    expect(two.body.fields[at]).toMatchObject({ id: expect.stringMatching(/^[a-z0-9]{26}$/), label: 'new', value: 'set' });
  });

  it('OTP digits must be 6-10 and periods 1-3600 s, on create, replace and patch; the message never quotes the value', async () => {
    const otp = (q: string) => `otpauth://totp/acme:me?secret=${SECRET}&${q}`;
    const body = (q: string) => ({ title: 'otp', category: 'LOGIN', fields: [{ id: 'one', type: 'OTP', value: otp(q) }] });
    for (const q of ['digits=200000000', 'digits=5', 'digits=11', 'digits=100000000000000000000']) {
      const r = await call('POST', `/v1/vaults/${vault}/items`, body(q));
      expectError(r, 400, /^Invalid item: \/fields\/0\/value: the otpauth URI's digits must be 6 to 10$/);
      expect(r.body.message).not.toContain(SECRET);
    }
    for (const q of ['period=3601', 'period=99999999999999999999']) {
      expectError(await call('POST', `/v1/vaults/${vault}/items`, body(q)), 400, /^Invalid item: \/fields\/0\/value: the otpauth URI's period must be 1 to 3600 seconds$/);
    }
    const ok = await call('POST', `/v1/vaults/${vault}/items`, body('digits=10&period=3600'));
    expect(ok.status).toBe(200);
    expect(ok.body.fields[0].totp).toMatch(/^\d{10}$/);
    const id = ok.body.id;
    expectError(await call('PUT', `/v1/vaults/${vault}/items/${id}`, body('digits=12')), 400, /digits must be 6 to 10/);
    expectError(
      await call('PATCH', `/v1/vaults/${vault}/items/${id}`, [{ op: 'replace', path: '/fields/one/value', value: otp('digits=99') }]),
      400,
      /^Invalid item: \/fields\/0\/value: the otpauth URI's digits must be 6 to 10$/,
    );
    // A STRING field may hold any text: only OTP fields are read for codes.
    expect((await call('POST', `/v1/vaults/${vault}/items`, { title: 's', category: 'LOGIN', fields: [{ value: otp('digits=99') }] })).status).toBe(200);
  });
});

describe('item 8: at most MAX_OTP_FIELDS OTP fields per item', () => {
  it(`an item of ${MAX_OTP_FIELDS} OTP fields is answered with every code; one more is 400 on create, replace and patch`, async () => {
    const otps = (n: number) => Array.from({ length: n }, (_, i) => ({ id: `o${i}`, type: 'OTP', value: SECRET }));
    const items = `/v1/vaults/${vault}/items`;
    const ok = await call('POST', items, { title: 'otps', category: 'LOGIN', fields: [{ id: 'p', value: 'v' }, ...otps(MAX_OTP_FIELDS)] });
    expect(ok.status).toBe(200);
    expect(ok.body.fields.filter((f: { totp?: string }) => /^\d{6}$/.test(f.totp ?? ''))).toHaveLength(MAX_OTP_FIELDS);
    const tooMany = new RegExp(`^Invalid item: /fields/${MAX_OTP_FIELDS + 1}: an item may hold at most ${MAX_OTP_FIELDS} OTP fields$`);
    expectError(await call('POST', items, { title: 'otps', category: 'LOGIN', fields: [{ id: 'p', value: 'v' }, ...otps(MAX_OTP_FIELDS + 1)] }), 400, tooMany);
    expectError(await call('PUT', `${items}/${ok.body.id}`, { title: 'otps', category: 'LOGIN', fields: [{ id: 'p', value: 'v' }, ...otps(MAX_OTP_FIELDS + 1)] }), 400, tooMany);
    const patched = await call('PATCH', `${items}/${ok.body.id}`, [{ op: 'add', path: '/fields/-', value: { id: 'extra', type: 'OTP', value: SECRET } }]);
    expectError(patched, 400, /^Invalid item: \/fields\/\d+: an item may hold at most \d+ OTP fields$/);
    // OTP fields without a value count too: the type is what makes a field's value read for a code.
    expectError(await call('POST', items, { title: 'otps', category: 'LOGIN', fields: otps(MAX_OTP_FIELDS + 1).map(({ value: _v, ...f }) => f) }), 400, /at most \d+ OTP fields/);
  });
});

describe('item 10: activity shows a token only its vaults and its own requests', () => {
  it('a scoped token never sees another vault, or another token\'s requests without a vault; a full token sees all', async () => {
    const other = (await call('GET', '/v1/vaults')).body.length;
    expect(other).toBe(1);
    // A second vault, through a seed-free path: a fresh server with two vaults.
    const { writeFileSync, mkdtempSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const dir = mkdtempSync(join(tmpdir(), 'opsync-activity-'));
    writeFileSync(join(dir, 'seed.yaml'), 'vaults:\n  - name: mine\n    items: [{ title: a, category: LOGIN }]\n  - name: theirs\n    items: [{ title: b, category: LOGIN }]\n');
    const s = await startTestServer({ seedFiles: [join(dir, 'seed.yaml')] });
    try {
      const admin = client(s.url, s.token);
      const vaults = (await admin('GET', '/v1/vaults')).body;
      const mine = vaults.find((v: any) => v.name === 'mine').id;
      const theirs = vaults.find((v: any) => v.name === 'theirs').id;
      const theirItem = (await admin('GET', `/v1/vaults/${theirs}/items`)).body[0].id;
      const myItem = (await admin('GET', `/v1/vaults/${mine}/items`)).body[0].id;
      await admin('GET', `/v1/vaults/${theirs}/items/${theirItem}`, undefined, { 'User-Agent': 'admin-theirs' });
      await admin('GET', `/v1/vaults/${mine}/items/${myItem}`, undefined, { 'User-Agent': 'admin-mine' });
      await client(s.url)('GET', '/v1/vaults', undefined, { 'User-Agent': 'anonymous' });
      const scopedToken = s.server.createToken({ vaults: [{ vault: 'mine', read: true, write: false }] });
      const scoped = client(s.url, scopedToken);
      await scoped('GET', '/v1/vaults', undefined, { 'User-Agent': 'scoped-list' });
      await scoped('GET', `/v1/vaults/${theirs}/items`, undefined, { 'User-Agent': 'scoped-denied' });

      const seen = (await scoped('GET', '/v1/activity?limit=1000')).body as any[];
      const agents = seen.map((e) => e.actor.userAgent);
      expect(agents).toContain('admin-mine'); // activity on its vault, whoever made it
      expect(agents).toContain('scoped-list'); // its own request without a vault
      expect(agents).toContain('scoped-denied'); // its own request, refused, on another vault: nothing it did not send
      expect(agents).not.toContain('admin-theirs');
      expect(agents).not.toContain('anonymous');
      for (const e of seen) {
        if (e.actor.userAgent === 'scoped-denied') {
          expect(e.result).toBe('DENY');
          expect(e.resource.itemVersion).toBeUndefined();
          continue;
        }
        if (e.resource.vault) expect(e.resource.vault.id).toBe(mine);
        else expect(e.actor.id).toBe(seen.find((x) => x.actor.userAgent === 'scoped-list').actor.id);
      }
      expect(JSON.stringify(seen)).not.toContain(theirItem);
      // Paging applies to what the token sees.
      const page = (await scoped('GET', '/v1/activity?limit=2&offset=1')).body;
      // Reading the activity log is not itself an entry (real Connect logs ITEM and VAULT requests only).
      expect(page).toEqual((await scoped('GET', '/v1/activity?limit=1000')).body.slice(1, 3));

      const all = ((await admin('GET', '/v1/activity?limit=1000')).body as any[]).map((e) => e.actor.userAgent);
      for (const a of ['admin-theirs', 'admin-mine', 'anonymous', 'scoped-list', 'scoped-denied']) expect(all).toContain(a);
    } finally {
      await s.close();
    }
  });
});

describe('item 14: a client that disconnects mid-body', () => {
  it('is a client abort (499, DENY), not an internal error with a trace, and changes nothing', async () => {
    const before = (await call('GET', `/v1/vaults/${vault}/items/${item}`)).body.version;
    const body = JSON.stringify([{ op: 'replace', path: '/title', value: 'never' }]);
    logs.length = 0;
    await new Promise<void>((resolve, reject) => {
      const u = new URL(srv.url);
      const sock = connect(Number(u.port), u.hostname, () => {
        sock.write(
          `PATCH /v1/vaults/${vault}/items/${item} HTTP/1.1\r\nHost: x\r\nUser-Agent: abort-test\r\nAuthorization: Bearer ${srv.token}\r\n` +
            `Content-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body.slice(0, 20)}`,
        );
        setTimeout(() => {
          sock.destroy();
          resolve();
        }, 100);
      });
      sock.on('error', reject);
    });
    const deadline = Date.now() + 5000;
    while (!logs.some((l) => l.startsWith('PATCH ')) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(logs.filter((l) => l.startsWith('PATCH '))).toEqual([expect.stringMatching(new RegExp(`^PATCH /v1/vaults/${vault}/items/${item} 499 `))]);
    expect(logs.join('\n')).not.toMatch(/internal error|at .*\.ts:\d+/);
    const metrics = (await call('GET', '/metrics')).text;
    expect(metrics).toMatch(/opsync_http_requests_total\{method="PATCH",route="\/v1\/vaults\/:vault\/items\/:item",status="499"\} 1/);
    const entry = ((await call('GET', '/v1/activity?limit=1000')).body as any[]).find((e) => e.actor.userAgent === 'abort-test');
    expect(entry).toMatchObject({ action: 'UPDATE', result: 'DENY', resource: { type: 'ITEM', vault: { id: vault }, item: { id: item } } });
    expect(entry.resource.itemVersion).toBeUndefined();
    expect((await call('GET', `/v1/vaults/${vault}/items/${item}`)).body.version).toBe(before);
  });
});
