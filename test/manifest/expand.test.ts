// The expansion stage (src/manifest/expand): variables, interpolation, for_each, templates and YAML merge keys,
// through loadManifests as validate and plan see them, and renderManifests as `opsync render` will.
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { expandManifests, renderManifests, type VariableInputs } from '../../src/manifest/expand/index.js';
import { interpolateString } from '../../src/manifest/expand/interpolate.js';
import { formatDiagnostic, loadManifests, readManifestFiles, type LoadOptions } from '../../src/manifest/load.js';
import type { DesiredItem } from '../../src/manifest/types.js';

const SECRET = 'Zq9-variable-secret-never-shown';

function project(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'opsync-expand-'));
  for (const [p, t] of Object.entries(files)) {
    mkdirSync(join(dir, p, '..'), { recursive: true });
    writeFileSync(join(dir, p), t);
  }
  return dir;
}

function load(files: Record<string, string>, opts: LoadOptions = {}, paths = ['.']) {
  const dir = project(files);
  const r = loadManifests(paths, { cwd: dir, env: {}, ...opts });
  const items = Object.fromEntries(r.manifest.items.map((i) => [i.address, i]));
  return { ...r, dir, items, lines: r.diagnostics.map((d) => formatDiagnostic(d, dir)) };
}

const vars = (values: Record<string, unknown>, extra: Partial<VariableInputs> = {}): LoadOptions => ({ variables: { values, env: {}, ...extra } });
const field = (item: DesiredItem, key: string) => item.fields.find((f) => f.key === key)!;

describe('interpolation', () => {
  it('substitutes in every allowed place: vault, item keys, titles, tags, urls, literals, env names, file paths, refs, labels, moved', () => {
    const { items, diagnostics, manifest, dir } = load(
      {
        'certs/prod.pem': 'CERT',
        'm.yaml': `variables:
  env: { type: string }
  region: { type: string, default: eu }
  host: { type: string, default: db.example.com }
vault: App-\${var.env}
items:
  db-\${var.env}:
    title: Database \${var.env} (\${var.region})
    category: DATABASE
    # In a flow collection ([...], {...}) a \${...} is quoted: YAML takes { there as the start of a map.
    tags: ["\${var.env}", "team-\${var.region}"]
    urls: ["https://\${var.host}/", { href: "https://admin.\${var.host}", label: "admin \${var.env}" }]
    sections: { conn: "Connection \${var.region}" }
    fields:
      host: { section: conn, label: "host (\${var.env})", value: "\${var.host}" }
      short: \${var.host}:5432
      password: { purpose: PASSWORD, value: { env: "DB_PASSWORD_\${var.env}" } }
      cert: { type: CONCEALED, value: { file: "certs/\${var.env}.pem" } }
      copy: { type: CONCEALED, value: { ref: "op://Shared-\${var.env}/Root/password" } }
moved:
  - { from: "App-\${var.env}/old-db", to: "App-\${var.env}/db-\${var.env}" }
`,
      },
      { ...vars({ env: 'prod' }), env: { DB_PASSWORD_prod: SECRET } },
    );
    expect(diagnostics).toEqual([]);
    const db = items['App-prod/db-prod'];
    expect(db).toMatchObject({
      vault: 'App-prod',
      key: 'db-prod',
      title: 'Database prod (eu)',
      tags: ['prod', 'team-eu'],
      urls: [{ href: 'https://db.example.com/' }, { href: 'https://admin.db.example.com', label: 'admin prod' }],
      sections: [{ key: 'conn', label: 'Connection eu' }],
    });
    expect(field(db, 'host')).toMatchObject({ label: 'host (prod)', source: { kind: 'literal', value: 'db.example.com' } });
    expect(field(db, 'short').source).toEqual({ kind: 'literal', value: 'db.example.com:5432' });
    expect(field(db, 'password').source).toEqual({ kind: 'env', name: 'DB_PASSWORD_prod' });
    expect(field(db, 'cert').source).toEqual({ kind: 'file', path: join(dir, 'certs/prod.pem'), as: 'certs/prod.pem' });
    expect(field(db, 'copy').source).toEqual({ kind: 'ref', ref: 'op://Shared-prod/Root/password' });
    expect(manifest.moved).toEqual([{ from: 'App-prod/old-db', to: 'App-prod/db-prod', pos: { file: 'm.yaml', line: 21, col: 5 } }]);
    // Positions are those of the text as written.
    expect(db.pos).toEqual({ file: 'm.yaml', line: 7, col: 3 });
    expect(field(db, 'short').pos).toEqual({ file: 'm.yaml', line: 16, col: 7 });
    // The value of a variable is in no diagnostic, and the environment's value nowhere in the manifest.
    expect(JSON.stringify(manifest)).not.toContain(SECRET);
  });

  it('keeps the type of a value that is the whole string: numbers, bools, lists', () => {
    const { items, diagnostics } = load({
      'm.yaml': `variables:
  port: { type: number, default: 5432 }
  protect: { type: bool, default: true }
  tags: { type: list, default: [a, b] }
  fields: { type: map, default: { user: admin, url: { type: URL, value: "https://x" } } }
vault: P
items:
  a:
    protect: \${var.protect}
    tags: \${var.tags}
    fields:
      port: \${var.port}
      user: { value: "\${var.port}" }
  b:
    fields: \${var.fields}
`,
    });
    expect(diagnostics).toEqual([]);
    expect(items['P/a'].protect).toBe(true);
    expect(items['P/a'].tags).toEqual(['a', 'b']);
    expect(field(items['P/a'], 'port').source).toEqual({ kind: 'literal', value: '5432' });
    expect(field(items['P/a'], 'user').source).toEqual({ kind: 'literal', value: '5432' });
    expect(items['P/b'].fields.map((f) => [f.key, f.type])).toEqual([['user', 'STRING'], ['url', 'URL']]);
  });

  it('reads into maps and lists: ${var.NAME.key}, ${each.value.a.b}, indices', () => {
    const { items, diagnostics } = load({
      'm.yaml': `variables:
  db: { type: map, default: { prod: { host: p.internal, ports: [5432, 5433] } } }
vault: P
items:
  a:
    fields:
      host: \${var.db.prod.host}
      port: "\${var.db.prod.ports.1}"
`,
    });
    expect(diagnostics).toEqual([]);
    expect(items['P/a'].fields.map((f) => (f.source as { value: string }).value)).toEqual(['p.internal', '5433']);
  });

  it('takes $${ as a literal ${', () => {
    const { items, diagnostics } = load({
      'm.yaml': 'variables:\n  x: { type: string, default: X }\nvault: P\nitems:\n  a:\n    title: "$${var.x} is ${var.x}, $${HOME}"\n    fields:\n      tpl: "$${each.key}"\n',
    });
    expect(diagnostics).toEqual([]);
    expect(items['P/a'].title).toBe('${var.x} is X, ${HOME}');
    expect(field(items['P/a'], 'tpl').source).toEqual({ kind: 'literal', value: '${each.key}' });
    // The same in a file that uses nothing else (the loader's fast path must still unescape).
    const plain = load({ 'm.yaml': 'vault: P\nitems:\n  a: { title: "cost: $${price}" }\n' });
    expect(plain.items['P/a'].title).toBe('cost: ${price}');
    // Written with a YAML escape, ${ is the same text.
    const escaped = load({ 'm.yaml': 'variables:\n  x: { type: string, default: X }\n---\nvault: P\nitems:\n  a: { title: "\\x24{var.x}" }\n' });
    expect(escaped.items['P/a'].title).toBe('X');
  });

  it('reports unknown expressions, undeclared and unset variables, and each outside for_each, at their place', () => {
    const { lines, manifest } = load({
      'm.yaml': `variables:
  name: { type: string, default: n }
  unset: { type: string }
  l: { type: list, default: [a] }
  m: { type: map, default: { k: v } }
vault: P
items:
  a: { title: "\${foo}" }
  b: { title: "\${var}" }
  c: { title: "\${var.nme}" }
  d: { title: "\${var.unset}" }
  e: { title: "\${each.key}" }
  f: { title: "x \${var.l}" }
  g: { title: "\${var.m.nope}" }
  h: { title: "\${var.name" }
  i: { title: "\${var.name.x}" }
  ok: { title: "\${var.name}" }
`,
    });
    expect(lines).toEqual([
      'm.yaml:8:15: error: ${foo} is not an expression opsync knows; write ${var.NAME}, ${each.key} or ${each.value} (and $${ for a literal ${)',
      'm.yaml:9:15: error: ${var} names no variable; write ${var.NAME}',
      'm.yaml:10:15: error: ${var.nme}: no variable "nme" is declared; did you mean name?',
      'm.yaml:11:15: error: ${var.unset}: variable unset has no value; give it with --var unset=..., a --var-file, OPSYNC_VAR_unset, or a default',
      'm.yaml:12:15: error: ${each.key}: each is only set inside a for_each',
      'm.yaml:13:15: error: ${var.l} is a list: only text, a number or a bool goes inside a longer string (a string that is just ${...} takes a list or a map)',
      'm.yaml:14:15: error: ${var.m.nope}: variable m has no key "nope"',
      'm.yaml:15:15: error: "${" without a closing "}"; write $${ for a literal ${',
      'm.yaml:16:15: error: ${var.name.x}: variable name is a string, not a map; it has no key "x"',
    ]);
    // Only the item that expands is built; the others are left out (their problem is reported once).
    expect(manifest.items.map((i) => i.key)).toEqual(['ok']);
  });

  it('refuses a secret literal built from a variable unless the field says allowLiteral, and keeps sources in the plan', () => {
    const { lines, items } = load(
      {
        'm.yaml': `variables:
  pw: { type: string }
  pwenv: { type: string, default: DB_PASSWORD }
vault: P
items:
  a:
    fields:
      password: { purpose: PASSWORD, value: "\${var.pw}" }
      token: { type: CONCEALED, value: "\${var.pw}", allowLiteral: true }
      fromEnv: { type: CONCEALED, value: { env: "\${var.pwenv}" } }
`,
      },
      { ...vars({ pw: SECRET }), env: { DB_PASSWORD: SECRET } },
    );
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^m\.yaml:8:45: error: field "password" is secret \(purpose PASSWORD\): a literal value would put it in git/);
    expect(lines.join('\n')).not.toContain(SECRET);
    const ok = load(
      { 'm.yaml': 'variables:\n  pwenv: { type: string, default: DB_PASSWORD }\nvault: P\nitems:\n  a:\n    fields:\n      p: { type: CONCEALED, value: { env: "${var.pwenv}" } }\n' },
      { env: { DB_PASSWORD: SECRET } },
    );
    expect(ok.diagnostics).toEqual([]);
    // The plan holds the source, never the environment's value.
    expect(field(ok.items['P/a'], 'p')).toMatchObject({ source: { kind: 'env', name: 'DB_PASSWORD' }, sensitive: true });
    expect(JSON.stringify(ok.manifest)).not.toContain(SECRET);
    // allowLiteral takes a literal from a variable as one written out: sensitive, so never shown in a plan.
    expect(field(items['P/a'], 'token')).toMatchObject({ source: { kind: 'literal' }, sensitive: true });
  });

  it('does not interpolate field keys, section keys or the keys of declarations', () => {
    const { lines, items } = load({
      'm.yaml': 'variables:\n  x: { type: string, default: X }\nvault: P\nitems:\n  a:\n    fields:\n      "${var.x}_url": u\n      "$${not}": u\n',
    });
    expect(lines).toEqual([]);
    expect(items['P/a'].fields.map((f) => f.key)).toEqual(['${var.x}_url', '$${not}']);
  });

  it('agrees with itself: a string without ${ is unchanged, and $${ always gives ${', () => {
    const scope = { vars: new Map([['v', { state: 'ok' as const, value: 'V' }]]) };
    fc.assert(
      fc.property(fc.string(), (s) => {
        const plain = s.replaceAll('${', '');
        if (plain.includes('${')) return;
        expect(interpolateString(plain, scope)).toEqual({ ok: true, value: plain });
        // No { or } inside the escaped expression, no $ before an expression (that would escape it).
        const inner = plain.replace(/[{}]/g, '');
        expect(interpolateString(`$\${${inner}}`, scope)).toEqual({ ok: true, value: `\${${inner}}` });
        const around = plain.replace(/[$]/g, '');
        expect(interpolateString(`${around}\${var.v}${around}`, scope)).toEqual({ ok: true, value: `${around}V${around}` });
      }),
    );
  });
});

describe('variables', () => {
  const decl = `variables:
  port: { type: number, default: 5432 }
  env: { type: string, validation: { allowed: [staging, production] } }
  name: { type: string, default: app, validation: { pattern: "^[a-z]+$" } }
  flag: { type: bool, default: false }
  envs: { type: list, default: [a] }
  conf: { type: map, default: { a: 1 } }
vault: P
items:
  a:
    title: "\${var.name}-\${var.env}-\${var.port}-\${var.flag}"
    tags: \${var.envs}
    fields:
      c: "\${var.conf.a}"
`;

  it('takes values in order: default < OPSYNC_VAR_NAME < --var-file/--var, and converts raw text to the declared type', () => {
    const title = (opts: LoadOptions) => {
      const r = load({ 'm.yaml': decl }, opts);
      expect(r.lines).toEqual([]);
      return [r.items['P/a'].title, r.items['P/a'].tags, (field(r.items['P/a'], 'c').source as { value: string }).value];
    };
    expect(title(vars({ env: 'staging' }))).toEqual(['app-staging-5432-false', ['a'], '1']);
    const env = { OPSYNC_VAR_env: 'production', OPSYNC_VAR_port: '6543', OPSYNC_VAR_flag: 'true', OPSYNC_VAR_envs: '[x, y]', OPSYNC_VAR_conf: '{"a": 2}' };
    expect(title({ variables: { values: {}, env } })).toEqual(['app-production-6543-true', ['x', 'y'], '2']);
    expect(title({ variables: { values: { env: 'staging', port: '7000', name: 'web', envs: ['z'] }, env } })).toEqual(['web-staging-7000-true', ['z'], '2']);
    // Without variables in the options, OPSYNC_VAR_ is read from the loader's env.
    expect(title({ env: { OPSYNC_VAR_env: 'staging' } })).toEqual(['app-staging-5432-false', ['a'], '1']);
    // An empty OPSYNC_VAR_ is unset, as {env:} sources treat it.
    expect(load({ 'm.yaml': decl }, { env: { OPSYNC_VAR_env: '' } }).lines).toEqual([
      'm.yaml:11:12: error: ${var.env}: variable env has no value; give it with --var env=..., a --var-file, OPSYNC_VAR_env, or a default',
    ]);
  });

  it('reports a value of the wrong type or outside its validation at the declaration, saying where it came from, never the value', () => {
    const r = load(
      { 'm.yaml': decl },
      {
        variables: {
          values: { port: 'eighty', env: SECRET, envs: 'a, b' },
          sources: { port: { from: '--var' }, env: { from: '--var-file prod.yaml', pos: { file: 'prod.yaml', line: 2, col: 1 } } },
          env: { OPSYNC_VAR_name: 'Not-Lower', OPSYNC_VAR_flag: 'yes', OPSYNC_VAR_conf: '[1]' },
        },
      },
    );
    expect(r.lines).toEqual([
      'm.yaml:2:3: error: variable port: the value from --var is not a number (type number)',
      'm.yaml:3:3: error: variable env: the value from --var-file prod.yaml is not one of the allowed values (staging, production)',
      'm.yaml:4:3: error: variable name: the value from OPSYNC_VAR_name does not match its pattern ^[a-z]+$',
      'm.yaml:5:3: error: variable flag: the value from OPSYNC_VAR_flag is not true or false (type bool)',
      'm.yaml:6:3: error: variable envs: the value from --var is not a list (as YAML or JSON text: [a, b]) (type list)',
      'm.yaml:7:3: error: variable conf: the value from OPSYNC_VAR_conf is not a map (as YAML or JSON text: {a: 1}) (type map)',
    ]);
    expect(JSON.stringify(r.diagnostics)).not.toContain(SECRET);
    expect(r.manifest.items).toEqual([]);
  });

  it('checks declarations: schema, a bad default, a bad pattern, pattern on a non-string, declared twice, a bad name', () => {
    const { lines } = load({
      'a.yaml': `variables:
  a: { type: strnig }
  b: { type: number, default: many }
  c: { type: string, validation: { pattern: "([" } }
  d: { type: list, validation: { pattern: x } }
  e: { type: string, bogus: 1 }
  1x: { type: string }
  f: { type: string, validation: { allowed: [[1]] } }
  twice: { type: string, default: x }
`,
      'b.yaml': 'variables:\n  twice: { type: string, default: y }\n',
    });
    expect(lines).toEqual([
      'a.yaml:7:3: error: variables.1x: "1x" is not a valid key',
      'a.yaml:2:14: error: variables.a.type must be one of string, number, bool, list, map',
      'a.yaml:6:22: error: variables.e.bogus: unknown property',
      'a.yaml:3:31: error: variable b: its default is not a number (type number)',
      'a.yaml:4:45: error: variable c: validation.pattern is not a regular expression (/([/u: Unterminated character class)',
      'a.yaml:5:43: error: variable d: validation.pattern applies to type string only',
      'a.yaml:8:45: error: variable f: every allowed value must be of type string',
      'b.yaml:2:3: error: variable twice is declared twice (also at a.yaml:9:3); declare it once',
    ]);
  });

  it('takes declarations from opsync.yaml (VariableInputs.declared), and warns of values nobody declared', () => {
    const r = load(
      { 'm.yaml': 'vault: P\nitems:\n  a: { title: "${var.team}" }\n' },
      {
        variables: {
          values: { tema: 'x' },
          sources: { tema: { from: '--var' } },
          env: {},
          declared: { team: { type: 'string', default: 'platform', pos: { file: 'opsync.yaml', line: 3, col: 3 } } },
        },
      },
    );
    expect(r.lines).toEqual(['--var:1:1: warning: variable tema is given a value (--var), but no manifest or opsync.yaml declares it: it is not used']);
    expect(r.items['P/a'].title).toBe('platform');
    const twice = load(
      { 'm.yaml': 'variables:\n  team: { type: string }\n' },
      { variables: { values: {}, env: {}, declared: { team: { type: 'string', pos: { file: 'opsync.yaml', line: 3, col: 3 } } } } },
    );
    expect(twice.lines).toEqual(['m.yaml:2:3: error: variable team is declared twice (also at opsync.yaml:3:3); declare it once']);
  });

  it('lets a document hold only declarations (no vault), and still wants a vault beside items', () => {
    const ok = load({ 'vars.yaml': 'variables:\n  x: { type: string, default: X }\n---\ntemplates:\n  t: { category: SERVER }\n', 'm.yaml': 'vault: P\nitems:\n  a: { extends: t, title: "${var.x}" }\n' });
    expect(ok.lines).toEqual([]);
    expect(ok.items['P/a']).toMatchObject({ title: 'X', category: 'SERVER' });
    const bad = load({ 'm.yaml': 'variables:\n  x: { type: string, default: X }\nitems:\n  a: {}\n' });
    expect(bad.lines).toEqual(['m.yaml:1:1: error: document: missing required property "vault"']);
  });
});

describe('for_each', () => {
  it('expands a document once per element of a list or a map, with each.key and each.value', () => {
    const { items, lines, manifest } = load(
      {
        'list.yaml': `for_each: [Staging, Production]
vault: \${each.key}
items:
  db-primary:
    title: "DB (\${each.value})"
    fields:
      password: { purpose: PASSWORD, value: { env: "DB_PASSWORD_\${each.key}" } }
`,
        'map.yaml': `variables:
  envs: { type: map, default: { staging: { host: db.stg, replicas: 1 }, production: { host: db.prod, replicas: 3 } } }
---
for_each: \${var.envs}
vault: Apps-\${each.key}
items:
  api:
    fields:
      host: \${each.value.host}
      replicas: \${each.value.replicas}
`,
      },
      { env: { DB_PASSWORD_Staging: 'x', DB_PASSWORD_Production: 'y' } },
    );
    expect(lines).toEqual([]);
    expect(manifest.items.map((i) => i.address)).toEqual(['Staging/db-primary', 'Production/db-primary', 'Apps-staging/api', 'Apps-production/api']);
    expect(items['Production/db-primary'].title).toBe('DB (Production)');
    expect(field(items['Production/db-primary'], 'password').source).toEqual({ kind: 'env', name: 'DB_PASSWORD_Production' });
    expect(items['Apps-production/api'].fields.map((f) => (f.source as { value: string }).value)).toEqual(['db.prod', '3']);
    // Each instance's nodes are where the template text is, with the instance.
    expect(items['Production/db-primary'].pos).toEqual({ file: 'list.yaml', line: 4, col: 3, instance: 'for_each "Production"' });
    expect(field(items['Apps-staging/api'], 'host').pos).toEqual({ file: 'map.yaml', line: 9, col: 7, instance: 'for_each "staging"' });
  });

  it('expands an item once per element, keyed by its key with ${each.key}', () => {
    const { manifest, lines, items } = load({
      'm.yaml': `variables:
  regions: { type: list, default: [eu, us] }
vault: P
items:
  cache-\${each.key}:
    for_each: \${var.regions}
    title: Cache \${each.value}
  by-map-\${each.key}:
    for_each: { a: 1, b: 2 }
    fields:
      n: \${each.value}
  none-\${each.key}:
    for_each: []
  plain: {}
`,
    });
    expect(lines).toEqual([]);
    expect(manifest.items.map((i) => i.key)).toEqual(['cache-eu', 'cache-us', 'by-map-a', 'by-map-b', 'plain']);
    expect(items['P/cache-us']).toMatchObject({ title: 'Cache us', pos: { file: 'm.yaml', line: 5, col: 3, instance: 'for_each "us"' } });
    expect(field(items['P/by-map-b'], 'n').source).toEqual({ kind: 'literal', value: '2' });
    expect(items['P/plain'].pos).toEqual({ file: 'm.yaml', line: 14, col: 3 });
  });

  it('nests: an item for_each is evaluated with the document element; each is then the item element', () => {
    const { manifest, lines } = load({
      'm.yaml': `for_each: { prod: { regions: [eu, us] }, dev: { regions: [eu] } }
vault: \${each.key}
items:
  cache-\${each.key}:
    for_each: \${each.value.regions}
    title: cache \${each.value}
`,
    });
    expect(lines).toEqual([]);
    expect(manifest.items.map((i) => `${i.address} ${i.title} ${i.pos.instance}`)).toEqual([
      'prod/cache-eu cache eu for_each "prod", for_each "eu"',
      'prod/cache-us cache us for_each "prod", for_each "us"',
      'dev/cache-eu cache eu for_each "dev", for_each "eu"',
    ]);
  });

  it('reports malformed for_each, and two instances with one address, naming both instances', () => {
    const { lines } = load({
      'm.yaml': `variables:
  s: { type: string, default: x }
vault: P
items:
  a-\${each.key}:
    for_each: \${var.s}
  b-\${each.key}:
    for_each: [x, { y: 1 }]
  c-\${each.key}:
    for_each: [x, x]
  same:
    for_each: [one, two]
  d-x: {}
  d-\${each.key}:
    for_each: [w, x]
`,
      'docs.yaml': 'for_each: [a, b]\nvault: Same\nitems:\n  db: {}\n---\nfor_each: 3\nvault: P\n',
    });
    expect(lines).toEqual([
      'docs.yaml:6:11: error: for_each must be a list or a map (or ${var.NAME} of one), not a number',
      'm.yaml:6:15: error: items.a-${each.key}.for_each must be a list or a map (or ${var.NAME} of one), not a string',
      'm.yaml:8:19: error: items.b-${each.key}.for_each: element 1 is a map; the elements of a list are text or numbers (to give each one more, use a map: { key: value })',
      'm.yaml:10:19: error: items.c-${each.key}.for_each: "x" is in the list twice; each element makes one instance',
      'm.yaml:11:3 (for_each "two"): error: items.same: for_each "two" gives the same resource key as for_each "one" (at m.yaml:11:3 (for_each "one")); make each key distinct, e.g. with ${each.key} in it',
      'm.yaml:14:3 (for_each "x"): error: items.d-x: for_each "x" gives the same resource key as items.d-x (at m.yaml:13:3); make each key distinct, e.g. with ${each.key} in it',
      'docs.yaml:4:3 (for_each "b"): error: duplicate address Same/db (also at docs.yaml:4:3 (for_each "a"))',
    ]);
  });

  it('adds and removes instances with the elements: the addresses of the others stay', () => {
    const m = (envs: string) => `variables:\n  envs: { type: list }\n---\nfor_each: \${var.envs}\nvault: \${each.key}\nitems:\n  db: {}\n  api: {}\n`;
    const at = (envs: unknown) => load({ 'm.yaml': m('') }, vars({ envs })).manifest.items.map((i) => i.address);
    expect(at('[staging, production]')).toEqual(['staging/db', 'staging/api', 'production/db', 'production/api']);
    expect(at(['staging', 'production', 'qa'])).toEqual(['staging/db', 'staging/api', 'production/db', 'production/api', 'qa/db', 'qa/api']);
    expect(at(['production'])).toEqual(['production/db', 'production/api']);
    expect(at([])).toEqual([]);
  });
});

describe('templates', () => {
  const templates = `templates:
  base:
    tags: [managed]
    urls: [https://base.example.com]
    sections: { conn: Connection }
    fields:
      host: { section: conn, value: base.internal }
      user: { value: admin, label: User }
  db:
    extends: base
    category: DATABASE
    fields:
      port: { section: conn, value: "5432" }
      password: { purpose: PASSWORD, generate: { length: 20 } }
  app:
    category: SERVER
    tags: [app]
`;

  it('merges in order: templates (and theirs) then the item; maps deep, fields by key (the item replaces a field whole), lists replaced', () => {
    const { items, lines } = load({
      't.yaml': templates,
      'm.yaml': `vault: P
items:
  primary:
    extends: db
    fields:
      user: { value: app }
  both:
    extends: [db, app]
    urls: [https://both.example.com]
    sections: { extra: Extra }
`,
    });
    expect(lines).toEqual([]);
    const p = items['P/primary'];
    expect(p).toMatchObject({ category: 'DATABASE', tags: ['managed'], urls: [{ href: 'https://base.example.com' }] });
    expect(p.fields.map((f) => f.key)).toEqual(['host', 'user', 'port', 'password']);
    // The item's field body replaces the template's whole: its label is gone.
    expect(field(p, 'user')).toMatchObject({ label: 'user', source: { kind: 'literal', value: 'app' } });
    expect(field(p, 'password').source).toEqual({ kind: 'generate', recipe: { length: 20 } });
    const b = items['P/both'];
    expect(b).toMatchObject({ category: 'SERVER', tags: ['app'], urls: [{ href: 'https://both.example.com' }] });
    expect(b.sections).toEqual([{ key: 'conn', label: 'Connection' }, { key: 'extra', label: 'Extra' }]);
    // Positions: a field a template gave is at the template's text, with the chain of templates.
    expect(field(p, 'host').pos).toEqual({ file: 't.yaml', line: 7, col: 7, instance: 'extends "db", extends "base"' });
    expect(field(p, 'port').pos).toEqual({ file: 't.yaml', line: 13, col: 7, instance: 'extends "db"' });
    expect(field(p, 'user').pos).toEqual({ file: 'm.yaml', line: 6, col: 7 });
  });

  it('reports errors in template text at the template line, with the instance that used it', () => {
    const { lines } = load({
      't.yaml': 'templates:\n  db:\n    category: DATABSE\n    fields:\n      pw: { type: CONCEALED, value: "${each.key}-literal" }\n',
      'm.yaml': 'for_each: [production]\nvault: P\nitems:\n  db-${each.key}:\n    extends: db\n    fields:\n      ok: x\n',
    });
    expect(lines).toEqual([
      expect.stringMatching(/^t\.yaml:3:15 \(for_each "production", extends "db"\): error: items\.db-production\.category must be one of LOGIN, /),
      expect.stringMatching(/^t\.yaml:5:37 \(for_each "production", extends "db"\): error: field "pw" is secret \(CONCEALED\): a literal value would put it in git/),
    ]);
  });

  it('reports unknown templates with the closest name, cycles with the chain, and templates defined twice', () => {
    const { lines, manifest } = load({
      't.yaml': 'templates:\n  database: {}\n  a: { extends: b }\n  b: { extends: c }\n  c: { extends: a }\n  loop: { extends: loop }\n  e: { for_each: [x] }\n  f: { extends: 3 }\n',
      'u.yaml': 'templates:\n  database: {}\n',
      'm.yaml': 'vault: P\nitems:\n  x: { extends: databse }\n  y: { extends: [database, a] }\n  z: { extends: loop }\n  w: { extends: f }\n  ok: { extends: database }\n',
    });
    expect(lines).toEqual([
      'm.yaml:3:17: error: items.x.extends: no template "databse"; did you mean database?',
      't.yaml:7:8: error: templates.e: a template cannot have for_each; put it on the item that extends the template',
      't.yaml:3:17: error: templates extend each other in a cycle: a -> b -> c -> a',
      't.yaml:6:20: error: templates extend each other in a cycle: loop -> loop',
      't.yaml:8:17: error: templates.f: extends must be a template name or a list of them',
      'u.yaml:2:3: error: template database is defined twice (also at t.yaml:2:3); define it once',
    ]);
    expect(manifest.items.map((i) => i.key)).toEqual(['ok']);
  });

  it('costs the size of a chain of templates, not the number of its paths (a diamond of 40 levels)', () => {
    let t = 'templates:\n  t0: { tags: [x], fields: { f0: v } }\n';
    for (let i = 1; i <= 40; i++) t += `  t${i}: { extends: [t${i - 1}, t${i - 1}], fields: { f${i}: v } }\n`;
    const { items, lines } = load({ 't.yaml': t, 'm.yaml': 'vault: P\nitems:\n  a: { extends: t40 }\n' });
    expect(lines).toEqual([]);
    expect(items['P/a'].fields).toHaveLength(41);
  });
});

describe('YAML anchors and merge keys', () => {
  it('merges <<: *defaults (one or a list), the map own keys winning, with positions at the anchor for merged keys', () => {
    const { items, lines } = load({
      'm.yaml': `vault: P
defaults: &defaults
  category: DATABASE
  tags: [db]
x-more: &more { protect: true }
items:
  a:
    <<: *defaults
    title: A
  b:
    <<: [*defaults, *more]
    tags: [own]
    fields:
      u: x
`,
    });
    // "defaults" and "x-more" are not manifest properties: the schema says so, and the rest is built.
    expect(lines).toEqual(['m.yaml:2:1: error: defaults: unknown property', 'm.yaml:5:1: error: x-more: unknown property']);
    expect(items['P/a']).toMatchObject({ title: 'A', category: 'DATABASE', tags: ['db'] });
    expect(items['P/b']).toMatchObject({ category: 'DATABASE', tags: ['own'], protect: true });
  });

  it('positions an error in a merged key where the anchor wrote it', () => {
    const { lines } = load({
      'm.yaml': 'templates:\n  x: &base\n    category: NOPE\n---\nvault: P\nitems:\n  a:\n    <<: {category: ALSO_NOPE}\n  b: &b\n    fields: { f: { type: BAD } }\n  c:\n    <<: *b\n',
    });
    expect(lines).toEqual([
      expect.stringMatching(/^m\.yaml:8:20: error: items\.a\.category must be one of /),
      expect.stringMatching(/^m\.yaml:10:26: error: items\.b\.fields\.f\.type must be one of /),
      expect.stringMatching(/^m\.yaml:10:26: error: items\.c\.fields\.f\.type must be one of /),
    ]);
  });

  it('reports a merge key of something other than a mapping, and still caps aliases', () => {
    const { lines } = load({ 'm.yaml': 'vault: P\nitems:\n  a:\n    <<: 1\n' });
    expect(lines).toEqual(['m.yaml:4:5: error: YAML: a merge key (<<) takes a mapping, an alias of one, or a list of them']);
    const bomb = ['vault: P', 'a: &a {x: 1, y: 2, z: 3, w: 4}'];
    for (const [prev, name] of [['a', 'b'], ['b', 'c'], ['c', 'd'], ['d', 'e']]) bomb.push(`${name}: &${name} [${Array(10).fill(`*${prev}`).join(', ')}]`);
    bomb.push('items:', '  i:', '    <<: *a');
    expect(load({ 'bomb.yaml': `${bomb.join('\n')}\n` }).lines).toEqual(['bomb.yaml:3:8: error: YAML: aliases expand to more than 100 nodes; write the values out instead']);
  });
});

describe('the boundary', () => {
  it('passes documents that use nothing of the stage on as the same objects', () => {
    const dir = project({ 'm.yaml': 'vault: P\nitems:\n  a: { title: A }\n', 'n.yaml': 'vault: Q\nitems: {}\n' });
    const read = readManifestFiles(['.'], dir);
    const out = expandManifests(read.files, { values: {}, env: {} });
    expect(out.files.map((f) => f.docs)).toEqual(read.files.map((f) => f.docs));
    out.files.forEach((f, i) => f.docs.forEach((d, j) => expect(d).toBe(read.files[i].docs[j])));
    expect(read.files.map((f) => f.mayInterpolate)).toEqual([false, false]);
  });

  it('renders the expanded documents per file, with value sources as written', () => {
    const dir = project({
      'vars.yaml': 'variables:\n  envs: { type: list, default: [staging, production] }\ntemplates:\n  db: { category: DATABASE, fields: { password: { purpose: PASSWORD, value: { env: "DB_${each.key}" } } } }\n',
      'apps.yaml': 'for_each: ${var.envs}\nvault: ${each.key}\nitems:\n  db:\n    extends: db\n    title: "DB ${each.key}"\n',
    });
    const r = renderManifests(['.'], { cwd: dir, env: { DB_staging: SECRET } });
    expect(r.diagnostics).toEqual([]);
    expect(r.files).toEqual([
      {
        file: 'apps.yaml',
        documents: [
          { vault: 'staging', items: { db: { category: 'DATABASE', fields: { password: { purpose: 'PASSWORD', value: { env: 'DB_staging' } } }, title: 'DB staging' } } },
          { vault: 'production', items: { db: { category: 'DATABASE', fields: { password: { purpose: 'PASSWORD', value: { env: 'DB_production' } } }, title: 'DB production' } } },
        ],
      },
      { file: 'vars.yaml', documents: [] },
    ]);
    expect(JSON.stringify(r)).not.toContain(SECRET);
    const bad = renderManifests(['.', 'absent'], { cwd: dir, variables: { values: { envs: 'nope: [' }, env: {} } });
    expect(bad.diagnostics.map((d) => formatDiagnostic(d, dir))).toEqual([
      'absent:1:1: error: no such file or folder',
      'vars.yaml:2:3: error: variable envs: the value from --var is not a list (as YAML or JSON text: [a, b]) (type list)',
    ]);
  });

  it('prints the instance after the position', () => {
    expect(formatDiagnostic({ file: 'm.yaml', line: 12, col: 7, instance: 'for_each "production"', severity: 'error', message: 'x' })).toBe(
      'm.yaml:12:7 (for_each "production"): error: x',
    );
    expect(formatDiagnostic({ file: 'm.yaml', line: 1, col: 1, instance: 'for_each "a\u001b"', severity: 'error', message: 'x' })).toBe(
      'm.yaml:1:1 (for_each "a\\u001b"): error: x',
    );
  });
});

describe('values that variables give', () => {
  it('are never evaluated again: the strings of a map a variable gave to for_each stay text', () => {
    const { items, diagnostics } = load(
      { 'm.yaml': 'variables:\n  m: { type: map }\nfor_each: ${var.m}\nvault: P\nitems:\n  a-${each.key}:\n    title: "${each.value}"\n    category: LOGIN\n' },
      vars({ m: { x: '${var.zz}' } }),
    );
    expect(diagnostics).toEqual([]);
    expect(items['P/a-x'].title).toBe('${var.zz}');
  });
});
