import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { appendStepSummary, githubAnnotations } from '../../src/ui/github.js';

describe('githubAnnotations', () => {
  it('writes one workflow command per diagnostic', () => {
    const out = githubAnnotations([
      { file: 'manifests/prod.yaml', line: 3, col: 7, severity: 'error', message: 'unknown category "LOGN"' },
      { file: 'manifests/dev.yaml', line: 1, col: 1, severity: 'warning', message: 'duplicate tag' },
    ]);
    expect(out).toBe(
      '::error file=manifests/prod.yaml,line=3,col=7::unknown category "LOGN"\n' +
        '::warning file=manifests/dev.yaml,line=1,col=1::duplicate tag\n',
    );
  });
  it('escapes data and properties per the workflow-command rules', () => {
    const out = githubAnnotations([{ file: 'a:b,c%.yaml', line: 1, col: 2, severity: 'error', message: '50% bad\r\nnext: line, ok' }]);
    expect(out).toBe('::error file=a%3Ab%2Cc%25.yaml,line=1,col=2::50%25 bad%0D%0Anext: line, ok\n');
    expect(out.trimEnd().split('\n')).toHaveLength(1);
  });
  it('is empty for no diagnostics', () => expect(githubAnnotations([])).toBe(''));
});

describe('appendStepSummary', () => {
  const dir = mkdtempSync(join(tmpdir(), 'opsync-ui-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  it('appends on GitHub Actions', () => {
    const file = join(dir, 'summary.md');
    writeFileSync(file, '# before\n');
    expect(appendStepSummary('### plan', { GITHUB_ACTIONS: 'true', GITHUB_STEP_SUMMARY: file })).toBe(true);
    expect(readFileSync(file, 'utf8')).toBe('# before\n### plan\n');
  });
  it('does nothing elsewhere', () => {
    const file = join(dir, 'none.md');
    expect(appendStepSummary('x', { GITHUB_STEP_SUMMARY: file })).toBe(false);
    expect(appendStepSummary('x', { GITHUB_ACTIONS: 'true' })).toBe(false);
  });
  it('says which file it could not write', () => {
    expect(() => appendStepSummary('x', { GITHUB_ACTIONS: 'true', GITHUB_STEP_SUMMARY: join(dir, 'no/such/dir/f.md') })).toThrow(
      /GITHUB_STEP_SUMMARY \(.*no\/such\/dir\/f\.md\)/,
    );
  });
});
