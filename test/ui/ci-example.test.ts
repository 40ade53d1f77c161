// examples/ci: the workflow says what its README promises: a remote state backend read by the plans and
// locked by the apply (no state copied to a branch), and a guard step that refuses to run on a local state
// (run here as bash, as the runner runs it; no network).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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

describe('the nightly drift workflow', () => {
  const text = readFileSync(join(root, 'examples/ci/opsync-drift.yml'), 'utf8');
  const wf = parse(text) as {
    on: { schedule?: { cron: string }[] } & Record<string, unknown>;
    env: Record<string, string>;
    permissions: Record<string, string>;
    jobs: Record<string, Job>;
  };
  const job = wf.jobs.drift;
  const step = (name: string) => job.steps.find((s) => s.name === name)!;

  it('runs on a schedule, read-only against Connect and the state, with issues: write only', () => {
    expect(wf.on.schedule?.[0].cron).toMatch(/^\S+ \S+ \* \* \*$/);
    expect(wf.on).toHaveProperty('workflow_dispatch');
    expect(job.permissions).toEqual({ contents: 'read', issues: 'write' });
    expect(wf.permissions).toEqual({ contents: 'read', issues: 'write' });
    expect(job.env?.OP_CONNECT_TOKEN).toBe('${{ secrets.OP_CONNECT_TOKEN_READONLY }}');
    expect(job.env?.OPSYNC_HTTP_PASSWORD).toBe('${{ secrets.OPSYNC_HTTP_PASSWORD_PLAN }}');
    expect(job.env?.GH_TOKEN).toBe('${{ secrets.GITHUB_TOKEN }}');
    expect(wf.env.OPSYNC_DIGEST_KEY).toBe('${{ secrets.OPSYNC_DIGEST_KEY }}');
    expect(wf.env.ISSUE_TITLE).toBe('opsync: drift detected');
    const check = step('Check for drift');
    expect(check.run).toContain('npx opsync plan "$MANIFESTS" --refresh-only --detailed-exitcode --format markdown > drift.md');
    const guardAt = job.steps.findIndex((s) => s.run?.includes("grep -q '^backend:' opsync.yaml"));
    expect(guardAt).toBeGreaterThan(-1);
    expect(guardAt).toBeLessThan(job.steps.indexOf(check));
    expect(step('Open or update the drift issue').if).toBe("steps.drift.outputs.exitcode == '2'");
    expect(step('Close the drift issue once nothing drifts').if).toBe("steps.drift.outputs.exitcode == '0'");
  });

  // The steps' scripts run as the runner runs them (bash -e), with `npx` and `gh` stood in for by logging fakes.
  describe('its scripts', () => {
    const dir = mkdtempSync(join(tmpdir(), 'opsync-drift-'));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));
    const bin = join(dir, 'bin');
    mkdirSync(bin);
    // npx prints a report and exits FAKE_CODE; gh logs its arguments (and a --body-file's content), and answers
    // `issue list` with FAKE_OPEN (the number its --jq would print).
    writeFileSync(join(bin, 'npx'), '#!/bin/bash\necho "### opsync drift check (plan --refresh-only)"\nexit "${FAKE_CODE:-0}"\n', { mode: 0o755 });
    writeFileSync(
      join(bin, 'gh'),
      [
        '#!/bin/bash',
        'echo "gh $*" >> "$GH_LOG"',
        'if [ "$1 $2" = "issue list" ]; then [ -n "$FAKE_OPEN" ] && echo "$FAKE_OPEN"; exit 0; fi',
        'while [ $# -gt 0 ]; do if [ "$1" = "--body-file" ]; then cat "$2" >> "$GH_LOG"; fi; shift; done',
      ].join('\n'),
      { mode: 0o755 },
    );
    const run = (name: string, env: Record<string, string>): { code: number; log: string; output: string } => {
      const log = join(dir, 'gh.log');
      const output = join(dir, 'output');
      rmSync(log, { force: true });
      writeFileSync(output, '');
      let code = 0;
      try {
        execFileSync('bash', ['-e', '-c', step(name).run!], {
          cwd: dir,
          stdio: 'ignore',
          env: { PATH: `${bin}:${process.env.PATH}`, GH_LOG: log, GITHUB_OUTPUT: output, MANIFESTS: 'manifests', ISSUE_TITLE: wf.env.ISSUE_TITLE, RUN_URL: 'https://run/1', ...env },
        });
      } catch (err) {
        code = (err as { status: number }).status;
      }
      const read = (f: string) => (existsSync(f) ? readFileSync(f, 'utf8') : '');
      return { code, log: read(log), output: read(output) };
    };

    it('the check passes on 0 and 2, saying which, and fails on anything else', () => {
      expect(run('Check for drift', { FAKE_CODE: '2' })).toMatchObject({ code: 0, output: 'exitcode=2\n' });
      expect(run('Check for drift', { FAKE_CODE: '0' })).toMatchObject({ code: 0, output: 'exitcode=0\n' });
      expect(run('Check for drift', { FAKE_CODE: '1' })).toMatchObject({ code: 1, output: 'exitcode=1\n' });
      expect(readFileSync(join(dir, 'drift.md'), 'utf8')).toContain('opsync drift check');
    });

    it('opens the issue when none is open, and updates the open one instead of opening another', () => {
      run('Check for drift', { FAKE_CODE: '2' });
      const opened = run('Open or update the drift issue', { FAKE_OPEN: '' });
      expect(opened.code).toBe(0);
      expect(opened.log).toMatch(/^gh issue list --state open .*--search in:title "opsync: drift detected"/m);
      expect(opened.log).toContain('gh issue create --title opsync: drift detected --body-file body.md');
      expect(opened.log).toContain('### opsync drift check (plan --refresh-only)');
      expect(opened.log).toContain('https://run/1');
      const updated = run('Open or update the drift issue', { FAKE_OPEN: '42' });
      expect(updated.log).toContain('gh issue edit 42 --body-file body.md');
      expect(updated.log).not.toContain('issue create');
    });

    it('closes the open issue once nothing drifts, and does nothing when none is open', () => {
      expect(run('Close the drift issue once nothing drifts', { FAKE_OPEN: '42' }).log).toMatch(/^gh issue close 42 --comment No drift found by https:\/\/run\/1/m);
      const none = run('Close the drift issue once nothing drifts', { FAKE_OPEN: '' });
      expect(none.code).toBe(0);
      expect(none.log).not.toContain('issue close');
    });
  });
});

describe('the examples/ci README', () => {
  const readme = readFileSync(join(root, 'examples/ci/README.md'), 'utf8');

  it('names every secret the workflows read', () => {
    for (const file of ['opsync.yml', 'opsync-drift.yml']) {
      const workflow = readFileSync(join(root, 'examples/ci', file), 'utf8');
      const secrets = new Set([...workflow.matchAll(/secrets\.([A-Z_]+)/g)].map((m) => m[1]));
      expect(secrets.size).toBeGreaterThan(0);
      for (const s of secrets) expect(readme, `${file}: ${s}`).toContain(`\`${s}\``);
    }
  });

  it('describes the nightly drift check', () => {
    expect(readme).toContain('opsync-drift.yml');
    expect(readme).toContain('--refresh-only --detailed-exitcode --format markdown');
    expect(readme).toContain('`opsync: drift detected`');
    expect(readme).toContain('issues: write');
  });

  it('no longer sets up a state branch', () => {
    expect(readme).not.toMatch(/opsync-state\.sh|State branch|\.github\/scripts/);
  });
});
