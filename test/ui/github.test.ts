import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { appendStepSummary, githubAnnotations, STEP_SUMMARY_LIMIT_BYTES, writeMarkdownParts } from '../../src/ui/github.js';

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

describe('appendStepSummary of a split plan', () => {
  const dir = mkdtempSync(join(tmpdir(), 'opsync-ui-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const env = (file: string) => ({ GITHUB_ACTIONS: 'true', GITHUB_STEP_SUMMARY: file });
  it('appends every part, one after another', () => {
    const file = join(dir, 'parts.md');
    expect(appendStepSummary(['### part 1\n', '### part 2'], env(file))).toBe(true);
    expect(readFileSync(file, 'utf8')).toBe('### part 1\n\n### part 2\n');
  });
  it('stops before GitHub\'s 1 MiB a step, counting what the step wrote, and says which parts are left out', () => {
    const file = join(dir, 'big.md');
    writeFileSync(file, 'x'.repeat(100_000));
    const part = `${'p'.repeat(64_000)}\n`;
    appendStepSummary(Array.from({ length: 20 }, () => part), env(file));
    const text = readFileSync(file, 'utf8');
    expect(Buffer.byteLength(text)).toBeLessThanOrEqual(STEP_SUMMARY_LIMIT_BYTES);
    const kept = (text.length - 100_000) / (part.length + 1);
    expect(Math.floor(kept)).toBe(14);
    expect(text.trimEnd().split('\n').at(-1)).toBe(
      '<i>Parts 15 to 20 of the plan are left out: GitHub takes at most 1 MiB of summary from a step. `opsync plan --format markdown --split-dir DIR` writes every part.</i>',
    );
  });
});

describe('writeMarkdownParts', () => {
  const dir = mkdtempSync(join(tmpdir(), 'opsync-ui-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  it('writes plan.N.md, creating the folder, and removes the parts of an earlier, longer plan', () => {
    const out = join(dir, 'comments/pr');
    expect(writeMarkdownParts(out, ['one', 'two\n', 'three'])).toEqual([1, 2, 3].map((n) => join(out, `plan.${n}.md`)));
    writeFileSync(join(out, 'notes.md'), 'kept');
    expect(writeMarkdownParts(out, ['only'])).toEqual([join(out, 'plan.1.md')]);
    expect(readdirSync(out).sort()).toEqual(['notes.md', 'plan.1.md']);
    expect(readFileSync(join(out, 'plan.1.md'), 'utf8')).toBe('only\n');
  });
  it('fails with the file system\'s reason where a file is in the way, leaving nothing behind', () => {
    const file = join(dir, 'a-file');
    writeFileSync(file, 'x');
    expect(() => writeMarkdownParts(join(file, 'sub'), ['x'])).toThrow(expect.objectContaining({ code: expect.stringMatching(/ENOTDIR|EEXIST/) }));
    expect(readFileSync(file, 'utf8')).toBe('x');
  });
});
