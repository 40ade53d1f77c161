import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { shellQuote, valuesFileText } from '../../src/commands/export.js';

it('quotes for POSIX sh: single quotes, a quote as \'\\\'\'', () => {
  expect(shellQuote("it's")).toBe("'it'\\''s'");
  expect(shellQuote('$HOME `x` "y" \\')).toBe('\'$HOME `x` "y" \\\'');
});

it('writes a values file that `set -a; . FILE` loads exactly', () => {
  const dir = mkdtempSync(join(tmpdir(), 'opsync-values-'));
  try {
    const values = ["it's", '$HOME `id` $(id) "dq" \\n \\', 'multi\nline\n\n', '  spaced  ', "''", '#hash', 'ünï 🙂'];
    const variables = values.map((value, i) => ({ name: `OPSYNC_V_I_F${i}`, address: 'V/i', fieldKey: `f${i}`, value }));
    const file = join(dir, 'vals.env');
    writeFileSync(file, valuesFileText(variables));
    for (const v of variables) {
      const got = execFileSync('sh', ['-c', `set -a; . "$1"; set +a; printf '%s' "$${v.name}"`, 'sh', file], { encoding: 'utf8', env: {} });
      expect(got).toBe(v.value);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
