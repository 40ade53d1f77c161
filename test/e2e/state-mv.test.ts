// `opsync state mv` and plan agree on one rule: a state resource's vault is its vault id, and an address names a
// vault by name only as a key. A rename (state mv, a moved: block) moves an address within its vault; neither
// moves an item to another vault, and plan never turns such a rename into a delete in one vault and a create in
// another. The real CLI as a process against a real server.
import { describe, expect, it } from 'vitest';
import type { FullItem } from '../../src/connect/types.js';
import { useSeededProject } from './cli.js';

const SEED = `vaults:
  - name: Production
    description: prod
  - name: Staging
    description: staging
`;

const ctx = useSeededProject(SEED);
const { cli, write, read, state } = ctx;

const ADMIN = (vault = 'Production', key = 'admin', tail = '') => `vault: ${vault}
items:
  ${key}:
    title: Admin
    fields:
      username: root
${tail}`;

async function setUp(): Promise<{ itemId: string; vaultId: string }> {
  write('m.yaml', ADMIN());
  const r = await cli(['apply', 'm.yaml', '--auto-approve']);
  expect(r.code, r.stdout + r.stderr).toBe(0);
  const { itemId, vaultId } = state().resources['Production/admin'];
  return { itemId, vaultId };
}

async function itemsOf(vault: string): Promise<FullItem[]> {
  const id = (await ctx.client.findVault(vault))!.id;
  return Promise.all((await ctx.client.listItems(id)).map((s) => ctx.client.getItem(id, s.id)));
}

describe('state mv', () => {
  it('refuses an address in another vault with one line, and changes nothing', async () => {
    const { itemId, vaultId } = await setUp();
    const before = read('.opsync/state.json');
    const r = await cli(['state', 'mv', 'Production/admin', 'Staging/admin']);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr.trimEnd().split('\n')).toEqual([
      `opsync: error: state mv moves addresses within a vault; item ${itemId} lives in vault Production (id ${vaultId}), and Staging/admin names vault "Staging"; nothing was changed. ` +
        'To keep the item where it is under a new address: `opsync state mv Production/admin Production/<new-key>`. ' +
        'To manage an item in "Staging" instead: move it there in 1Password, then `opsync state rm Production/admin` and `opsync import` it. ' +
        'If "Staging" is the vault\'s new name, rename the address with a moved: block (plan matches vaults by id)',
    ]);
    expect(read('.opsync/state.json')).toBe(before);
    // The manifest as it was: nothing to do (today's bug planned a delete of the live item and a new one).
    const plan = await cli(['plan', 'm.yaml', '--detailed-exitcode']);
    expect(plan.code, plan.stdout).toBe(0);
  });

  it('renames within the vault, by its name or its id, and plan follows with no change', async () => {
    const { itemId, vaultId } = await setUp();
    let r = await cli(['state', 'mv', 'Production/admin', 'Production/root']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe(''); // no warning left: the rule is enforced, not hinted at
    write('m.yaml', ADMIN('Production', 'root'));
    r = await cli(['plan', 'm.yaml', '--detailed-exitcode']);
    expect(r.code, r.stdout).toBe(0);

    // The vault's id as the vault part: the same vault, so allowed; a manifest naming the vault by id plans nothing.
    r = await cli(['state', 'mv', 'Production/root', `${vaultId}/root`]);
    expect(r.code, r.stderr).toBe(0);
    write('m.yaml', ADMIN(vaultId, 'root'));
    r = await cli(['plan', 'm.yaml', '--detailed-exitcode']);
    expect(r.code, r.stdout).toBe(0);
    expect(state().resources[`${vaultId}/root`].itemId).toBe(itemId);

    // The name the state last saw the vault under (a vault renamed in 1Password) is the same vault too.
    const s = state();
    s.vaults = { ...s.vaults, [vaultId]: { name: 'Prod', contentVersion: s.vaults?.[vaultId]?.contentVersion ?? 0 } };
    write('.opsync/state.json', JSON.stringify(s, null, 2));
    r = await cli(['state', 'mv', `${vaultId}/root`, 'Prod/root']);
    expect(r.code, r.stderr).toBe(0);
  });
});

describe('plan', () => {
  it('refuses a moved: block across vaults, in the same words, and deletes and creates nothing', async () => {
    const { itemId, vaultId } = await setUp();
    write('m.yaml', ADMIN('Staging', 'admin', 'moved:\n  - { from: Production/admin, to: Staging/admin }\n'));
    for (const command of ['plan', 'apply']) {
      const r = await cli([command, 'm.yaml', ...(command === 'apply' ? ['--auto-approve'] : [])]);
      expect(r.code, r.stdout + r.stderr).toBe(1);
      expect(r.stdout.split('\n').filter((l) => l.startsWith('Error:'))).toEqual([
        `Error: Staging/admin: its item is managed in vault Production (id ${vaultId}) but the manifest names vault "Staging"; moving items between vaults is not supported: ` +
          'the moved block from Production/admin crosses vaults: rename within vault Production (or to its new name), or move the item in 1Password, then `opsync state rm Production/admin` and `opsync import` it',
      ]);
      expect(r.stdout).not.toMatch(/^[-+] (create|delete)/m);
    }
    expect(await itemsOf('Staging')).toEqual([]);
    expect((await itemsOf('Production')).map((i) => [i.id, i.version])).toEqual([[itemId, 1]]);
    expect(Object.keys(state().resources)).toEqual(['Production/admin']);
  });

  it('a moved: block to the same vault under another vault key (its id) is a plain rename', async () => {
    const { itemId, vaultId } = await setUp();
    write('m.yaml', ADMIN(vaultId, 'admin', `moved:\n  - { from: Production/admin, to: ${vaultId}/admin }\n`));
    let r = await cli(['plan', 'm.yaml', '--detailed-exitcode']);
    expect(r.code, r.stdout + r.stderr).toBe(2);
    expect(r.stdout).toContain(`> moved ${vaultId}/admin`);
    r = await cli(['apply', 'm.yaml', '--auto-approve']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(state().resources[`${vaultId}/admin`].itemId).toBe(itemId);
  });

  it('a state entry an older opsync moved across vaults is refused the same way', async () => {
    const { vaultId } = await setUp();
    // What `state mv Production/admin Staging/admin` wrote before it was refused.
    const s = state();
    s.resources['Staging/admin'] = { ...s.resources['Production/admin'], address: 'Staging/admin' };
    delete s.resources['Production/admin'];
    write('.opsync/state.json', JSON.stringify(s, null, 2));
    write('m.yaml', ADMIN('Staging'));
    const r = await cli(['plan', 'm.yaml']);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(
      `Error: Staging/admin: its item is managed in vault Production (id ${vaultId}) but the manifest names vault "Staging"; moving items between vaults is not supported: ` +
        'keep its address in vault Production, or move the item in 1Password, then `opsync state rm Staging/admin` and `opsync import` it',
    );
    expect(r.stdout).not.toMatch(/^[-+] (create|delete)/m);
  });
});
