// Loading stays linear in the size of the manifests, with nothing of its output changed: positions of a
// large document are found by index, the yaml library's duplicate-key check (quadratic in a map's size)
// is replaced by a linear one, and YAML errors stay exactly the library's. No timing here: work is counted.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LineCounter, parseAllDocuments } from 'yaml';
import { describe, expect, it } from 'vitest';
import { formatDiagnostic, loadManifests } from '../../src/manifest/load.js';
import { positionWork } from '../../src/manifest/positions.js';

function write(text: string): { dir: string; file: string } {
  const dir = mkdtempSync(join(tmpdir(), 'opsync-scale-'));
  writeFileSync(join(dir, 'm.yaml'), text);
  return { dir, file: 'm.yaml' };
}

const items = (n: number) =>
  Array.from(
    { length: n },
    (_, i) =>
      `  i${i}:\n    title: Item ${i}\n    sections: { s: Section }\n    fields:\n      user: { section: s, value: u${i} }\n      pw: { purpose: PASSWORD, value: { env: PW } }\n      copy: { type: CONCEALED, value: { ref: "op://P/Item ${Math.max(0, i - 1)}/s/user" } }\n`,
  ).join('');

/** Map entries looked at to find every position of a one-document manifest of n items. */
function work(n: number, extra = ''): number {
  const { dir, file } = write(`vault: P\nitems:\n${items(n)}${extra}`);
  positionWork.entries = 0;
  const r = loadManifests([file], { cwd: dir, env: { PW: 'x' } });
  expect(r.diagnostics.filter((d) => !d.message.includes('is not declared'))).toEqual([]);
  expect(r.manifest.items).toHaveLength(n);
  return positionWork.entries;
}

/** What the yaml library itself says of a text, with its own duplicate-key check. */
function libraryErrors(text: string): string[] {
  const lines = new LineCounter();
  return parseAllDocuments(text, { lineCounter: lines, prettyErrors: false, merge: true })
    .flatMap((d) => d.errors)
    .map((e) => {
      const { line, col } = lines.linePos(e.pos[0]);
      return `m.yaml:${line}:${col}: error: YAML: ${e.message.split('\n')[0]}`;
    });
}

describe('loading at scale', () => {
  it('finds the positions of every field of N items in one document with O(N) work', () => {
    const small = work(100);
    const large = work(1000);
    // A linear search of the items map per lookup would make this ratio about 100.
    expect(large / small).toBeLessThan(12);
    expect(large / 1000).toBeLessThan(60);
  });

  it('keeps positions in a large document exact', () => {
    const { dir, file } = write(`vault: P\nitems:\n${items(50)}  last:\n    fields:\n      pw: { type: CONCEALED, value: oops }\n`);
    const r = loadManifests([file], { cwd: dir, env: { PW: 'x' } });
    const last = r.manifest.items.find((i) => i.key === 'last');
    expect(last?.pos).toEqual({ file, line: 2 + 50 * 7 + 1, col: 3 });
    expect(r.diagnostics.map((d) => formatDiagnostic(d, dir))).toEqual([
      expect.stringMatching(new RegExp(`^m\\.yaml:${2 + 50 * 7 + 3}:37: error: field "pw" is secret`)),
    ]);
  });

  it('resolves references to the first item named by title or key, as before', () => {
    const { dir, file } = write(`vault: P
items:
  a: { title: B, fields: { x: { type: CONCEALED, generate: true } } }
  B: { fields: { y: { type: CONCEALED, generate: true } } }
  r1: { fields: { z: { type: CONCEALED, value: { ref: "op://P/B/y" } } } }
  r2: { fields: { z: { type: CONCEALED, value: { ref: "op://P/a/x" } } } }
`);
    const r = loadManifests([file], { cwd: dir, env: {} });
    // B is a's title and B's key: a comes first, so op://P/B/y names no field of P/a.
    expect(r.diagnostics.map((d) => formatDiagnostic(d, dir))).toEqual([
      expect.stringMatching(/^m\.yaml:4:3: error: duplicate title "B" in vault P/),
      expect.stringMatching(/^m\.yaml:5:19: error: field "z": reference op:\/\/P\/B\/y names no field of P\/a/),
    ]);
  });

  it('reports repeated keys exactly as the yaml library does, wherever they are', () => {
    const cases = [
      `vault: P\nitems:\n${items(30)}  i7:\n    title: again\n`,
      'vault: P\nitems:\n  a:\n    fields:\n      x: 1\n      x: 2\n',
      'vault: P\nitems: { a: {}, b: {}, a: {} }\n',
      'vault: P\nvault: Q\nitems:\n  "a": {}\n  a: {}\n',
      'vault: P\nitems:\n  &k a: {}\n  !!str a: {}\n  ? a\n  : {}\n',
      'vault: P\nitems:\n  a: {}\n  a: {}\n---\nvault: Q\nitems: [unclosed\n',
      'vault: P\nitems:\n  a: { fields: { x: 1, x: 2 } }\n  b: *undefined\n',
      'vault: P\nitems:\n  1: {}\n  "1": {}\n  ~: {}\n  null: {}\n',
    ];
    for (const text of cases) {
      const { dir, file } = write(text);
      const lines = loadManifests([file], { cwd: dir, env: {} }).diagnostics.map((d) => formatDiagnostic(d, dir));
      const expected = libraryErrors(text);
      expect(expected.length).toBeGreaterThan(0);
      expect(lines.filter((l) => l.includes('YAML:'))).toEqual(expected);
    }
  });

  it('takes keys the library takes as different', () => {
    const { dir, file } = write('vault: P\nitems:\n  a: {}\n  "a ": {}\n  A: {}\n');
    const r = loadManifests([file], { cwd: dir, env: {} });
    expect(r.diagnostics).toEqual([]);
    expect(r.manifest.items.map((i) => i.key)).toEqual(['a', 'a ', 'A']);
  });

  it('leaves process.env as it was', () => {
    const env = process.env;
    const { dir, file } = write('vault: P\nitems:\n  a: {}\n');
    loadManifests([file], { cwd: dir });
    expect(process.env).toBe(env);
  });
});
