// Item bodies as real 1Password Connect reads and answers them (docs/connect-fidelity.md rows 1-20): field
// types, category templates and purpose fields, nulls and the Go SDK's zero values, DATE and MONTH_YEAR.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RESPONSE_FIELD_TYPES as SCRIPT_TYPES } from '../../scripts/connect-schema.mjs';
import { RESPONSE_FIELD_TYPES } from '../../src/server/fieldtypes.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { client, ID } from './helpers.js';

const TOTP_URI = 'otpauth://totp/Example:alice?secret=JBSWY3DPEHPK3PXP&issuer=Example';
const SEED = `
vaults:
  - name: Apps
    items:
      - title: Made in the app
        category: SSH_KEY
        fields:
          - { id: private_key, type: SSHKEY, label: private key, value: "-----BEGIN OPENSSH PRIVATE KEY-----" }
          - { id: phone, type: PHONE, label: phone, value: "+1 555 0100" }
          - { id: addr, type: ADDRESS, label: address }
          - { id: ref, type: REFERENCE, label: linked }
          - { id: ccn, type: CREDIT_CARD_NUMBER, label: number }
          - { id: cct, type: CREDIT_CARD_TYPE, label: kind }
          - { id: gender, type: GENDER, label: gender }
          - { id: file, type: FILE, label: file }
          - { id: unknown, type: UNKNOWN, label: other }
      - title: A custom item
        category: CUSTOM
      - title: A document
        category: DOCUMENT
`;

let srv: TestServer;
let call: ReturnType<typeof client>;
let vault: string;
let apps: string;
let dir: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'opsync-fidelity-'));
  writeFileSync(join(dir, 'seed.yaml'), SEED);
  writeFileSync(join(dir, 'private.yaml'), 'vaults:\n  - name: Private\n');
  srv = await startTestServer({ seedFiles: [join(dir, 'private.yaml'), join(dir, 'seed.yaml')] });
  call = client(srv.url, srv.token);
  const vaults = (await call('GET', '/v1/vaults')).body as { id: string; name: string }[];
  vault = vaults.find((v) => v.name === 'Private')!.id;
  apps = vaults.find((v) => v.name === 'Apps')!.id;
});
afterAll(async () => {
  await srv?.close();
  rmSync(dir, { recursive: true, force: true });
});

const create = (body: unknown) => call('POST', `/v1/vaults/${vault}/items`, body);
const field = (item: { fields?: any[] }, id: string) => item.fields?.find((f) => f.id === id);

describe('field types (rows 1-4)', () => {
  it('row 1: an OTP field is stored as OTP and answered with its current code; TOTP is refused with real Connect\'s text', async () => {
    const ok = await create({ title: 'otp', category: 'LOGIN', fields: [{ id: 'one', label: 'one-time password', type: 'OTP', value: TOTP_URI }] });
    expect(ok.status).toBe(200);
    expect(field(ok.body, 'one')).toMatchObject({ type: 'OTP', value: TOTP_URI, totp: expect.stringMatching(/^\d{6}$/) });

    const bad = await create({ title: 'totp', category: 'LOGIN', fields: [{ label: 'code', type: 'TOTP', value: TOTP_URI }] });
    expect(bad.status).toBe(400);
    expect(bad.body.message).toBe(
      'Validation: (validateVaultItem failed to Validate), Couldn\'t validate the item: "[ItemValidator] has found 1 errors, 0 warnings: \\nErrors:{1. details.sections[0].fields[0] has unsupported field type: totp}" (/fields/0/type)',
    );
  });

  it('row 1: the validator names every offending field at Connect\'s address of it (sections counted from 1)', async () => {
    const bad = await create({
      title: 'totp in a section',
      category: 'LOGIN',
      sections: [{ id: 's1', label: 'One' }],
      fields: [
        { label: 'a', type: 'STRING', section: { id: 's1' } },
        { label: 'b', type: 'totp', section: { id: 's1' } },
        { label: 'c', type: 'NOPE' },
      ],
    });
    expect(bad.status).toBe(400);
    expect(bad.body.message).toContain('has found 2 errors, 0 warnings');
    expect(bad.body.message).toContain('{1. details.sections[1].fields[1] has unsupported field type: totp}, {2. details.sections[0].fields[0] has unsupported field type: nope}');
    expect(bad.body.message).toMatch(/\(\/fields\/1\/type\)$/);
  });

  it('row 2: field types are matched case-insensitively and answered upper-case', async () => {
    const r = await create({
      title: 'lower',
      category: 'SECURE_NOTE',
      fields: [
        { id: 'a', type: 'string', value: 'x' },
        { id: 'b', type: 'Concealed', value: 'y' },
        { id: 'c', type: 'otp', value: TOTP_URI },
      ],
    });
    expect(r.status).toBe(200);
    expect(['a', 'b', 'c'].map((id) => field(r.body, id).type)).toEqual(['STRING', 'CONCEALED', 'OTP']);
  });

  it('row 3: seeds hold the response-only field types and they are answered as they are', async () => {
    const [summary] = (await call('GET', `/v1/vaults/${apps}/items?filter=${encodeURIComponent('title eq "Made in the app"')}`)).body;
    const item = (await call('GET', `/v1/vaults/${apps}/items/${summary.id}`)).body;
    const types = item.fields.filter((f: any) => f.id !== 'notesPlain').map((f: any) => f.type);
    expect(types).toEqual(['SSHKEY', 'PHONE', 'ADDRESS', 'REFERENCE', 'CREDIT_CARD_NUMBER', 'CREDIT_CARD_TYPE', 'GENDER', 'FILE', 'UNKNOWN']);
  });

  it('row 3: the server and the schema generator list the same response-only types', () => {
    expect([...RESPONSE_FIELD_TYPES]).toEqual(SCRIPT_TYPES);
  });

  it('row 4: a field created with type SSHKEY is stored as STRING', async () => {
    const r = await create({ title: 'key', category: 'SSH_KEY', fields: [{ id: 'private_key', label: 'private key', type: 'SSHKEY', value: 'k' }] });
    expect(r.status).toBe(200);
    expect(field(r.body, 'private_key').type).toBe('STRING');
  });

  it('row 20: a whole item as GET answers it (response-only types, files, timestamps, version) can be PUT back', async () => {
    const [summary] = (await call('GET', `/v1/vaults/${apps}/items?filter=${encodeURIComponent('title eq "Made in the app"')}`)).body;
    const item = (await call('GET', `/v1/vaults/${apps}/items/${summary.id}`)).body;
    const put = await call('PUT', `/v1/vaults/${apps}/items/${item.id}`, { ...item, title: 'Made in the app' });
    expect(put.status).toBe(200);
    const again = (await call('GET', `/v1/vaults/${apps}/items/${item.id}`)).body;
    expect(field(again, 'phone')).toMatchObject({ type: 'PHONE', value: '+1 555 0100' });
    expect(field(again, 'private_key').type).toBe('STRING'); // row 4 applies to every write
  });
});

describe('categories (rows 5-7)', () => {
  it('rows 5-6: CUSTOM and DOCUMENT items cannot be created; seeded ones are read and updated', async () => {
    for (const category of ['CUSTOM', 'DOCUMENT']) {
      const r = await create({ title: category, category });
      expect(r.status, category).toBe(400);
      expect(r.body.message).toMatch(/^Invalid item category: .*\(\/category\)$/);
    }
    const seeded = (await call('GET', `/v1/vaults/${apps}/items`)).body.filter((i: any) => i.category === 'CUSTOM' || i.category === 'DOCUMENT');
    expect(seeded.map((i: any) => i.category).sort()).toEqual(['CUSTOM', 'DOCUMENT']);
    for (const s of seeded) {
      const item = (await call('GET', `/v1/vaults/${apps}/items/${s.id}`)).body;
      expect((await call('PUT', `/v1/vaults/${apps}/items/${s.id}`, { ...item, title: `${item.title}!` })).status).toBe(200);
    }
  });

  it('rows 5-6: an existing item cannot be turned into a CUSTOM one', async () => {
    const { body } = await create({ title: 'note', category: 'SECURE_NOTE' });
    const r = await call('PUT', `/v1/vaults/${vault}/items/${body.id}`, { ...body, category: 'CUSTOM' });
    expect(r.status).toBe(400);
  });
});

describe('category templates and purpose fields (rows 8-12)', () => {
  it('row 11: a LOGIN has username, password and notesPlain, present and empty (after the fields sent) when not sent', async () => {
    const r = await create({ title: 'bare login', category: 'LOGIN', fields: [{ id: 'custom', label: 'extra', value: 'v' }] });
    expect(r.status).toBe(200);
    expect(r.body.fields).toEqual([
      { id: 'custom', type: 'STRING', label: 'extra', value: 'v' },
      { id: 'username', type: 'STRING', purpose: 'USERNAME', label: 'username' },
      { id: 'password', type: 'CONCEALED', purpose: 'PASSWORD', label: 'password' },
      { id: 'notesPlain', type: 'STRING', purpose: 'NOTES', label: 'notesPlain' },
    ]);
  });

  it('row 11: PASSWORD has password and notesPlain; every other category has notesPlain', async () => {
    const pw = await create({ title: 'pw', category: 'PASSWORD', fields: [{ purpose: 'PASSWORD', type: 'CONCEALED', value: 's3cret' }] });
    expect(pw.body.fields.map((f: any) => f.id)).toEqual(['password', 'notesPlain']);
    for (const category of ['API_CREDENTIAL', 'DATABASE', 'SERVER', 'SECURE_NOTE', 'SSH_KEY']) {
      const r = await create({ title: category, category });
      expect(r.status, category).toBe(200);
      expect(r.body.fields, category).toEqual([{ id: 'notesPlain', type: 'STRING', purpose: 'NOTES', label: 'notesPlain' }]);
    }
  });

  it('row 11: built-ins come back, empty, after a PUT without them', async () => {
    const { body } = await create({
      title: 'login',
      category: 'LOGIN',
      fields: [
        { purpose: 'USERNAME', value: 'alice' },
        { purpose: 'PASSWORD', type: 'CONCEALED', value: 'pw' },
      ],
    });
    expect(field(body, 'username').value).toBe('alice');
    const put = await call('PUT', `/v1/vaults/${vault}/items/${body.id}`, { ...body, fields: [] });
    expect(put.status).toBe(200);
    const again = (await call('GET', `/v1/vaults/${vault}/items/${body.id}`)).body;
    expect(again.fields).toEqual([
      { id: 'username', type: 'STRING', purpose: 'USERNAME', label: 'username' },
      { id: 'password', type: 'CONCEALED', purpose: 'PASSWORD', label: 'password' },
      { id: 'notesPlain', type: 'STRING', purpose: 'NOTES', label: 'notesPlain' },
    ]);
  });

  it('rows 10-11: a purpose field without an id takes the built-in\'s id, and its label when it has none', async () => {
    const r = await create({ title: 'sdk style', category: 'LOGIN', fields: [{ type: 'STRING', purpose: 'USERNAME', value: 'bob' }, { purpose: 'NOTES', value: 'n' }] });
    expect(field(r.body, 'username')).toEqual({ id: 'username', type: 'STRING', purpose: 'USERNAME', label: 'username', value: 'bob' });
    expect(field(r.body, 'notesPlain')).toEqual({ id: 'notesPlain', type: 'STRING', purpose: 'NOTES', label: 'notesPlain', value: 'n' });
    expect(field(r.body, 'password')).not.toHaveProperty('value');
  });

  it('row 10: purpose fields keep a label that is sent', async () => {
    const r = await create({ title: 'labels', category: 'DATABASE', fields: [{ purpose: 'USERNAME', label: 'db user', value: 'u' }, { id: 'p', purpose: 'PASSWORD', type: 'CONCEALED', value: 'x' }] });
    expect(r.status).toBe(200);
    const user = r.body.fields.find((f: any) => f.purpose === 'USERNAME');
    expect(user.label).toBe('db user');
    expect(user.id).toMatch(ID);
    expect(field(r.body, 'p')).toMatchObject({ purpose: 'PASSWORD', label: 'password' });
  });

  it('row 12: a PASSWORD-purpose field sent with another id does not set the item\'s password', async () => {
    const r = await create({ title: 'wrong id', category: 'LOGIN', fields: [{ id: 'pw', label: 'password', type: 'CONCEALED', purpose: 'PASSWORD', value: 'secret' }] });
    expect(r.status).toBe(200);
    expect(field(r.body, 'password')).toEqual({ id: 'password', type: 'CONCEALED', purpose: 'PASSWORD', label: 'password' });
    expect(field(r.body, 'pw')).toEqual({ id: 'pw', type: 'CONCEALED', label: 'password', value: 'secret' });
  });

  it('row 9: a second USERNAME or PASSWORD field is refused with real Connect\'s text', async () => {
    const two = await create({ title: 'two', category: 'DATABASE', fields: [{ purpose: 'PASSWORD', type: 'CONCEALED', value: 'a' }, { purpose: 'PASSWORD', type: 'CONCEALED', value: 'b' }] });
    expect(two.status).toBe(400);
    expect(two.body.message).toBe('Logic: (Unable to parse Item), Validation: (too many "password" fields in Apply()), You can only use one "password" field.');
    const users = await create({ title: 'two users', category: 'LOGIN', fields: [{ purpose: 'USERNAME', value: 'a' }, { purpose: 'USERNAME', value: 'b' }] });
    expect(users.status).toBe(400);
    expect(users.body.message).toContain('too many "username" fields');
  });

  it('row 8: a PASSWORD item needs its password (a value or generate)', async () => {
    const none = await create({ title: 'no password', category: 'PASSWORD', fields: [{ id: 'x', label: 'x', value: 'y' }] });
    expect(none.status).toBe(400);
    expect(none.body.message).toMatch(/^Validation: \(validateVaultItem failed to Validate\)/);
    const generated = await create({ title: 'generated', category: 'PASSWORD', fields: [{ purpose: 'PASSWORD', type: 'CONCEALED', generate: true }] });
    expect(generated.status).toBe(200);
    expect(field(generated.body, 'password').value).toHaveLength(32);
    const put = await call('PUT', `/v1/vaults/${vault}/items/${generated.body.id}`, { ...generated.body, fields: [] });
    expect(put.status).toBe(400);
  });
});

describe('nulls and the Go SDK\'s zero values (rows 13-14)', () => {
  it('row 13: null is an absent member at any depth', async () => {
    const r = await create({
      title: 'nulls',
      category: 'LOGIN',
      urls: null,
      favorite: null,
      tags: null,
      sections: null,
      fields: [{ type: 'STRING', label: 'x', section: null, recipe: null, generate: null, value: null, purpose: null, id: null }],
    });
    expect(r.status).toBe(200);
    const x = r.body.fields.find((f: any) => f.label === 'x');
    expect(x).toEqual({ id: expect.stringMatching(ID), type: 'STRING', label: 'x' });
  });

  it('row 14: "id": "", "vault": {"id": ""}, "type": "" and zero timestamps are absent', async () => {
    const r = await create({
      id: '',
      title: 'go',
      vault: { id: '' },
      category: 'LOGIN',
      sections: [{ id: '', label: 'S' }],
      fields: [{ id: '', type: '', value: 'v', label: 'plain' }, { id: '', type: 'STRING', purpose: 'USERNAME', value: 'u' }],
      createdAt: '0001-01-01T00:00:00Z',
      updatedAt: '0001-01-01T00:00:00Z',
    });
    expect(r.status).toBe(200);
    expect(r.body.vault).toEqual({ id: vault });
    expect(r.body.sections[0].id).toMatch(ID);
    expect(r.body.fields.find((f: any) => f.label === 'plain')).toMatchObject({ type: 'STRING', id: expect.stringMatching(ID) });
    expect(field(r.body, 'username').value).toBe('u');
    expect(r.body.createdAt).not.toMatch(/^0001/);
  });
});

describe('DATE and MONTH_YEAR (row 15)', () => {
  it('a DATE sent as YYYY-MM-DD is answered as unix seconds (midnight UTC), as a string', async () => {
    const r = await create({ title: 'dates', category: 'SECURE_NOTE', fields: [{ id: 'd', type: 'DATE', value: '2027-01-31' }, { id: 's', type: 'DATE', value: '1801137660' }] });
    expect(r.status).toBe(200);
    expect(field(r.body, 'd').value).toBe(String(Date.UTC(2027, 0, 31) / 1000));
    expect(field(r.body, 's').value).toBe('1801137660');
  });

  it('a DATE that is no date is a 400 naming the field', async () => {
    for (const value of ['31/01/2027', '2027-02-30', 'soon']) {
      const r = await create({ title: 'bad date', category: 'SECURE_NOTE', fields: [{ type: 'DATE', value }] });
      expect(r.status, value).toBe(400);
      expect(r.body.message).toMatch(/^values for field type date must be in YYYY-MM-DD format.*\(\/fields\/0\/value\)$/);
    }
  });

  it('MONTH_YEAR takes YYYYMM and YYYY/MM; 01/2027 is a 400 with real Connect\'s text', async () => {
    const ok = await create({ title: 'my', category: 'SECURE_NOTE', fields: [{ id: 'a', type: 'MONTH_YEAR', value: '202701' }, { id: 'b', type: 'MONTH_YEAR', value: '2027/01' }] });
    expect(ok.status).toBe(200);
    expect([field(ok.body, 'a').value, field(ok.body, 'b').value]).toEqual(['202701', '2027/01']);
    for (const value of ['01/2027', '202713', '2027-01']) {
      const r = await create({ title: 'bad', category: 'SECURE_NOTE', fields: [{ type: 'MONTH_YEAR', value }] });
      expect(r.status, value).toBe(400);
      expect(r.body.message).toBe('values for field type monthYear must be in YYYYMM or YYYY/MM format (/fields/0/value)');
    }
  });
});

describe('sections, generation, urls (rows 16, 17, 19)', () => {
  it('row 16: section ids are free strings; a field\'s section may carry a label; a repeated section id is refused', async () => {
    const ok = await create({ title: 's', category: 'LOGIN', sections: [{ id: 'Free form id!', label: 'L' }], fields: [{ id: 'f', value: 'v', section: { id: 'Free form id!', label: 'L' } }] });
    expect(ok.status).toBe(200);
    expect(field(ok.body, 'f').section).toEqual({ id: 'Free form id!' });
    const dup = await create({ title: 'dup', category: 'LOGIN', sections: [{ id: 'a' }, { id: 'a' }] });
    expect(dup.status).toBe(400);
  });

  it('row 17: generate with a recipe is acted on and not stored; the default length is 32', async () => {
    const r = await create({ title: 'gen', category: 'LOGIN', fields: [{ purpose: 'PASSWORD', type: 'CONCEALED', generate: true, recipe: null }] });
    const pw = field(r.body, 'password');
    expect(pw.value).toHaveLength(32);
    expect(pw).not.toHaveProperty('recipe');
    expect(pw).not.toHaveProperty('generate');
    expect(pw.entropy).toBeGreaterThan(0);
  });

  it('row 19: urls keep their label', async () => {
    const r = await create({ title: 'u', category: 'LOGIN', urls: [{ href: 'https://a.example', label: 'website', primary: true }] });
    expect(r.body.urls).toEqual([{ href: 'https://a.example', label: 'website', primary: true }]);
  });
});
