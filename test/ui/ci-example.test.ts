// examples/ci: the workflow says what its README promises: a remote state backend read by the plans and
// locked by the apply (no state copied to a branch), and a guard step that refuses to run on a local state
// (run here as bash, as the runner runs it; no network).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';

const root = new URL('../../', import.meta.url).pathname;

interface Step {
  name?: string;
  run?: string;
  uses?: string;
  if?: string;
  with?: Record<string, unknown>;
}
interface Job {
  if?: string;
  needs?: string;
  environment?: string;
  env?: Record<string, string>;
  permissions?: Record<string, string>;
  steps: Step[];
}

describe('the GitHub Actions workflow', () => {
  const text = readFileSync(join(root, 'examples/ci/opsync.yml'), 'utf8');
  const wf = parse(text) as {
    on: Record<string, unknown>;
    env: Record<string, string>;
    jobs: Record<string, Job>;
  };
  const runs = (job: Job) => job.steps.map((s) => s.run ?? '').join('\n');
  const guard = (job: Job) => job.steps.find((s) => s.run?.includes("grep -q '^backend:' opsync.yaml"));

  it('plans pull requests with a read-only token and posts the Markdown plan', () => {
    const job = wf.jobs['pr-plan'];
    expect(wf.on).toHaveProperty('pull_request');
    expect(job.env?.OP_CONNECT_TOKEN).toBe('${{ secrets.OP_CONNECT_TOKEN_READONLY }}');
    expect(wf.env.OP_CONNECT_HOST).toBe('${{ secrets.OP_CONNECT_HOST }}');
    expect(runs(job)).toContain('npx opsync plan "$MANIFESTS" --format markdown --detailed-exitcode > plan.md');
    expect(job.steps.some((s) => s.uses?.startsWith('actions/github-script'))).toBe(true);
    expect(job.permissions?.['pull-requests']).toBe('write');
  });

  it('applies on main exactly the saved plan, after review, under the state lock', () => {
    expect(wf.on).toHaveProperty('push');
    const apply = wf.jobs.apply;
    expect(wf.jobs.plan.env?.OP_CONNECT_TOKEN).toBe('${{ secrets.OP_CONNECT_TOKEN_READONLY }}');
    expect(apply.env?.OP_CONNECT_TOKEN).toBe('${{ secrets.OP_CONNECT_TOKEN }}');
    expect(wf.env.OPSYNC_DIGEST_KEY).toBe('${{ secrets.OPSYNC_DIGEST_KEY }}');
    expect(runs(wf.jobs.plan)).toContain('npx opsync plan "$MANIFESTS" -out plan.opsplan --detailed-exitcode');
    expect(apply.needs).toBe('plan');
    expect(apply.environment).toBe('opsync-production');
    expect(runs(apply)).toContain('npx opsync apply plan.opsplan --auto-approve --lock-timeout 5m');
    // Nothing is pushed back to the repository any more: the backend holds the state.
    expect(apply.permissions?.contents).toBe('read');
  });

  it('reads and writes the state in a remote backend, never a branch', () => {
    expect(text).not.toMatch(/opsync-state\.sh|OPSYNC_STATE_BRANCH|git push/);
    expect(existsSync(join(root, 'examples/ci/opsync-state.sh'))).toBe(false);
    // The plans read it with the planning password; the apply's is an environment secret.
    expect(wf.jobs['pr-plan'].env?.OPSYNC_HTTP_PASSWORD).toBe('${{ secrets.OPSYNC_HTTP_PASSWORD_PLAN }}');
    expect(wf.jobs.plan.env?.OPSYNC_HTTP_PASSWORD).toBe('${{ secrets.OPSYNC_HTTP_PASSWORD_PLAN }}');
    expect(wf.jobs.apply.env?.OPSYNC_HTTP_PASSWORD).toBe('${{ secrets.OPSYNC_HTTP_PASSWORD }}');
    // Every job that reads the state checks first that it is remote, before any opsync command that reads it.
    for (const [name, job] of Object.entries(wf.jobs)) {
      const g = guard(job);
      expect(g, `job ${name} has no backend guard`).toBeDefined();
      const stateReader = job.steps.findIndex((s) => /npx opsync (plan|apply)/.test(s.run ?? ''));
      expect(job.steps.indexOf(g!), name).toBeLessThan(stateReader);
    }
    // A failed last write leaves opsync.errored.json: the apply job keeps it.
    const keep = wf.jobs.apply.steps.find((s) => s.with?.path === 'opsync.errored.json');
    expect(keep?.if).toBe('failure()');
    expect(keep?.uses).toMatch(/^actions\/upload-artifact@/);
    expect(keep?.with?.['if-no-files-found']).toBe('ignore');
  });

  describe('the backend guard', () => {
    const dir = mkdtempSync(join(tmpdir(), 'opsync-ci-'));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));
    const script = guard(wf.jobs.apply)!.run!;
    const run = (yaml: string | undefined): { code: number; out: string } => {
      rmSync(join(dir, 'opsync.yaml'), { force: true });
      if (yaml !== undefined) writeFileSync(join(dir, 'opsync.yaml'), yaml);
      try {
        return { code: 0, out: execFileSync('bash', ['-c', script], { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }) };
      } catch (err) {
        const e = err as { status: number; stdout: string };
        return { code: e.status, out: e.stdout };
      }
    };

    it('passes an opsync.yaml with a backend: block', () => {
      expect(run('connect:\n  host: https://connect.example\nbackend:\n  type: http\n  address: https://opsync.example/state/prod\n').code).toBe(0);
      expect(run('backend: { type: postgres, name: prod }\n').code).toBe(0);
    });

    it('fails, as an annotation, without one (no file, a state: line, a commented-out block)', () => {
      for (const yaml of [undefined, 'state: .opsync/state.json\n', '# backend:\n#   type: http\n']) {
        const r = run(yaml);
        expect(r.code, String(yaml)).toBe(1);
        expect(r.out).toContain('::error file=opsync.yaml::no backend: in opsync.yaml');
      }
    });
  });
});

describe('the examples/ci README', () => {
  const readme = readFileSync(join(root, 'examples/ci/README.md'), 'utf8');

  it('names every secret the workflow reads', () => {
    const workflow = readFileSync(join(root, 'examples/ci/opsync.yml'), 'utf8');
    const secrets = new Set([...workflow.matchAll(/secrets\.([A-Z_]+)/g)].map((m) => m[1]));
    expect(secrets.size).toBeGreaterThan(0);
    for (const s of secrets) expect(readme, s).toContain(`\`${s}\``);
  });

  it('no longer sets up a state branch', () => {
    expect(readme).not.toMatch(/opsync-state\.sh|State branch|\.github\/scripts/);
  });
});
