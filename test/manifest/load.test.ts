import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatDiagnostic, loadManifests } from '../../src/manifest/load.js';
import { parseRef, resolveLocalValue, ValueError } from '../../src/manifest/values.js';

const SECRET = 'Zq9-manifest-secret-never-shown';

function project(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'opsync-manifest-'));
  for (const [p, t] of Object.entries(files)) {
    mkdirSync(join(dir, p, '..'), { recursive: true });
    writeFileSync(join(dir, p), t);
  }
  return dir;
}

function load(files: Record<string, string>, paths = ['.'], env: NodeJS.ProcessEnv = {}) {
  const dir = project(files);
  const r = loadManifests(paths, { cwd: dir, env });
  return { ...r, dir, lines: r.diagnostics.map((d) => formatDiagnostic(d, dir)) };
}

describe('loadManifests', () => {
  it('builds desired items with defaults, shorthands and every value source', () => {
    const { manifest, diagnostics } = load(
      {
        'cert.pem': 'CERT',
        'm.yaml': `vault: Production
items:
  db:
    sections: { conn: Connection }
    urls: [https://db.example.com]
    fields:
      port: 5432
      host: { section: conn, value: db.example.com }
      password: { purpose: PASSWORD, value: { env: DB_PW } }
      cert: { type: CONCEALED, value: { file: cert.pem } }
      copy: { type: CONCEALED, value: { ref: "op://Other/Item/sec/field" } }
      gen: { generate: true }
      gen2: { generate: { length: 20, rotate: "r1" } }
      legacy: { type: CONCEALED }
`,
      },
      ['m.yaml'],
      { DB_PW: SECRET },
    );
    expect(diagnostics).toEqual([]);
    const [item] = manifest.items;
    expect(item).toMatchObject({ address: 'Production/db', title: 'db', category: 'LOGIN', urls: [{ href: 'https://db.example.com' }] });
    const f = Object.fromEntries(item.fields.map((x) => [x.key, x]));
    expect(f.port).toMatchObject({ type: 'STRING', source: { kind: 'literal', value: '5432' }, sensitive: false });
    expect(f.host).toMatchObject({ section: 'conn', sensitive: false });
    expect(f.password).toMatchObject({ type: 'CONCEALED', source: { kind: 'env', name: 'DB_PW' }, sensitive: true });
    expect(f.cert.source).toMatchObject({ kind: 'file', as: 'cert.pem' });
    expect(f.copy.source).toEqual({ kind: 'ref', ref: 'op://Other/Item/sec/field' });
    expect(f.gen).toMatchObject({ type: 'CONCEALED', source: { kind: 'generate', recipe: {} } });
    expect(f.gen2.source).toEqual({ kind: 'generate', recipe: { length: 20 }, rotate: 'r1' });
    expect(f.legacy.source).toEqual({ kind: 'unmanaged' });
    expect(f.port.pos).toMatchObject({ line: 7, col: 7 });
  });

  it('refuses at validate what real Connect refuses: TOTP, malformed DATE and MONTH_YEAR, a second purpose field', () => {
    const { lines } = load({
      'm.yaml': `vault: Production
items:
  a:
    fields:
      code: { type: TOTP, value: { env: OTP } }
      otp: { type: OTP, value: { env: OTP } }
      expires: { type: DATE, value: "31/01/2027" }
      ok-date: { type: DATE, value: "2027-01-31" }
      card: { type: MONTH_YEAR, value: "01/2027" }
      ok-card: { type: MONTH_YEAR, value: "2027/01" }
      user: { purpose: USERNAME, value: a }
      login: { purpose: USERNAME, value: b }
`,
    }, ['.'], { OTP: 'otpauth://totp/x?secret=JBSWY3DPEHPK3PXP' });
    expect(lines).toEqual([
      'm.yaml:5:21: error: field "code": type TOTP is refused by real Connect (it answers 400 "unsupported field type: totp"); write type: OTP',
      'm.yaml:7:37: error: field "expires": a DATE is written YYYY-MM-DD (e.g. 2027-01-31), or as unix seconds',
      'm.yaml:9:40: error: field "card": a MONTH_YEAR is written YYYYMM or YYYY/MM (e.g. 2027/01)',
      'm.yaml:12:25: error: field "login": only one field may have purpose USERNAME (real Connect refuses a second; "user" has it)',
    ]);
  });

  it('refuses a PASSWORD item without its concealed PASSWORD field, as real Connect does', () => {
    const { lines } = load({
      'm.yaml': `vault: P
items:
  none:
    category: PASSWORD
    fields:
      user: u
  plain:
    category: PASSWORD
    fields:
      pw: { purpose: PASSWORD, type: STRING, generate: true }
  good:
    category: PASSWORD
    fields:
      pw: { purpose: PASSWORD, generate: true }
`,
    });
    expect(lines).toEqual([
      'm.yaml:4:15: error: a PASSWORD item needs a field with purpose: PASSWORD (real Connect refuses one without it)',
      'm.yaml:8:15: error: the PASSWORD field of a PASSWORD item must be type CONCEALED, not STRING (real Connect refuses it)',
    ]);
  });

  it('reads folders and multi-documents, with positions after ---', () => {
    const { manifest, lines } = load({
      'a/one.yaml': 'vault: A\nitems:\n  x: { fields: { u: v } }\n---\nvault: B\nitems:\n  y:\n    category: NOPE\n',
      'b/two.yml': 'vault: C\nitems: {}\n',
      'b/.hidden.yaml': 'not: a manifest\n',
    });
    expect(manifest.items.map((i) => i.address)).toEqual(['A/x']);
    expect(manifest.files).toHaveLength(2);
    expect(lines).toEqual([expect.stringMatching(/^a\/one\.yaml:8:15: error: items\.y\.category must be one of LOGIN, /)]);
  });

  it('reports every problem at once, each where it is', () => {
    const { lines } = load(
      {
        'm.yaml': `vault: P
items:
  a:
    title: Same
    bogus: 1
    fields:
      pw: { type: CONCEALED, value: hunter2 }
      e: { type: CONCEALED, value: { env: MISSING_VAR } }
      f: { type: CONCEALED, value: { file: nope.pem } }
      s: { section: undeclared, value: x }
      both: { value: x, generate: true }
  b:
    title: Same
    ignore: [nonsense]
    fields:
      r: { value: { ref: "op://P/Same/nope" } }
      bad: { value: { ref: "op://too-short" } }
  c: { title: C }
moved:
  - { from: P/old, to: P/missing }
`,
        'dup.yaml': 'vault: P\nitems:\n  c: { title: Other }\n',
      },
      ['m.yaml', 'dup.yaml'],
    );
    expect(lines).toEqual([
      'm.yaml:5:5: error: items.a.bogus: unknown property',
      'm.yaml:11:7: error: items.a.fields.both: a field takes either value or generate, not both',
      'm.yaml:14:14: error: items.b.ignore.0 must be one of title, category, tags, urls, sections, fields, fields.<key>',
      expect.stringMatching(/^m\.yaml:7:37: error: field "pw" is secret \(CONCEALED\): a literal value would put it in git/),
      'm.yaml:8:43: error: field "e": environment variable MISSING_VAR is not set (or is empty)',
      'm.yaml:9:44: error: field "f": file nope.pem does not exist or is not a file',
      'm.yaml:10:21: error: field "s": section "undeclared" is not declared in sections',
      'm.yaml:17:28: error: field "bad": reference must be op://<vault>/<item>/[<section>/]<field>',
      'dup.yaml:3:3: error: duplicate address P/c (also at m.yaml:18:3)',
      'm.yaml:20:5: error: moved: P/missing is not declared in the manifests',
    ]);
  });

  it('catches duplicate titles and dangling references to managed items', () => {
    const { lines } = load({
      'm.yaml': `vault: P
items:
  a: { title: Same, fields: { pw: { type: CONCEALED, generate: true } } }
  b: { title: Same }
  c: { fields: { r: { type: CONCEALED, value: { ref: "op://P/Same/nope" } } } }
`,
    });
    expect(lines).toEqual([
      expect.stringMatching(/^m\.yaml:4:3: error: duplicate title "Same" in vault P/),
      expect.stringMatching(/^m\.yaml:5:18: error: field "r": reference op:\/\/P\/Same\/nope names no field of P\/a/),
    ]);
  });

  it('reads removed blocks (destroy: false only) and checks them against the items and each other', () => {
    const { manifest, diagnostics } = load({
      'm.yaml': 'vault: P\nitems:\n  a: {}\nremoved:\n  - { from: P/old, destroy: false }\n  - from: Other/gone\n',
      'n.yaml': 'vault: Q\nitems: {}\nremoved:\n  - { from: Q/x }\n',
    });
    expect(diagnostics).toEqual([]);
    expect(manifest.removed).toEqual([
      { from: 'P/old', pos: { file: 'm.yaml', line: 5, col: 5 } },
      { from: 'Other/gone', pos: { file: 'm.yaml', line: 6, col: 5 } },
      // The entry's index in its own document, not in the manifest.
      { from: 'Q/x', pos: { file: 'n.yaml', line: 4, col: 5 } },
    ]);
    expect(load({ 'm.yaml': 'vault: P\nitems:\n  a: {}\n' }).manifest.removed).toEqual([]);

    const bad = load({
      'm.yaml': `vault: P
items:
  a: {}
removed:
  - { from: P/a }
  - { from: P/old }
  - { from: P/old, destroy: false }
  - { from: not-an-address }
  - { from: P/kill, destroy: true }
  - { destroy: false }
  - { from: P/x, bogus: 1 }
  - { from: P/renamed }
moved:
  - { from: P/renamed, to: P/a }
`,
      'n.yaml': 'vault: Q\nremoved:\n  - { from: P/old }\n',
    });
    expect(bad.lines).toEqual([
      'm.yaml:8:13: error: removed.3.from must be an address "<vault>/<key>"',
      'm.yaml:9:30: error: removed.4.destroy must be false (the item stays in Connect); remove the resource from the manifests to delete it',
      'm.yaml:10:5: error: removed.5: missing required property "from"',
      'm.yaml:11:18: error: removed.6.bogus: unknown property',
      'm.yaml:5:5: error: removed: P/a is still declared (at m.yaml:3:3); remove its item from the manifests, or drop this removed block',
      'm.yaml:7:5: error: removed: P/old is already removed (at m.yaml:6:5)',
      'm.yaml:12:5: error: removed: P/renamed is also moved (at m.yaml:14:5); a resource is either moved or removed',
      'n.yaml:3:5: error: removed: P/old is already removed (at m.yaml:6:5)',
    ]);
    // Only the valid entries are built.
    expect(bad.manifest.removed.map((r) => r.from)).toEqual(['P/a', 'P/old', 'P/old', 'P/renamed', 'P/old']);
  });

  it('reports moved and removed that are not lists, or hold no mappings, instead of throwing', () => {
    const { lines, manifest } = load({ 'm.yaml': 'vault: P\nitems:\n  a: {}\nmoved: { x: 1 }\nremoved: [P/a, 3]\n' });
    expect(lines).toEqual([
      'm.yaml:4:8: error: moved must be array',
      'm.yaml:5:11: error: removed.0 must be object',
      'm.yaml:5:16: error: removed.1 must be object',
    ]);
    expect(manifest.moved).toEqual([]);
    expect(manifest.removed).toEqual([]);
  });

  it('reports YAML syntax errors and missing paths', () => {
    const { lines } = load({ 'm.yaml': 'vault: P\nitems: [unclosed\n' }, ['m.yaml', 'absent']);
    expect(lines[0]).toBe('absent:1:1: error: no such file or folder');
    expect(lines[1]).toMatch(/^m\.yaml:\d+:\d+: error: YAML: /);
  });

  it('never puts a value from the environment or a file into a diagnostic', () => {
    const { diagnostics } = load(
      {
        'secret.txt': SECRET,
        'm.yaml': `vault: P\nitems:\n  a:\n    category: NOPE\n    fields:\n      x: { type: CONCEALED, value: { file: secret.txt } }\n      y: { type: CONCEALED, value: { env: SET } }\n`,
      },
      ['m.yaml'],
      { SET: SECRET },
    );
    expect(diagnostics.length).toBeGreaterThan(0);
    expect(JSON.stringify(diagnostics)).not.toContain(SECRET);
  });
});

describe('hostile manifests', () => {
  it('reports alias bombs and undefined aliases where they are, instead of throwing', () => {
    const bomb = ['vault: P', 'a: &a [x, x, x, x, x, x, x, x, x, x]'];
    for (const [prev, name] of [['a', 'b'], ['b', 'c'], ['c', 'd'], ['d', 'e']]) bomb.push(`${name}: &${name} [${Array(10).fill(`*${prev}`).join(', ')}]`);
    const { lines } = load({ 'bomb.yaml': `${bomb.join('\n')}\nitems: {}\n`, 'undef.yaml': 'vault: P\nitems:\n  x: *nope\n' });
    expect(lines).toEqual([
      'bomb.yaml:3:8: error: YAML: aliases expand to more than 100 nodes; write the values out instead',
      'undef.yaml:3:6: error: YAML: alias *nope has no anchor &nope before it',
    ]);
  });

  it('still takes a few aliases', () => {
    const { diagnostics, manifest } = load({ 'm.yaml': 'vault: P\nitems:\n  a: &base { category: SECURE_NOTE }\n  b: *base\n' });
    expect(diagnostics).toEqual([]);
    expect(manifest.items.map((i) => i.category)).toEqual(['SECURE_NOTE', 'SECURE_NOTE']);
  });

  it('reports nesting too deep for the YAML library as one diagnostic', () => {
    const { lines } = load({ 'deep.yaml': `vault: P\nitems: {}\nx: ${'['.repeat(20000)}${']'.repeat(20000)}\n` });
    expect(lines.length).toBeGreaterThan(0);
    expect(lines[0]).toMatch(/^deep\.yaml:\d+:\d+: error: /);
  });

  it('escapes control characters and newlines of keys in every diagnostic', () => {
    const { lines } = load({ 'm.yaml': 'vault: P\nitems:\n  a:\n    "k\\e[31m\\n::warning::x": 1\n' });
    expect(lines).toEqual(['m.yaml:4:5: error: items.a.k\\u001b[31m\\n::warning::x: unknown property']);
    expect(formatDiagnostic({ file: 'f\u001b.yaml', line: 1, col: 1, severity: 'warning', message: 'a\r\nb\u202e' })).toBe(
      'f\\u001b.yaml:1:1: warning: a\\u000d\\nb\\u202e',
    );
  });

  it('refuses a binary {file:} source unless it says encoding: base64, and checks the encoding property', () => {
    const dir = project({
      'm.yaml':
        'vault: P\nitems:\n  a:\n    fields:\n' +
        '      raw: { type: CONCEALED, value: { file: cert.der } }\n' +
        '      b64: { type: CONCEALED, value: { file: cert.der, encoding: base64 } }\n' +
        '      text: { type: CONCEALED, value: { file: key.pem, encoding: utf-8 } }\n' +
        '      bad: { type: CONCEALED, value: { env: X, encoding: base64 } }\n' +
        '      two: { type: CONCEALED, value: { env: X, ref: "op://a/b/c" } }\n',
      'key.pem': 'pem ✓\n',
    });
    writeFileSync(join(dir, 'cert.der'), Buffer.from([0x30, 0x82, 0xff, 0x00]));
    const { manifest, diagnostics } = loadManifests(['m.yaml'], { cwd: dir, env: { X: 'x' } });
    expect(diagnostics.map((d) => formatDiagnostic(d, dir))).toEqual([
      'm.yaml:8:31: error: items.a.fields.bad.value: encoding needs file',
      'm.yaml:9:38: error: items.a.fields.two.value must be text, or exactly one of env, file, ref (a file may add encoding)',
      'm.yaml:5:46: error: field "raw": file cert.der is not UTF-8 text (binary?); add encoding: base64 to the source to store its bytes base64-encoded',
    ]);
    expect(manifest.items).toEqual([]);
    // Without the bad fields, the sources resolve as plan resolves them.
    writeFileSync(join(dir, 'm.yaml'), readFileSync(join(dir, 'm.yaml'), 'utf8').split('\n').filter((l) => !/ (raw|bad|two):/.test(l)).join('\n'));
    const good = loadManifests(['m.yaml'], { cwd: dir, env: { X: 'x' } });
    expect(good.diagnostics).toEqual([]);
    const fields = good.manifest.items[0].fields;
    const source = (key: string) => fields.find((f) => f.key === key)!.source;
    expect(source('b64')).toMatchObject({ kind: 'file', encoding: 'base64' });
    expect(resolveLocalValue(source('b64'), {})).toBe('MIL/AA==');
    expect(source('text')).not.toHaveProperty('encoding');
    expect(resolveLocalValue(source('text'), {})).toBe('pem ✓\n');
    expect(() => resolveLocalValue({ kind: 'file', path: join(dir, 'cert.der'), as: 'cert.der' }, {})).toThrow(/file cert\.der is not UTF-8 text/);
  });

  it('refuses {file:} sources over 1 MiB, and reads FIFOs and devices nowhere', () => {
    const dir = project({ 'big.txt': 'x'.repeat(1024 * 1024 + 1) });
    expect(() => resolveLocalValue({ kind: 'file', path: join(dir, 'big.txt'), as: 'big.txt' }, {})).toThrow(/cannot read file big\.txt: is larger than 1 MiB/);
    expect(() => resolveLocalValue({ kind: 'file', path: '/dev/zero', as: 'z' }, {})).toThrow(/cannot read file z: is a character device/);
    expect(loadManifests(['/dev/zero'], { cwd: dir }).diagnostics.map((d) => formatDiagnostic(d, dir))).toEqual([
      '/dev/zero:1:1: error: cannot read: is a character device; only regular files are read',
    ]);
  });
});

describe('values', () => {
  it('resolves literal, env and file sources, and names only the source when it fails', () => {
    expect(resolveLocalValue({ kind: 'literal', value: 'v' }, {})).toBe('v');
    expect(resolveLocalValue({ kind: 'env', name: 'X' }, { X: SECRET })).toBe(SECRET);
    expect(resolveLocalValue({ kind: 'generate', recipe: {} }, {})).toBeUndefined();
    expect(() => resolveLocalValue({ kind: 'env', name: 'X' }, {})).toThrow(ValueError);
    expect(() => resolveLocalValue({ kind: 'file', path: '/nonexistent/x', as: 'x' }, {})).toThrow(/cannot read file x: no such file/);
  });

  it('parses op:// references', () => {
    expect(parseRef('op://V/I/f')).toEqual({ vault: 'V', item: 'I', field: 'f' });
    expect(parseRef('op://V/I/s/f')).toEqual({ vault: 'V', item: 'I', section: 's', field: 'f' });
    expect(parseRef('op://V/I')).toBeUndefined();
    expect(parseRef('https://V/I/f')).toBeUndefined();
  });
});
