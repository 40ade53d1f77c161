import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import type { Field, FullItem, ItemCategory, Section } from '../../src/connect/types.js';
import { ITEM_CATEGORIES } from '../../src/connect/types.js';
import { buildExport, toYaml, type ExportResult } from '../../src/export/manifest.js';
import { loadManifests } from '../../src/manifest/load.js';
import type { VaultDefaults } from '../../src/manifest/types.js';
import { diffItem } from '../../src/plan/diff.js';
import { resolveLocalValue } from '../../src/manifest/values.js';

const VAULT = { id: 'vvvvvvvvvvvvvvvvvvvvvvvvvv', name: 'Production' };
let n = 0;

function item(title: string, extra: Partial<FullItem> = {}): FullItem {
  n++;
  return {
    id: `item${String(n).padStart(22, '0')}`,
    title,
    vault: { id: VAULT.id },
    category: 'LOGIN',
    version: 1,
    createdAt: `2025-01-01T00:00:${String(n % 60).padStart(2, '0')}Z`,
    updatedAt: '2025-01-01T00:00:00Z',
    ...extra,
  };
}

const field = (label: string | undefined, value: string | undefined, extra: Partial<Field> = {}): Field => ({
  id: `f${++n}`,
  type: 'STRING',
  ...(label !== undefined ? { label } : {}),
  ...(value !== undefined ? { value } : {}),
  ...extra,
});

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** Writes the manifest, loads it as plan does with the variables set, and diffs every item against live. */
function roundTrip(result: ExportResult, vaultDefaults?: Record<string, VaultDefaults>) {
  const dir = mkdtempSync(join(tmpdir(), 'opsync-export-'));
  dirs.push(dir);
  const file = join(dir, 'm.yaml');
  writeFileSync(file, result.text);
  const env: NodeJS.ProcessEnv = {};
  for (const v of result.variables) env[v.name] = v.value;
  const { manifest, diagnostics } = loadManifests([file], { env, cwd: dir, ...(vaultDefaults ? { vaultDefaults } : {}) });
  expect(diagnostics).toEqual([]);
  const changes: Record<string, string[]> = {};
  for (const e of result.items) {
    const d = manifest.items.find((i) => i.address === e.address)!;
    expect(d, e.address).toBeDefined();
    const values = new Map<string, string>();
    for (const f of d.fields) {
      const v = resolveLocalValue(f.source, env);
      if (v !== undefined) values.set(f.key, v);
    }
    const diff = diffItem(d, values, e.live, { rotate: new Set() });
    if (diff.changes.length || diff.recreate) changes[e.address] = diff.changes.map((c) => c.path);
  }
  return { manifest, changes };
}

const SECRET = "s3cr3t 'quoted' $HOME `x` \\ \"dq\"\nsecond line";

describe('buildExport', () => {
  it('describes a login: title, category, tags, urls, sections, fields; secrets as {env}', () => {
    const live = item('Primary DB', {
      category: 'DATABASE',
      tags: ['prod', 'postgres'],
      urls: [{ href: 'https://db.example.com', primary: true }, { href: 'https://replica.example.com', label: 'replica' }, { href: 'https://x.example.com', primary: false, label: '' }],
      sections: [{ id: 'conn', label: 'Connection' }, { id: 'add more', label: 'More' }],
      fields: [
        field('username', 'app', { purpose: 'USERNAME' }),
        field('password', SECRET, { type: 'CONCEALED', purpose: 'PASSWORD' }),
        field('host', 'db.example.com', { section: { id: 'conn' } }),
        field('port', '5432', { section: { id: 'conn' } }),
        field('api key', 'k-123', { type: 'CONCEALED', section: { id: 'add more' } }),
        field('pin', 'p-1', { type: 'CONCEALED' }),
      ],
    });
    const r = buildExport({ vault: VAULT, items: [live] });
    expect(r.warnings).toEqual([]);
    const doc = parse(r.text) as { vault: string; items: Record<string, Record<string, unknown>> };
    expect(doc.vault).toBe('Production');
    expect(doc.items['primary-db']).toEqual({
      title: 'Primary DB',
      category: 'DATABASE',
      tags: ['prod', 'postgres'],
      urls: [{ href: 'https://db.example.com', primary: true }, { href: 'https://replica.example.com', label: 'replica' }, { href: 'https://x.example.com' }],
      sections: { conn: 'Connection', more: 'More' },
      fields: {
        username: { purpose: 'USERNAME', value: 'app' },
        password: { purpose: 'PASSWORD', value: { env: 'OPSYNC_PRODUCTION_PRIMARY_DB_PASSWORD' } },
        host: { section: 'conn', value: 'db.example.com' },
        port: { section: 'conn', value: '5432' },
        'api key': { section: 'more', type: 'CONCEALED', value: { env: 'OPSYNC_PRODUCTION_PRIMARY_DB_API_KEY' } },
        pin: { type: 'CONCEALED', value: { env: 'OPSYNC_PRODUCTION_PRIMARY_DB_PIN' } },
      },
    });
    expect(r.variables).toEqual([
      { name: 'OPSYNC_PRODUCTION_PRIMARY_DB_PASSWORD', address: 'Production/primary-db', fieldKey: 'password', value: SECRET },
      { name: 'OPSYNC_PRODUCTION_PRIMARY_DB_API_KEY', address: 'Production/primary-db', fieldKey: 'api key', value: 'k-123' },
      { name: 'OPSYNC_PRODUCTION_PRIMARY_DB_PIN', address: 'Production/primary-db', fieldKey: 'pin', value: 'p-1' },
    ]);
    for (const v of r.variables) expect(r.text).not.toContain(v.value);
    expect(roundTrip(r).changes).toEqual({});
  });

  it('uses the shorthand for a plain literal and never writes generate', () => {
    const r = buildExport({ vault: VAULT, items: [item('Plain', { fields: [field('region', 'eu-west-1'), field('n', '42')] })] });
    const doc = parse(r.text) as { items: Record<string, { fields: Record<string, unknown> }> };
    expect(doc.items.plain.fields).toEqual({ region: 'eu-west-1', n: '42' });
    expect(r.text).not.toContain('generate');
    expect(roundTrip(r).changes).toEqual({});
  });

  it('treats CONCEALED, TOTP, OTP and purpose PASSWORD as secret, writes TOTP as OTP; an empty secret is left unmanaged', () => {
    const live = item('Otp', {
      fields: [
        field('totp', 'otpauth://totp/x?secret=JBSWY3DPEHPK3PXP', { type: 'TOTP' }),
        field('otp', 'otpauth://totp/y?secret=JBSWY3DPEHPK3PXQ', { type: 'OTP' }),
        field('empty', '', { type: 'CONCEALED' }),
        field('absent', undefined, { type: 'CONCEALED' }),
        field('empty pw', undefined, { purpose: 'PASSWORD', type: 'CONCEALED' }),
        field('email', 'a@example.com', { type: 'EMAIL' }),
        field('blank', undefined),
      ],
    });
    const r = buildExport({ vault: VAULT, items: [live] });
    const doc = parse(r.text) as { items: Record<string, { fields: Record<string, unknown> }> };
    expect(doc.items.otp.fields).toEqual({
      totp: { type: 'OTP', value: { env: 'OPSYNC_PRODUCTION_OTP_TOTP' } },
      otp: { type: 'OTP', value: { env: 'OPSYNC_PRODUCTION_OTP_OTP' } },
      empty: { type: 'CONCEALED' },
      absent: { type: 'CONCEALED' },
      'empty pw': { purpose: 'PASSWORD' },
      email: { type: 'EMAIL', value: 'a@example.com' },
      blank: '',
    });
    expect(r.variables.map((v) => v.name)).toEqual(['OPSYNC_PRODUCTION_OTP_TOTP', 'OPSYNC_PRODUCTION_OTP_OTP']);
    expect(r.text).not.toContain('otpauth');
    // The only change the next plan makes: TOTP becomes OTP (so that SDKs find the code).
    expect(roundTrip(r).changes).toEqual({ 'Production/otp': ['field totp type'] });
  });

  it('round-trips multi-line notes and awkward text exactly', () => {
    const texts = [
      'Line one\nLine two\n',
      'no newline at end\nsecond',
      '\n\nleading blank lines\n\n\n',
      '  indented first line\nnext',
      'trailing blanks  \nx\t\n',
      'windows\r\nline endings\r\n',
      'tab\tinside',
      '- looks like a list\n# and a comment\nkey: value',
      'null',
      'true',
      '012',
      '1e3',
      '~',
      '',
      ' ',
      '"quoted"',
      "'single'",
      '{ flow: map }',
      '[a, b]',
      '@at',
      '`tick`',
      '%percent',
      '&anchor *alias !tag',
      '---\n...\n',
      'emoji 🙂 and ünïcödé\u2028sep',
      'ctrl \u0001\u007f',
    ];
    const live = item('Notes', {
      category: 'SECURE_NOTE',
      fields: texts.map((t, i) => field(`note ${i}`, t, i === 0 ? { purpose: 'NOTES', label: 'notesPlain' } : {})),
    });
    const r = buildExport({ vault: VAULT, items: [live] });
    const doc = parse(r.text) as { items: Record<string, { fields: Record<string, unknown> }> };
    const fields = doc.items.notes.fields;
    expect(fields.notesPlain).toEqual({ purpose: 'NOTES', value: texts[0] });
    texts.slice(1).forEach((t, i) => expect(fields[`note ${i + 1}`]).toBe(t));
    expect(r.text).toContain('value: |'); // a block scalar for the note
    expect(roundTrip(r).changes).toEqual({});
  });

  it('keys fields by label, else <section>.<label> or a numbered variant, with label: when the key differs', () => {
    const live = item('Dupes', {
      sections: [{ id: 'a', label: 'A' }, { id: 'b', label: 'B' }],
      fields: [
        field('host', 'h0'),
        field('host', 'h1', { section: { id: 'a' } }),
        field('host', 'h2', { section: { id: 'b' } }),
        field('a.host', 'taken'),
        field('token', 't1', { type: 'CONCEALED', section: { id: 'a' } }),
        field('token', 't2', { type: 'CONCEALED', section: { id: 'b' } }),
        field(undefined, 'nolabel'),
        field(undefined, 'nolabel in a', { section: { id: 'a' } }),
      ],
    });
    const r = buildExport({ vault: VAULT, items: [live] });
    expect(r.warnings).toEqual([]);
    const doc = parse(r.text) as { items: Record<string, { fields: Record<string, unknown> }> };
    expect(doc.items.dupes.fields).toEqual({
      host: 'h0',
      'a.host-2': { label: 'host', section: 'a', value: 'h1' },
      'b.host': { label: 'host', section: 'b', value: 'h2' },
      'a.host': 'taken',
      'a.token': { label: 'token', section: 'a', type: 'CONCEALED', value: { env: 'OPSYNC_PRODUCTION_DUPES_A_TOKEN' } },
      'b.token': { label: 'token', section: 'b', type: 'CONCEALED', value: { env: 'OPSYNC_PRODUCTION_DUPES_B_TOKEN' } },
      field: { label: '', value: 'nolabel' },
      'a.field': { label: '', section: 'a', value: 'nolabel in a' },
    });
    expect(roundTrip(r).changes).toEqual({});
  });

  it('makes item keys and variable names collision-free across one export', () => {
    const items = [
      item('DB prod', { fields: [field('pass word', 'x1', { type: 'CONCEALED' })] }),
      item('db-prod', { fields: [field('pass word', 'x2', { type: 'CONCEALED' })] }),
      item('db', { fields: [field('prod pass word', 'x3', { type: 'CONCEALED' })] }),
      item('✓', {}),
    ];
    const r = buildExport({ vault: VAULT, items });
    expect(r.items.map((i) => i.key).sort()).toEqual(['db', 'db-prod', 'db-prod-2', 'item']);
    const names = r.variables.map((v) => v.name);
    expect(new Set(names).size).toBe(3);
    // "DB prod" -> db-prod, then "db" (field "prod pass word") collides with it; "db-prod" -> db-prod-2.
    expect(names).toEqual(['OPSYNC_PRODUCTION_DB_PROD_PASS_WORD', 'OPSYNC_PRODUCTION_DB_PROD_PASS_WORD_2', 'OPSYNC_PRODUCTION_DB_PROD_2_PASS_WORD']);
    expect(r.variables.map((v) => v.value)).toEqual(['x1', 'x3', 'x2']);
    expect(roundTrip(r).changes).toEqual({});
  });

  it('keeps section ids that are valid keys, slugs the others, and keeps empty labels', () => {
    const sections: Section[] = [
      { id: 'Section_1', label: 'Login details' },
      { id: 'add more', label: 'Login details' },
      { id: 'x y', label: 'Login details' },
      { id: 'nolabel' },
      { id: 'emptylabel', label: '' },
      { id: '!!', label: '2024' },
      { id: '42', label: 'numbers' },
    ];
    const live = item('Sections', {
      sections,
      fields: sections.map((s, i) => field(`f${i}`, `v${i}`, { section: { id: s.id } })),
    });
    const r = buildExport({ vault: VAULT, items: [live] });
    expect(r.warnings).toEqual([]);
    const doc = parse(r.text) as { items: Record<string, { sections: Record<string, string> }> };
    expect(doc.items.sections.sections).toEqual({
      Section_1: 'Login details',
      nolabel: '',
      emptylabel: '',
      '42': 'numbers',
      'login-details': 'Login details',
      'login-details-2': 'Login details',
      'section-2024': '2024',
    });
    expect(roundTrip(r).changes).toEqual({});
  });

  it('warns and keeps the plan quiet where the format cannot say what live holds', () => {
    const live = item('Odd', {
      tags: ['a', 'a', ''],
      urls: [{ href: 'not a uri' }, { href: 'https://ok.example.com' }],
      sections: [{ id: 'bad id' }, { id: 'ok', label: 'OK' }],
      fields: [
        field('in unlabelled', 'v1', { section: { id: 'bad id' } }),
        field('orphan', 'v2', { section: { id: 'gone' } }),
        field('dup', 'first'),
        field('dup', 'second'),
        field('weird', 'v3', { type: 'SIGNATURE' as never }),
      ],
      files: [{ id: 'file1', name: 'cert.pem', size: 3, content_path: '/x' }],
    });
    const r = buildExport({ vault: VAULT, items: [live] });
    const text = r.warnings.join('\n');
    expect(text).toContain('Production/odd ("Odd"): its tags repeat');
    expect(text).toContain('1 of its URLs are not URIs');
    expect(text).toContain('section bad id has no label');
    expect(text).toContain('field "orphan" names section gone');
    expect(text).toContain('field "dup" repeats its label');
    expect(text).toContain('has type SIGNATURE');
    expect(text).toContain('1 file(s) attached');
    for (const v of ['v1', 'v2', 'first', 'second', 'v3']) expect(text).not.toContain(v);
    const doc = parse(r.text) as { items: Record<string, Record<string, unknown>> };
    expect(doc.items.odd).toMatchObject({ tags: ['a'], urls: [{ href: 'https://ok.example.com' }], fields: { dup: 'second' } });
    expect(doc.items.odd.ignore).toEqual(expect.arrayContaining(['tags', 'urls', 'sections', 'fields']));
    expect(roundTrip(r).changes).toEqual({});
  });

  it('leaves out items it cannot hold: unknown category, no title, a repeated title', () => {
    const items = [
      item('Same', { fields: [field('a', '1')] }),
      item('Same', { fields: [field('a', '2')] }),
      item('', {}),
      item('Crypto', { category: 'CRYPTO_WALLET' as ItemCategory }),
    ];
    const r = buildExport({ vault: VAULT, items });
    expect(r.items.map((i) => i.live.id)).toEqual([items[0].id]);
    expect(r.warnings).toHaveLength(3);
    expect(r.warnings.join('\n')).toMatch(/left out: item .* has the same title/);
    expect(r.warnings.join('\n')).toContain('has no title');
    expect(r.warnings.join('\n')).toContain('category CRYPTO_WALLET');
    expect(roundTrip(r).changes).toEqual({});
  });

  it('exports every category the schema knows', () => {
    // A PASSWORD item holds its password, as real Connect requires.
    const items = ITEM_CATEGORIES.map((c) =>
      item(`cat ${c}`, { category: c, fields: c === 'PASSWORD' ? [field('password', 'pw-1', { type: 'CONCEALED', purpose: 'PASSWORD' })] : [field('x', c)] }),
    );
    const r = buildExport({ vault: VAULT, items });
    expect(r.items).toHaveLength(ITEM_CATEGORIES.length);
    expect(r.warnings).toEqual([]);
    expect(roundTrip(r).changes).toEqual({});
  });

  it('names the vault by id when its name has a "/", and overrides default tags with tags: []', () => {
    const r = buildExport({ vault: { id: VAULT.id, name: 'team/prod' }, items: [item('A'), item('B', { tags: ['t'] })], defaults: { tags: ['default'] } });
    expect(r.vaultRef).toBe(VAULT.id);
    expect(r.items[0].address).toBe(`${VAULT.id}/a`);
    const doc = parse(r.text) as { items: Record<string, Record<string, unknown>> };
    expect(doc.items.a.tags).toEqual([]);
    expect(roundTrip(r, { [VAULT.id]: { tags: ['default'] } }).changes).toEqual({});
  });

  it('handles labels that are YAML or JavaScript specials', () => {
    // '<<' is a merge key unless quoted, and '${' would be interpolated unless written '$${'.
    const labels = ['__proto__', 'constructor', 'null', '123', 'a: b', '#x', '<<', 'true', '', '${var.x}', '$${y}', 'a$', '$'];
    const live = item('Specials', { fields: labels.map((l, i) => field(l, `v${i}`)) });
    const r = buildExport({ vault: VAULT, items: [live] });
    const { manifest, changes } = roundTrip(r);
    expect(changes).toEqual({});
    expect(manifest.items[0].fields.map((f) => f.label).sort()).toEqual([...labels].sort());
  });
});

describe('toYaml', () => {
  it('reads back exactly what it was given', () => {
    const data = { a: { 'x: y': 'line1\n  line2\n\n', k: ' lead', m: 'a\r\nb', n: 'null' } };
    expect(parse(toYaml(data))).toEqual(data);
  });
});
