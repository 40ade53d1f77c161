// docs/connect-fidelity.md stays true: every test it cites exists under the name it gives, and a row without a
// test says why (a behaviour not copied, or one where the sources are silent).
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const LEDGER = new URL('../../docs/connect-fidelity.md', import.meta.url);
const TESTS = new URL('./', import.meta.url);

interface Row {
  n: number;
  server: string;
  test: string;
}

function rows(): Row[] {
  const out: Row[] = [];
  for (const line of readFileSync(LEDGER, 'utf8').split('\n')) {
    const m = /^\| (\d+) \|/.exec(line);
    if (!m) continue;
    const cells = line.split(' | ');
    out.push({ n: Number(m[1]), server: cells[3] ?? '', test: (cells[5] ?? '').replace(/ \|$/, '') });
  }
  return out;
}

/** `file: "name…", "name…"; file2: "name"` -> [file, name prefix] pairs. `sdk` is sdk.test.ts, and so on. */
function citations(test: string): [string, string][] {
  const out: [string, string][] = [];
  for (const part of test.split(/;\s*/)) {
    const m = /^([a-z-]+(?:\.test\.ts)?):\s*(.*)$/.exec(part.trim());
    if (!m) continue;
    const file = m[1].endsWith('.test.ts') ? m[1] : `${m[1]}.test.ts`;
    for (const q of m[2].matchAll(/"([^"]+)"/g)) out.push([file, q[1].replace(/\s*…\s*$/, '').replace(/ …$/, '')]);
  }
  return out;
}

describe('docs/connect-fidelity.md', () => {
  const all = rows();

  it('has the 38 rows of the facts it started from, numbered in order', () => {
    expect(all.length).toBeGreaterThanOrEqual(38);
    expect(all.map((r) => r.n)).toEqual(all.map((_, i) => i + 1));
  });

  it('every cited test exists under the name given', () => {
    const missing: string[] = [];
    expect(all.flatMap((r) => citations(r.test)).length).toBeGreaterThan(60);
    for (const r of all) {
      for (const [file, name] of citations(r.test)) {
        const url = new URL(file, TESTS);
        if (!existsSync(url)) {
          missing.push(`row ${r.n}: no file ${file}`);
          continue;
        }
        const source = readFileSync(url, 'utf8').replace(/\\'/g, "'");
        const prefix = name.split('…')[0].trim();
        if (!source.includes(prefix)) missing.push(`row ${r.n}: ${file} has no test "${prefix}"`);
      }
    }
    expect(missing).toEqual([]);
  });

  it('a row without a test says why', () => {
    const bare = all.filter((r) => r.test.trim() === '—' && !/not copied|differs|sources silent|chosen/.test(r.server));
    expect(bare.map((r) => r.n)).toEqual([]);
  });
});
