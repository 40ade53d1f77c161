// `removed:` blocks end to end: a resource that leaves the manifests with a `removed:` entry is forgotten, not
// deleted; apply sends nothing for it, the item stays live, and the next plan is a no-op. Summaries count the
// forget, a `moved:` rename and a protect change. The real CLI as a process against a real server.
import { describe, expect, it } from 'vitest';
import { useSeededProject } from './cli.js';

const SEED = `vaults:
  - name: Production
    description: prod
`;

const ctx = useSeededProject(SEED);
const { cli, write, state } = ctx;

const item = (key: string, title: string, extra = '') => `  ${key}:\n    title: ${title}\n${extra}    fields:\n      username: svc\n`;

const FIRST = `vault: Production
items:
${item('api', 'API token')}${item('old', 'Old webhook', '    protect: true\n')}${item('db', 'Database')}`;

// old leaves with a removed: block (protected: forgetting deletes nothing), api is renamed, db gets protect.
const SECOND = `vault: Production
items:
${item('api-token', 'API token')}${item('db', 'Database', '    protect: true\n')}moved:
  - { from: Production/api, to: Production/api-token }
removed:
  - { from: Production/old, destroy: false }
`;

describe('removed: blocks', () => {
  it('forgets the resource without a request, keeps its item live, and counts every kind of change', async () => {
    write('m.yaml', FIRST);
    let r = await cli(['apply', 'm.yaml', '--auto-approve']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const old = state().resources['Production/old'];
    expect(old.protect).toBe(true);

    write('m.yaml', SECOND);
    r = await cli(['plan', 'm.yaml', '--detailed-exitcode']);
    expect(r.code, r.stdout + r.stderr).toBe(2);
    const lines = r.stdout.split('\n');
    expect(lines).toContain('. forget Production/old');
    expect(lines).toContain('  # will be removed from the state but not destroyed: the item stays in Connect as it is');
    expect(lines).toContain('> moved Production/api-token');
    expect(lines).toContain('> protect Production/db');
    expect(r.stdout).not.toContain('- delete');
    expect(r.stdout).not.toMatch(/^(Error|Warning):/m);
    expect(lines.filter((l) => l.startsWith('Plan:'))).toEqual([
      'Plan: 0 to create, 0 to update, 0 to replace, 0 to delete, 1 to move, 1 to (un)protect, 1 to forget, 2 unchanged, 0 drifted.',
    ]);

    r = await cli(['plan', 'm.yaml', '--format', 'json']);
    const plan = JSON.parse(r.stdout);
    expect(plan.summary).toEqual({ create: 0, update: 0, replace: 0, delete: 0, forget: 1, noop: 2, drifted: 0, move: 1, protect: 1, rotate_due: 0 });
    expect(plan.resource_changes.find((c: { address: string }) => c.address === 'Production/old')).toMatchObject({
      action: 'forget',
      item_id: old.itemId,
      protect: true,
    });
    r = await cli(['plan', 'm.yaml', '--format', 'markdown']);
    expect(r.stdout).toContain('1 to move, 1 to (un)protect, 1 to forget');

    // Saved and applied as a file: the plan file's schema and its checks against the state take a forget.
    r = await cli(['plan', 'm.yaml', '--out', 'p.opsplan']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const seen = new Set((await ctx.client.listActivity({ limit: 1000 })).map((a) => a.requestId));
    r = await cli(['apply', 'p.opsplan', '--auto-approve']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain('. Production/old: forgotten');
    expect(r.stdout).toContain('Apply complete: 1 done, 0 failed, 0 skipped (1 forgotten, 1 moved, 1 (un)protect recorded)');
    // Nothing was written to Connect, and the forgotten item was not even read.
    const during = (await ctx.client.listActivity({ limit: 1000 })).filter((a) => !seen.has(a.requestId));
    expect(during.filter((a) => a.action !== 'READ')).toEqual([]);
    expect(during.filter((a) => a.resource.item?.id === old.itemId)).toEqual([]);

    const after = state();
    expect(after.resources['Production/old']).toBeUndefined();
    expect(Object.keys(after.resources).sort()).toEqual(['Production/api-token', 'Production/db']);
    expect(after.resources['Production/db'].protect).toBe(true);
    const live = await ctx.client.getItem(old.vaultId, old.itemId);
    expect(live).toMatchObject({ title: 'Old webhook', version: 1 });

    // The next plan does nothing; the removed: entry left in the manifest only warns that nothing is left to forget.
    r = await cli(['plan', 'm.yaml', '--detailed-exitcode']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain('No changes.');
    expect(r.stdout).toContain('Warning: Production/old: a removed: block names it, but it is not in the state, so there is nothing to forget');
    expect((await ctx.client.getItem(old.vaultId, old.itemId)).title).toBe('Old webhook');
  });

  it('destroy with manifests forgets what a removed: block names and deletes the rest', async () => {
    write('m.yaml', FIRST);
    expect((await cli(['apply', 'm.yaml', '--auto-approve'])).code).toBe(0);
    const { old, api } = { old: state().resources['Production/old'], api: state().resources['Production/api'] };
    write('m.yaml', `vault: Production\nitems: {}\nremoved:\n  - { from: Production/old }\n`);
    const r = await cli(['destroy', 'm.yaml', '--auto-approve']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain('. Production/old: forgotten');
    expect(r.stdout).toContain('- Production/api: deleted');
    expect(state().resources).toEqual({});
    expect((await ctx.client.getItem(old.vaultId, old.itemId)).title).toBe('Old webhook');
    await expect(ctx.client.getItem(api.vaultId, api.itemId)).rejects.toThrow();
  });

  it('without a removed: block the same manifest deletes, and a protected resource refuses to', async () => {
    write('m.yaml', FIRST);
    expect((await cli(['apply', 'm.yaml', '--auto-approve'])).code).toBe(0);
    write('m.yaml', SECOND.replace(/removed:\n.*\n/, ''));
    const r = await cli(['plan', 'm.yaml']);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('Error: Production/old: would be deleted, but it is protected');
  });
});
