// The quick reader against the yaml library: whatever text the quick reader takes, the library must read
// without an error, to the same data (key order included) and with every node at the same position, key or
// value, as positionOf finds it in the library's document. Everything else must be left to the library.
// Documents are generated from manifest-like pieces and odd ones (indicators, numbers, escapes, comments,
// indentation), then mutated at random, so that near misses of the subset are tried as much as hits.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LineCounter, parseAllDocuments } from 'yaml';
import { positionIn, positionOf, type JsonPath, type PosNode } from '../../src/manifest/positions.js';
import { flowNode, quickParse } from '../../src/manifest/quickYaml.js';

const REPO = join(import.meta.dirname, '../..');

/** Data with its keys' order made visible (isDeepStrictEqual ignores it). */
function ordered(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(ordered);
  if (v !== null && typeof v === 'object') return Object.keys(v).map((k) => [k, ordered((v as Record<string, unknown>)[k])]);
  return v;
}

/**
 * Every path to a node of the quick reader's tree (flow collections read again with their entries), and one
 * step past each (a missing key, index, or a step into a scalar).
 */
function paths(text: string, node: PosNode, at: JsonPath = [], out: JsonPath[] = []): JsonPath[] {
  out.push(at, [...at, 'zz-missing'], [...at, 99]);
  if (typeof node === 'number' && node < 0) node = flowNode(text, -1 - node);
  if (typeof node === 'number') return out;
  if ('entries' in node) {
    for (let s = 0; s < node.entries.length; s += 3) paths(text, node.entries[s + 2] as PosNode, [...at, node.entries[s] as string], out);
  } else node.items.forEach((item, i) => paths(text, item, [...at, i % 2 ? String(i) : i], out));
  return out;
}

/** 'quick' when the quick reader took the text (and agrees with the library), 'library' when it left it. */
function compare(text: string): 'quick' | 'library' {
  const quick = quickParse(text);
  if (!quick) return 'library';
  const lines = new LineCounter();
  // Merge keys on, as the loader parses: the quick reader must leave every `<<` to the library.
  const docs = parseAllDocuments(text, { lineCounter: lines, prettyErrors: false, merge: true });
  const list = Array.isArray(docs) ? docs : [docs];
  expect(list.flatMap((d) => d.errors.map((e) => e.message)), text).toEqual([]);
  expect(quick.docs.length, text).toBe(list.length);
  list.forEach((doc, k) => {
    const lib = doc.toJS({ maxAliasCount: 100 });
    const mine = quick.docs[k].data;
    if (!isDeepStrictEqual(mine, lib) || !isDeepStrictEqual(ordered(mine), ordered(lib))) expect(mine, text).toEqual(lib);
    for (const path of paths(text, quick.docs[k].root)) {
      for (const atKey of [true, false]) {
        const want = positionOf(doc, lines, 'f', path, atKey);
        const got = positionIn(quick.docs[k].root, quick.lines, 'f', path, atKey, (offset) => flowNode(text, offset));
        if (got.line !== want.line || got.col !== want.col) expect({ path, atKey, got, text }).toEqual({ path, atKey, got: want, text });
      }
    }
  });
  return 'quick';
}

const PLAIN = [
  'a', 'db-1.internal', 'Hello world', 'x y  z', '5432', '0', '-0', '-1', '+1', '01', '0o17', '0o8', '0x1F', '0x1g', '1e3', '1E-3', '1.5', '.5',
  '1.', '.inf', '-.Inf', '+.INF', '.nan', '.NaN', 'NaN', 'true', 'True', 'TRUE', 'tRUE', 'false', 'yes', 'no', 'on', 'null', 'Null', 'NULL',
  'nULL', '~', 'https://x.example.com/a?b=c#d', 'a:b', 'a#b', 'a #b', 'a: b', 'a:', 'a,b', 'a[0]', 'a{b}', '{x}', '[x]', '-x', '- x', '-',
  '--', '---', '...', '?x', '? x', ':x', '%x', '@x', '`x', '&a x', '*a', '!t x', '!!str x', '|', '>', '|-', "it's", 'a"b', "a'b", '1_000',
  '12:30', '2001-12-14', '<<', '__proto__', 'toString', 'constructor', 'é', '日本語', '\u00a0x', 'a\\b', 'a\\nb', 'x\u0085y', 'a\u2028b',
  'op://Vault/Item/field', '#', 'a #', '$HOME', 'a\tb', '9007199254740993', '1e400', '0x', 'a,', ',a', 'a]', 'a}',
];
const QUOTED_PARTS = [
  'a', ' ', 'b c', '\\n', '\\t', '\\x41', '\\u263A', '\\U0001F600', '\\U00110000', '\\q', '\\"', '\\\\', '\\ ', '\\/', '\\_', '\\N', '\\L',
  '\\P', '\\e', '\\0', '\\xZZ', '\\uD83D', '#', ': ', "'", "''", ',', ']', '}', '\\', 'é',
];
const KEYS = [
  'vault', 'items', 'fields', 'a', 'b', 'c', 'api key', 'a b', 'k:v', 'x ', 'a#b', 'a #b', '1', '01', '1.0', 'true', 'null', '~', '__proto__',
  'toString', '<<', '-k', '?k', 'k,l', 'k[0]', '"q"', "'q'", '"a": b', '日本', 'é', 'x'.repeat(1030), `"${'x'.repeat(1030)}"`, '', '&a k', '*k',
  '!t k', '%k', '@k',
];

/** What manifests hold, most of the time; the odd pieces above the rest. */
const COMMON = ['a', 'db-1.internal', 'Hello world', '5432', '-1', '1.5', 'true', 'null', 'https://x.example.com/a?b=c', 'op://V/I/f', 'LOGIN', 'x-y_z'];
const COMMON_KEYS = ['vault', 'items', 'fields', 'a', 'b', 'c', 'api key', 'title', 'value', 'env', '1', 'true'];
const plain = fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...COMMON) }, { weight: 1, arbitrary: fc.constantFrom(...PLAIN) });
const quoted = fc.tuple(fc.constantFrom('"', "'"), fc.array(fc.constantFrom(...QUOTED_PARTS), { maxLength: 4 })).map(([q, parts]) => {
  const body = parts.join('');
  return q === '"' ? `"${body}"` : `'${body.replace(/'(?!')/g, "''")}'`;
});
const scalar = fc.oneof({ weight: 3, arbitrary: plain }, { weight: 1, arbitrary: quoted });
const key = fc.oneof({ weight: 8, arbitrary: fc.constantFrom(...COMMON_KEYS) }, { weight: 2, arbitrary: fc.constantFrom(...KEYS) }, { weight: 1, arbitrary: quoted });
const sp = fc.constantFrom('', ' ', ' ', '  ');

const { flow } = fc.letrec((tie) => ({
  flow: fc.oneof(
    { depthSize: 'small' },
    fc.tuple(fc.array(fc.tuple(key, sp, tie('value') as fc.Arbitrary<string>), { maxLength: 3 }), sp, fc.boolean()).map(
      ([es, s, trailing]) => `{${s}${es.map(([k, s2, v]) => `${k}:${s2 || ' '}${v}`).join(`,${s}`)}${trailing && es.length ? ',' : ''}${s}}`,
    ),
    fc.tuple(fc.array(tie('value') as fc.Arbitrary<string>, { maxLength: 3 }), sp).map(([vs, s]) => `[${s}${vs.join(`,${s || ' '}`)}${s}]`),
  ),
  value: fc.oneof({ depthSize: 'small' }, { weight: 4, arbitrary: scalar }, { weight: 1, arbitrary: tie('flow') as fc.Arbitrary<string> }),
}));
const inline = fc.oneof({ weight: 3, arbitrary: scalar }, { weight: 1, arbitrary: flow as fc.Arbitrary<string> });
const comment = fc.constantFrom('', '', '', ' # note', '  #n', '#n', ' #');

type Block = { kind: 'map'; entries: [string, Value, string][] } | { kind: 'seq'; items: Value[] };
type Value = { kind: 'inline'; text: string; comment: string } | Block | { kind: 'empty' };

const { block } = fc.letrec((tie) => ({
  block: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.array(fc.tuple(key, tie('value') as fc.Arbitrary<Value>, comment), { minLength: 1, maxLength: 4 }).map((entries): Block => ({ kind: 'map', entries })),
    fc.array(tie('value') as fc.Arbitrary<Value>, { minLength: 1, maxLength: 3 }).map((items): Block => ({ kind: 'seq', items })),
  ),
  value: fc.oneof(
    { depthSize: 'small' },
    { weight: 12, arbitrary: fc.tuple(inline, comment).map(([text, c]): Value => ({ kind: 'inline', text, comment: c })) },
    { weight: 4, arbitrary: tie('block') as fc.Arbitrary<Value> },
    { weight: 1, arbitrary: fc.constant<Value>({ kind: 'empty' }) },
  ),
}));

/** YAML text of a block at `indent`, each nested block `step` further (and compact maps after "- "). */
function render(b: Block, indent: number, step: number, gap: string, out: string[]): void {
  const pad = ' '.repeat(indent);
  const nested = (v: Value, head: string, headComment = '') => {
    if (v.kind === 'inline') out.push(`${head} ${v.text}${v.comment}`);
    else if (v.kind === 'empty') out.push(head + headComment);
    else {
      out.push(head + headComment);
      render(v, indent + step, step, gap, out);
    }
  };
  if (b.kind === 'map') {
    for (const [k, v, c] of b.entries) nested(v, `${pad}${k}:`, c);
    return;
  }
  for (const v of b.items) {
    if (v.kind === 'map' && v.entries.length > 0 && gap !== 'none') {
      // A compact mapping: "- key: value" and its other keys at the column of the first.
      const inner: string[] = [];
      render(v, indent + 1 + gap.length, step, gap, inner);
      out.push(`${pad}-${gap}${inner[0].slice(indent + 1 + gap.length)}`, ...inner.slice(1));
    } else nested(v, `${pad}-`);
  }
}

const NOISE = [' ', '  ', '#', ' #', ':', ': ', '-', '- ', ',', '[', ']', '{', '}', '"', "'", '&a ', '*a', '!', '|', '>', '?', '%', '@', '\t', '\r', '\n', '\n  ', '\\', '---\n', 'é'];

const documentText = fc
  .tuple(
    fc.array(fc.tuple(block, fc.constantFrom(1, 2, 2, 3, 4), fc.constantFrom(' ', ' ', '  ', 'none')), { minLength: 1, maxLength: 2 }),
    fc.constantFrom('', '---\n', '# head\n', '\n'),
    fc.constantFrom('\n', '\n', '', '\n\n', '\n# tail\n', '  \n'),
    fc.array(fc.tuple(fc.nat(), fc.constantFrom('# c', '  # c', '', '    ', '      #c')), { maxLength: 2 }),
    fc.oneof(
      fc.constant([] as [number, number, string, string][]),
      fc.array(fc.tuple(fc.nat(), fc.nat(), fc.constantFrom(...NOISE), fc.constantFrom('insert', 'delete', 'indent', 'dedent', 'dup')), { minLength: 1, maxLength: 2 }),
    ),
  )
  .map(([docs, head, tail, extraLines, mutations]) => {
    const rendered = docs.map(([b, step, gap]) => {
      const lines: string[] = [];
      render(b.kind === 'map' ? b : { kind: 'map', entries: [['root', b, '']] }, 0, step, gap, lines);
      return lines;
    });
    let lines = rendered.flatMap((l, i) => (i === 0 ? l : ['---', ...l]));
    for (const [at, line] of extraLines) lines.splice(at % (lines.length + 1), 0, line);
    for (const [at, off, noise, how] of mutations) {
      const n = at % lines.length;
      const line = lines[n];
      if (how === 'insert') lines[n] = line.slice(0, off % (line.length + 1)) + noise + line.slice(off % (line.length + 1));
      else if (how === 'delete') lines[n] = line.slice(0, off % (line.length + 1)) + line.slice((off % (line.length + 1)) + 1);
      else if (how === 'indent') lines[n] = ` ${line}`;
      else if (how === 'dedent') lines[n] = line.replace(/^ /, '');
      else lines = [...lines.slice(0, n + 1), line, ...lines.slice(n + 1)];
    }
    return head + lines.join('\n') + tail;
  });

describe('the quick YAML reader', () => {
  it('agrees with the yaml library on every generated document it takes, and takes many', () => {
    const seen = { quick: 0, library: 0 };
    fc.assert(
      fc.property(documentText, (text) => {
        seen[compare(text)]++;
      }),
      { numRuns: Number(process.env.QUICK_RUNS ?? 4000) },
    );
    if (process.env.QUICK_RUNS) console.log(seen);
    // Not vacuous: a good share of the documents are in the subset (and the rest were left to the library).
    expect(seen.quick).toBeGreaterThan(400);
    expect(seen.library).toBeGreaterThan(400);
  });

  it('takes the manifests of the examples and the README, and the shapes manifests use', () => {
    for (const file of ['examples/webapp/manifests/webapp.yaml', 'examples/webapp/seed.yaml', 'examples/webapp/opsync.yaml']) {
      expect(compare(readFileSync(join(REPO, file), 'utf8')), file).toBe('quick');
    }
    const readme = readFileSync(join(REPO, 'README.md'), 'utf8');
    const manifest = /## Manifests[\s\S]*?```yaml\n([\s\S]*?)```/.exec(readme)![1];
    expect(compare(manifest)).toBe('quick');
    for (const text of [
      'vault: P\nitems:\n  a:\n    tags: [x, "y z"]\n    urls: [https://a.example.com/x?y=1]\n    fields:\n      port: 5432\n      pw: { purpose: PASSWORD, value: { env: PW } }\n',
      'vault: P\nitems:\n\n  # a comment\n  a: {}   # after\nmoved:\n  - { from: P/a, to: P/b }\nremoved:\n  - from: P/c\n    destroy: false\n',
      '# head\n---\nvault: P\nitems: {}\n---\nvault: Q\nitems:\n  "quoted key": { title: "T \\u00e9 \\x41" }\n',
      "vault: P\nitems:\n  'it''s': { fields: { n: -1, f: 1.5, t: true, z: ~, h: 0x1F } }\n",
      'vault: P\nitems:\n  a:\n    fields:\n      __proto__: { value: x }\n      toString: 1\n',
    ]) {
      expect(compare(text), text).toBe('quick');
    }
  });

  it('leaves to the library what it does not read exactly', () => {
    for (const text of [
      'vault: P\nitems:\n  a: &x {}\n  b: *x\n', // anchors and aliases
      'vault: P\nitems:\n  a: !!map {}\n', // tags
      'vault: P\nitems:\n  a:\n    fields:\n      n: { value: |\n          text\n        }\n', // a multi-line flow collection
      'vault: P\nitems:\n  a:\n    fields:\n      notes:\n        value: |\n          text\n', // a block scalar
      'vault: P\ntitle: a long\n  line\n', // a multi-line plain scalar
      'vault: P\nitems:\n  a: {}\n  a: {}\n', // a repeated key (the library reports it)
      'vault: P\nitems:\n  1: {}\n  "1": {}\n', // two keys that are one property in JS
      'vault: P\nitems:\n', // an empty value
      'vault: P\r\nitems: {}\r\n', // CR
      'vault: P\nitems:\n\ta: {}\n', // a tab
      '\ufeffvault: P\n', // a BOM
      '- a\n', // not a mapping
      'vault: P\nitems: [unclosed\n', // an error
      'vault: P\n---\n', // an empty document
      '%YAML 1.2\n---\nvault: P\n', // a directive
      'vault: P\n...\n', // a document end marker
      'vault: P\nitems:\n  ? a\n  : {}\n', // a complex key
      'vault: P\nitems:\n- a\n', // a sequence at its key's column
      'vault: P\na: b: c\n', // a nested mapping on one line
      `vault: P\nx: ${'['.repeat(100)}${']'.repeat(100)}\n`, // flow collections nested deeper than 64
    ]) {
      expect(quickParse(text), text).toBeUndefined();
    }
  });
});
