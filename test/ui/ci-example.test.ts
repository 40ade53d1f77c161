// examples/ci: the workflow says what the README promises, and the state script round-trips a state file
// through a branch (a local bare repository stands in for GitHub; no network).
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';

const root = new URL('../../', import.meta.url).pathname;
const script = join(root, 'examples/ci/opsync-state.sh');

interface Step {
  run?: string;
  uses?: string;
  if?: string;
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
  const wf = parse(readFileSync(join(root, 'examples/ci/opsync.yml'), 'utf8')) as {
    on: Record<string, unknown>;
    env: Record<string, string>;
    jobs: Record<string, Job>;
  };
  const runs = (job: Job) => job.steps.map((s) => s.run ?? '').join('\n');

  it('plans pull requests with a read-only token and posts the Markdown plan', () => {
    const job = wf.jobs['pr-plan'];
    expect(wf.on).toHaveProperty('pull_request');
    expect(job.env?.OP_CONNECT_TOKEN).toBe('${{ secrets.OP_CONNECT_TOKEN_READONLY }}');
    expect(wf.env.OP_CONNECT_HOST).toBe('${{ secrets.OP_CONNECT_HOST }}');
    expect(runs(job)).toContain('npx opsync plan "$MANIFESTS" --format markdown --detailed-exitcode > plan.md');
    expect(job.steps.some((s) => s.uses?.startsWith('actions/github-script'))).toBe(true);
    expect(job.permissions?.['pull-requests']).toBe('write');
  });

  it('applies on main exactly the saved plan, after review, and always saves the state', () => {
    expect(wf.on).toHaveProperty('push');
    const apply = wf.jobs.apply;
    expect(wf.jobs.plan.env?.OP_CONNECT_TOKEN).toBe('${{ secrets.OP_CONNECT_TOKEN_READONLY }}');
    expect(apply.env?.OP_CONNECT_TOKEN).toBe('${{ secrets.OP_CONNECT_TOKEN }}');
    expect(wf.env.OPSYNC_DIGEST_KEY).toBe('${{ secrets.OPSYNC_DIGEST_KEY }}');
    expect(runs(wf.jobs.plan)).toContain('npx opsync plan "$MANIFESTS" -out plan.opsplan --detailed-exitcode');
    expect(apply.needs).toBe('plan');
    expect(apply.environment).toBe('opsync-production');
    expect(runs(apply)).toContain('npx opsync apply plan.opsplan --auto-approve');
    const save = apply.steps.find((s) => s.run?.includes('opsync-state.sh push'));
    expect(save?.if).toBe('always()');
    expect(apply.permissions?.contents).toBe('write');
  });
});

describe('opsync-state.sh', () => {
  const dir = mkdtempSync(join(tmpdir(), 'opsync-ci-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const git = (cwd: string, ...args: string[]) => execFileSync('git', args, { cwd, encoding: 'utf8' }).trim();
  const env = {
    ...process.env,
    GIT_AUTHOR_NAME: 't',
    GIT_AUTHOR_EMAIL: 't@example.com',
    GIT_COMMITTER_NAME: 't',
    GIT_COMMITTER_EMAIL: 't@example.com',
  };
  const run = (cwd: string, cmd: string) => execFileSync('bash', [script, cmd], { cwd, env, encoding: 'utf8' });

  function clone(name: string): string {
    const work = join(dir, name);
    git(dir, 'clone', '--quiet', join(dir, 'origin.git'), work);
    return work;
  }

  it('starts empty, saves each apply as a commit on the branch, and pulls the latest', () => {
    git(dir, 'init', '--quiet', '--bare', 'origin.git');
    const seed = join(dir, 'seed');
    git(dir, 'init', '--quiet', '-b', 'main', seed);
    writeFileSync(join(seed, 'README'), 'x');
    execFileSync('git', ['add', 'README'], { cwd: seed });
    execFileSync('git', ['commit', '--quiet', '-m', 'seed'], { cwd: seed, env });
    git(seed, 'push', '--quiet', join(dir, 'origin.git'), 'main');
    git(join(dir, 'origin.git'), 'symbolic-ref', 'HEAD', 'refs/heads/main');

    const a = clone('a');
    expect(run(a, 'pull')).toContain('no branch opsync-state yet');
    expect(run(a, 'push')).toContain('nothing to save');

    mkdirSync(join(a, '.opsync'), { recursive: true });
    writeFileSync(join(a, '.opsync/state.json'), JSON.stringify({ version: 1, lineage: 'l', serial: 3, resources: {}, pending: {} }));
    expect(run(a, 'push')).toContain('saved serial 3 to branch opsync-state');
    expect(run(a, 'push')).toContain('unchanged');

    const b = clone('b');
    expect(run(b, 'pull')).toContain('serial 3 from branch opsync-state');
    const s = JSON.parse(readFileSync(join(b, '.opsync/state.json'), 'utf8')) as { serial: number };
    expect(s.serial).toBe(3);
    writeFileSync(join(b, '.opsync/state.json'), JSON.stringify({ ...s, serial: 4 }));
    run(b, 'push');

    // history: one commit per save, fast-forward, main untouched
    const log = git(join(dir, 'origin.git'), 'log', '--format=%s', 'opsync-state');
    expect(log.split('\n')).toHaveLength(2);
    expect(git(join(dir, 'origin.git'), 'ls-tree', '--name-only', 'opsync-state')).toBe('state.json');
    expect(git(join(dir, 'origin.git'), 'log', '--format=%s', 'main')).toBe('seed');

    // a later save in another clone builds on the latest commit of the branch (applies are serialised by
    // the workflow's concurrency group; opsync refuses a plan made against an older serial)
    writeFileSync(join(a, '.opsync/state.json'), JSON.stringify({ ...s, serial: 5 }));
    expect(run(a, 'push')).toContain('saved serial 5');
    expect(git(join(dir, 'origin.git'), 'log', '--format=%s', 'opsync-state').split('\n')).toHaveLength(3);
  });
});
