// docs/connect-fidelity.md stays true: every test it cites exists under the name it gives, server tests under
// test/server/ (the `test` column) and client tests under test/ (the `client test` column), and a row without
// any test says why (a behaviour not copied, or one where the sources are silent).
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const LEDGER = new URL('../../docs/connect-fidelity.md', import.meta.url);
const SERVER_TESTS = new URL('./', import.meta.url);
const ALL_TESTS = new URL('../', import.meta.url);

/** #, behaviour, source, opsync server, opsync client, test, client test. */
const COLUMNS = 7;

interface Row {
  n: number;
  cells: number;
  server: string;
  client: string;
  test: string;
  clientTest: string;
}

function rows(): Row[] {
  const out: Row[] = [];
  for (const line of readFileSync(LEDGER, 'utf8').split('\n')) {
    const m = /^\| (\d+) \|/.exec(line);
    if (!m) continue;
    const cells = line.replace(/ \|$/, '').split(' | ');
    out.push({ n: Number(m[1]), cells: cells.length, server: cells[3] ?? '', client: cells[4] ?? '', test: cells[5] ?? '', clientTest: cells[6] ?? '' });
  }
  return out;
}

/**
 * `file: "name…", "name…"; file2: "name"` -> [file, name prefix] pairs. `sdk` is sdk.test.ts, `e2e/realistic`
 * is e2e/realistic.test.ts (or .test.tsx), and so on; a part without a `file:` is prose, not a citation.
 */
function citations(test: string): [string, string][] {
  const out: [string, string][] = [];
  for (const part of test.split(/;\s*/)) {
    const m = /^([a-z0-9-]+(?:\/[a-z0-9-]+)*(?:\.test\.tsx?)?):\s*(.*)$/.exec(part.trim());
    if (!m) continue;
    for (const q of m[2].matchAll(/"([^"]+)"/g)) out.push([m[1], q[1].replace(/\s*…\s*$/, '').replace(/ …$/, '')]);
  }
  return out;
}

/** Test files named bare (`generate.test.ts`, `auth.test.ts activity tests`) in a column. */
function bareFiles(test: string): string[] {
  return [...test.matchAll(/(?:^|[\s;,(])([a-z0-9-]+(?:\/[a-z0-9-]+)*\.test\.tsx?)\b/g)].map((m) => m[1]);
}

function resolveTest(file: string, base: URL): URL | undefined {
  const names = /\.test\.tsx?$/.test(file) ? [file] : [`${file}.test.ts`, `${file}.test.tsx`];
  return names.map((n) => new URL(n, base)).find((u) => existsSync(u));
}

function missingCitations(all: Row[], column: 'test' | 'clientTest', base: URL): string[] {
  const missing: string[] = [];
  for (const r of all) {
    for (const file of bareFiles(r[column])) if (!resolveTest(file, base)) missing.push(`row ${r.n}: no file ${file}`);
    for (const [file, name] of citations(r[column])) {
      const url = resolveTest(file, base);
      if (!url) {
        missing.push(`row ${r.n}: no file ${file}`);
        continue;
      }
      const source = readFileSync(url, 'utf8').replace(/\\'/g, "'");
      const prefix = name.split('…')[0].trim();
      if (!source.includes(prefix)) missing.push(`row ${r.n}: ${file} has no test "${prefix}"`);
    }
  }
  return missing;
}

const none = (cell: string) => cell.trim() === '—';
const REASON = /not copied|differs|sources silent|chosen/;

describe('docs/connect-fidelity.md', () => {
  const all = rows();

  it('has the 38 rows of the facts it started from, numbered in order', () => {
    expect(all.length).toBeGreaterThanOrEqual(38);
    expect(all.map((r) => r.n)).toEqual(all.map((_, i) => i + 1));
  });

  it('every row has all its columns, client test included', () => {
    expect(all.filter((r) => r.cells !== COLUMNS).map((r) => r.n)).toEqual([]);
    expect(all.filter((r) => r.client.trim() === '' || r.clientTest.trim() === '').map((r) => r.n)).toEqual([]);
  });

  it('every cited test exists under the name given', () => {
    expect(all.flatMap((r) => citations(r.test)).length).toBeGreaterThan(60);
    expect(missingCitations(all, 'test', SERVER_TESTS)).toEqual([]);
  });

  it('every cited client test exists under the name given, outside the server tests', () => {
    expect(all.flatMap((r) => citations(r.clientTest)).length).toBeGreaterThan(40);
    expect(missingCitations(all, 'clientTest', ALL_TESTS)).toEqual([]);
    const server = all.flatMap((r) => citations(r.clientTest).filter(([file]) => file.startsWith('server/')).map(([file]) => `row ${r.n}: ${file}`));
    expect(server).toEqual([]);
  });

  it('a row without a test says why', () => {
    const bare = all.filter((r) => none(r.test) && !REASON.test(r.server));
    expect(bare.map((r) => r.n)).toEqual([]);
  });

  it('every row has a server test, a client test, or a reason', () => {
    const bare = all.filter((r) => none(r.test) && none(r.clientTest) && !REASON.test(r.server));
    expect(bare.map((r) => r.n)).toEqual([]);
  });

  it('the client column says what the client does now, not what it is to do', () => {
    expect(all.filter((r) => /to adapt/i.test(r.client)).map((r) => r.n)).toEqual([]);
  });
});
