// --split-dir end to end: the real CLI against a real server writes a plan too long for one comment as
// DIR/plan.1.md, plan.2.md, ..., each under GitHub's limit, stdout being part 1; the job summary gets every
// part; a later, shorter plan leaves no stale part; a format that is not Markdown is refused in one line.
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { findLeak } from '../support/leaks.js';
import { useSeededProject } from './cli.js';

const SEED = `vaults:
  - name: Production
    description: prod
`;
const SECRET = 'SplitSecret-4e8d1f-never-print';
const SHA = '0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c';

const ctx = useSeededProject(SEED);

function manifest(n: number): string {
  const items = Array.from(
    { length: n },
    (_, i) => `  svc-${String(i).padStart(3, '0')}:
    title: Service ${i} <img src=x onerror=alert(1)>
    tags: [prod, team-${i % 7}]
    urls: [https://svc-${i}.example.com]
    fields:
      username: { value: svc-${i} }
      password: { type: CONCEALED, value: { env: SVC_PASSWORD } }
      host: { value: db-${i}.internal.example.com }
`,
  );
  return `vault: Production\nitems:\n${items.join('')}`;
}

describe('plan --split-dir', () => {
  it('writes numbered parts under the comment limit, stdout is part 1, the step summary has them all', async () => {
    ctx.write('m.yaml', manifest(220));
    const summary = join(ctx.dir, 'summary.md');
    const env = { SVC_PASSWORD: SECRET, GITHUB_ACTIONS: 'true', GITHUB_STEP_SUMMARY: summary, GITHUB_SHA: SHA };
    const r = await ctx.cli(['plan', 'm.yaml', '--split-dir', 'comments', '--detailed-exitcode'], env);
    expect(r.code, r.stderr).toBe(2);
    const out = join(ctx.dir, 'comments');
    const files = readdirSync(out).sort();
    expect(files.length).toBeGreaterThan(1);
    expect(files).toEqual(files.map((_, i) => `plan.${i + 1}.md`).sort());
    const parts = files.map((_, i) => readFileSync(join(out, `plan.${i + 1}.md`), 'utf8'));
    expect(r.stdout).toBe(parts[0]);
    expect(r.stderr).toContain(`Wrote the Markdown plan to comments/plan.1.md to comments/plan.${parts.length}.md (${parts.length} parts, one comment each).`);
    parts.forEach((p, i) => {
      expect(p.length).toBeLessThan(65_536);
      expect(p.startsWith(`### opsync plan · part ${i + 1} of ${parts.length}\n`)).toBe(true);
      expect(p).toContain(`commit ${SHA} · opsync `);
      expect(p).toContain('apply with <code>opsync apply</code>');
      expect(p).not.toMatch(/<img/);
      expect(findLeak(p, SECRET)).toBeUndefined();
    });
    expect(parts[0]).toContain('| Production | 0 | 0 | 0 | 220 | 0 | 0 |');
    const all = parts.join('');
    for (let i = 0; i < 220; i++) expect(all).toContain(`| create | Production/svc-${String(i).padStart(3, '0')} |`);
    expect(readFileSync(summary, 'utf8')).toBe(parts.join('\n'));
    expect(findLeak(r.stdout + r.stderr, SECRET)).toBeUndefined();
  });

  it('a shorter plan later leaves one part and no stale ones; apply takes --split-dir too', async () => {
    ctx.write('m.yaml', manifest(220));
    const env = { SVC_PASSWORD: SECRET };
    let r = await ctx.cli(['plan', 'm.yaml', '--split-dir', 'comments', '--format', 'markdown'], env);
    expect(r.code, r.stderr).toBe(0);
    expect(readdirSync(join(ctx.dir, 'comments')).length).toBeGreaterThan(1);
    ctx.write('m.yaml', manifest(3));
    r = await ctx.cli(['plan', 'm.yaml', '--split-dir', 'comments', '-out', 'plan.opsplan'], env);
    expect(r.code, r.stderr).toBe(0);
    expect(readdirSync(join(ctx.dir, 'comments'))).toEqual(['plan.1.md']);
    const one = readFileSync(join(ctx.dir, 'comments/plan.1.md'), 'utf8');
    expect(r.stdout).toBe(one);
    expect(one.startsWith('### opsync plan\n')).toBe(true);
    expect(one).toContain('apply with <code>opsync apply plan.opsplan</code>');
    expect(r.stderr).toContain('Wrote the Markdown plan to comments/plan.1.md.');

    r = await ctx.cli(['apply', 'm.yaml', '--split-dir', 'applied', '--auto-approve'], env);
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(join(ctx.dir, 'applied/plan.1.md'), 'utf8')).toContain('| create | Production/svc-002 |');
    expect(findLeak(r.stdout + r.stderr, SECRET)).toBeUndefined();
  });

  it('refuses another format, or no folder, in one line before planning', async () => {
    ctx.write('m.yaml', manifest(2));
    for (const [args, msg] of [
      [['--split-dir', 'c', '--format', 'json'], "opsync: error: --split-dir writes the Markdown plan's parts: use it with --format markdown, not --format json"],
      [['--split-dir', ''], 'opsync: error: --split-dir needs a folder, e.g. --split-dir plan-comments'],
    ] as const) {
      const r = await ctx.cli(['plan', 'm.yaml', ...args], { SVC_PASSWORD: SECRET });
      expect(r.code).toBe(1);
      expect(r.stderr).toBe(`${msg}\n`);
      expect(r.stdout).toBe('');
    }
    expect(existsSync(join(ctx.dir, 'c'))).toBe(false);
  });

  it('a folder that cannot be made is one line naming it', async () => {
    ctx.write('m.yaml', manifest(2));
    writeFileSync(join(ctx.dir, 'taken'), 'a file');
    const r = await ctx.cli(['plan', 'm.yaml', '--split-dir', 'taken/sub'], { SVC_PASSWORD: SECRET });
    expect(r.code).toBe(1);
    expect(r.stderr.trimEnd().split('\n').at(-1)).toMatch(/^opsync: error: cannot mkdir .*taken\/sub: a part of the path is a file, not a folder$/);
  });
});
