// Adopting and curating what exists, end to end: import, state list/show/rm/mv, moved blocks, safety
// limits, opsync.yaml precedence and opsync init. The real CLI as a process against a real server.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli, tempProject, useSeededProject } from './cli.js';

const SEED = `vaults:
  - name: Production
    description: prod
    items:
      - title: Legacy API
        category: API_CREDENTIAL
        tags: [legacy]
        fields:
          - { label: credential, type: CONCEALED, value: legacy-Secret-4417 }
          - { label: host, type: STRING, value: api.example.com }
  - name: Staging
    description: staging
`;

const ctx = useSeededProject(SEED);
const { cli, write, state } = ctx;
const SECRET = { LEGACY_CREDENTIAL: 'legacy-Secret-4417' };

const LEGACY = (extra = '') => `vault: Production
items:
  legacy:
    title: Legacy API
    category: API_CREDENTIAL
    tags: [legacy${extra}]
    fields:
      credential: { type: CONCEALED, value: { env: LEGACY_CREDENTIAL } }
      host: api.example.com
`;

/** n simple items in Staging, keys s0..s(n-1). */
const many = (n: number, skip: number[] = []) =>
  `vault: Staging\nitems:\n${Array.from({ length: n }, (_, i) => i)
    .filter((i) => !skip.includes(i))
    .map((i) => `  s${i}:\n    title: Item ${i}\n    fields:\n      username: user${i}\n`)
    .join('')}`;

describe('import', () => {
  it('adopts an existing item by title without changing it; the next plan shows the way to the manifest', async () => {
    write('m.yaml', LEGACY(', v2'));
    // Without import, plan refuses and points to it.
    let r = await cli(['plan', 'm.yaml'], SECRET);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('opsync import Production/legacy Production/');
    expect(r.stdout).toContain('Plan incomplete');

    r = await cli(['import', 'Production/legacy', 'Production/Legacy API', 'm.yaml']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('Imported Production/legacy');
    const entry = state().resources['Production/legacy'];
    expect(entry).toMatchObject({ title: 'Legacy API', version: 1, digest: '' });
    const live = await ctx.client.getItem(entry.vaultId, entry.itemId);
    expect(live.version).toBe(1); // import changed nothing

    r = await cli(['plan', 'm.yaml', '--detailed-exitcode'], SECRET);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stdout).toContain('~ update (patch) Production/legacy');
    expect(r.stdout).toContain('imported: compared in full');
    expect(r.stdout).toContain('+ tag v2');
    expect(r.stdout).not.toContain('credential'); // the secret matches: not a change

    r = await cli(['apply', 'm.yaml', '--auto-approve'], SECRET);
    expect(r.code, r.stderr).toBe(0);
    expect((await ctx.client.getItem(entry.vaultId, entry.itemId)).tags).toEqual(['legacy', 'v2']);
    r = await cli(['plan', 'm.yaml', '--detailed-exitcode'], SECRET);
    expect(r.code, r.stdout).toBe(0);
    expect(state().resources['Production/legacy'].digest).toMatch(/^hmac-sha256:/);
  });

  it('takes an item by id, and refuses what it cannot do cleanly', async () => {
    write('m.yaml', LEGACY());
    const vault = (await ctx.client.findVault('Production'))!;
    const [item] = await ctx.client.listItems(vault.id);
    let r = await cli(['import', 'Production/nope', `Production/${item.id}`, 'm.yaml']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('not declared in the manifests');
    r = await cli(['import', 'Production/legacy', 'Production/No such title', 'm.yaml']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('no item "No such title"');
    r = await cli(['import', 'Production/legacy', `Staging/${item.id}`, 'm.yaml']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('cannot change vaults');
    expect(existsSync(join(ctx.dir, '.opsync/state.json'))).toBe(false);

    r = await cli(['import', 'Production/legacy', `${vault.id}/${item.id}`, 'm.yaml']);
    expect(r.code, r.stderr).toBe(0);
    r = await cli(['import', 'Production/legacy', `Production/${item.id}`, 'm.yaml']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('already managed');
    r = await cli(['plan', 'm.yaml', '--detailed-exitcode'], SECRET);
    expect(r.code).toBe(0);
  });
});

describe('state list / show / rm / mv, and moved blocks', () => {
  it('lists and shows without values, renames and forgets without touching items', async () => {
    write('m.yaml', LEGACY());
    await cli(['import', 'Production/legacy', 'Production/Legacy API', 'm.yaml']);
    let r = await cli(['apply', 'm.yaml', '--auto-approve'], SECRET);
    expect(r.code, r.stderr).toBe(0);
    const { itemId, vaultId } = state().resources['Production/legacy'];

    r = await cli(['state', 'list']);
    expect(r.stdout).toBe(`Production/legacy\tProduction\t${itemId}\tv1\n`);
    r = await cli(['state', 'show', 'Production/legacy']);
    expect(r.stdout).toContain(`item:        ${itemId}`);
    expect(r.stdout).not.toContain('legacy-Secret-4417');
    r = await cli(['state', 'show', 'Production/legacy', '--json']);
    expect(JSON.parse(r.stdout)).toMatchObject({ address: 'Production/legacy', itemId });

    // mv: the state moves; the manifest still says legacy, so plan deletes "api" and refuses the title clash.
    r = await cli(['state', 'mv', 'Production/legacy', 'Production/api']);
    expect(r.code, r.stderr).toBe(0);
    write('m2.yaml', LEGACY().replace('  legacy:', '  api:'));
    r = await cli(['plan', 'm2.yaml', '--detailed-exitcode'], SECRET);
    expect(r.code, r.stdout).toBe(0); // same item, new address: nothing to do
    r = await cli(['state', 'mv', 'Production/api', 'Production/api']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('already in');
    // Into another vault: refused (addresses move within a vault; test/e2e/state-mv.test.ts has the rest).
    r = await cli(['state', 'mv', 'Production/api', 'Staging/api']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('state mv moves addresses within a vault');
    expect(Object.keys(state().resources)).toEqual(['Production/api']);

    // rm: forgotten, not deleted; the manifest then meets an unmanaged item and says to import it.
    r = await cli(['state', 'rm', 'Production/api']);
    expect(r.code, r.stderr).toBe(0);
    expect(state().resources).toEqual({});
    expect((await ctx.client.getItem(vaultId, itemId)).title).toBe('Legacy API');
    r = await cli(['plan', 'm2.yaml'], SECRET);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('opsync does not manage it');
    r = await cli(['state', 'rm', 'Production/api']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('nothing was removed');
    r = await cli(['state', 'list']);
    expect(r.stderr).toContain('No resources');
  });

  it('a moved block renames the address at apply, and the plan says so', async () => {
    write('m.yaml', LEGACY());
    await cli(['import', 'Production/legacy', 'Production/Legacy API', 'm.yaml']);
    await cli(['apply', 'm.yaml', '--auto-approve'], SECRET);
    const itemId = state().resources['Production/legacy'].itemId;

    write('m.yaml', `${LEGACY().replace('  legacy:', '  legacy-api:')}moved:\n  - { from: Production/legacy, to: Production/legacy-api }\n`);
    let r = await cli(['plan', 'm.yaml', '--detailed-exitcode'], SECRET);
    expect(r.code, r.stdout).toBe(2);
    expect(r.stdout).toContain('Production/legacy-api');
    expect(r.stdout).toContain('moved from Production/legacy');
    expect(r.stdout).toContain('> moved Production/legacy-api');
    expect(r.stdout).not.toContain('- delete');
    r = await cli(['apply', 'm.yaml', '--auto-approve'], SECRET);
    expect(r.code, r.stderr).toBe(0);
    expect(Object.keys(state().resources)).toEqual(['Production/legacy-api']);
    expect(state().resources['Production/legacy-api'].itemId).toBe(itemId);
    r = await cli(['plan', 'm.yaml', '--detailed-exitcode'], SECRET);
    expect(r.code, r.stdout).toBe(0);
  });
});

describe('safety limits', () => {
  it('refuses a mass deletion, says which limit and by how much, and applies it with --force', async () => {
    write('m.yaml', many(10));
    let r = await cli(['apply', 'm.yaml', '--auto-approve']);
    expect(r.code, r.stderr).toBe(0);

    // 2 of 10 deletes: under minItems (3), allowed even though 20% > 10%.
    write('m.yaml', many(10, [0, 1]));
    r = await cli(['plan', 'm.yaml']);
    expect(r.stdout).not.toContain('apply will refuse');

    // 4 of 10: 40% > 10%.
    write('m.yaml', many(10, [0, 1, 2, 3]));
    r = await cli(['plan', 'm.yaml', '--detailed-exitcode']);
    expect(r.code).toBe(2);
    expect(r.stdout).toContain('apply will refuse this plan without --force');
    r = await cli(['apply', 'm.yaml', '--auto-approve']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('refusing to apply: the plan deletes 4 of 10 managed item(s) (40%), over the delete limit of 10% by 30%');
    expect(r.stderr).toContain('--force');
    expect(Object.keys(state().resources)).toHaveLength(10);

    // A saved plan is held to the same limits.
    r = await cli(['plan', 'm.yaml', '--out', 'p.opsplan']);
    r = await cli(['apply', 'p.opsplan', '--auto-approve']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('refusing to apply');

    // Limits from opsync.yaml.
    write('opsync.yaml', 'safety: { maxDeletePercent: 50 }\n');
    r = await cli(['plan', 'm.yaml']);
    expect(r.stdout).not.toContain('apply will refuse');
    write('opsync.yaml', 'safety: { maxDeletePercent: 10 }\n');

    r = await cli(['apply', 'm.yaml', '--auto-approve', '--force']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('applying anyway (--force)');
    expect(Object.keys(state().resources)).toHaveLength(6);

    // destroy is what was asked: exempt.
    r = await cli(['destroy', '--auto-approve']);
    expect(r.code, r.stderr).toBe(0);
    expect(state().resources).toEqual({});
  });
});

describe('opsync.yaml', () => {
  it('gives manifests, state, host and vault defaults; environment beats it and flags beat both', async () => {
    write('m.yaml', LEGACY());
    write('s.yaml', 'vault: Staging\nitems:\n  plain:\n    fields: { username: someone }\n');
    write(
      'opsync.yaml',
      `connect: { host: ${ctx.srv.url} }\nstate: from-file.json\nmanifests: [s.yaml]\nvaults:\n  Staging: { category: SECURE_NOTE, tags: [from-file], protect: true }\n`,
    );
    // The file's host and manifests (no OP_CONNECT_HOST), the file's state path.
    let r = await cli(['apply', '--auto-approve'], { OP_CONNECT_HOST: undefined });
    expect(r.code, r.stderr).toBe(0);
    const st = state('from-file.json');
    expect(st.resources['Staging/plain']).toMatchObject({ category: 'SECURE_NOTE', protect: true });
    const item = await ctx.client.getItem(st.resources['Staging/plain'].vaultId, st.resources['Staging/plain'].itemId);
    expect(item.tags).toEqual(['from-file']);

    // Environment beats the file: another state path, and a host that does not answer.
    r = await cli(['plan'], { OPSYNC_STATE: 'from-env.json' });
    expect(r.stdout).toContain('opsync does not manage it'); // an empty state at from-env.json
    r = await cli(['plan'], { OP_CONNECT_HOST: 'http://127.0.0.1:9' });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('127.0.0.1:9');
    // Flags beat the environment.
    r = await cli(['plan', '--state', 'from-file.json', '--connect-host', ctx.srv.url, '--detailed-exitcode'], {
      OPSYNC_STATE: 'from-env.json',
      OP_CONNECT_HOST: 'http://127.0.0.1:9',
    });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain('No changes');
    // Paths on the command line replace the file's manifests: s.yaml is not read, so its item would go.
    r = await cli(['plan', 'm.yaml'], SECRET);
    expect(r.stdout).toContain('Production/legacy');
    expect(r.stdout).toContain('Error: Staging/plain: would be deleted, but it is protected');
  });

  it('is validated with positions, and refuses a token', async () => {
    write('opsync.yaml', `connect:\n  host: http://x\n  token: ${ctx.srv.token}\nparallelism: many\nsafety: { maxDeletePercent: 200 }\nsurprise: 1\n`);
    const r = await cli(['plan', 'm.yaml']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('opsync.yaml:3:3: error: the Connect token must not be in opsync.yaml');
    expect(r.stderr).toContain('opsync.yaml:4:14: error: parallelism must be integer');
    expect(r.stderr).toContain('opsync.yaml:5:29: error: safety.maxDeletePercent must be <= 100');
    expect(r.stderr).toContain('opsync.yaml:6:1: error: surprise: unknown property');
    expect(r.stderr).not.toContain(ctx.srv.token);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });
});

describe('opsync init', () => {
  it('scaffolds a project that plans and applies against the embedded server as it is, and never overwrites', async () => {
    const project = tempProject({ '.gitignore': 'node_modules/\n' });
    const run = (args: string[]) => runCli(args, { cwd: project });
    let r = await run(['init', '--vault', 'Private']);
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(join(project, '.gitignore'), 'utf8')).toBe('node_modules/\n# opsync: state, the embedded server\'s store, saved plans, secret values files\n.opsync/\n*.opsplan\n*.values.env\n');
    expect(existsSync(join(project, 'opsync.yaml'))).toBe(true);
    r = await run(['validate']);
    expect(r.code, r.stderr).toBe(0);
    r = await run(['apply', '--auto-approve']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('Private/example-login');
    r = await run(['plan', '--detailed-exitcode']);
    expect(r.code, r.stdout).toBe(0);

    writeFileSync(join(project, 'opsync.yaml'), 'parallelism: 2\n');
    r = await run(['init']);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('kept     opsync.yaml');
    expect(readFileSync(join(project, 'opsync.yaml'), 'utf8')).toBe('parallelism: 2\n');
    expect(readFileSync(join(project, '.gitignore'), 'utf8').match(/\.opsync\//g)).toHaveLength(1);

    // A plan saved against the embedded server says how to apply it when --local is missing.
    r = await run(['plan', 'manifests', '--local', '--out', 'p.opsplan']);
    expect(r.code, r.stderr).toBe(0);
    r = await run(['apply', 'p.opsplan', '--auto-approve']);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('opsync: error: p.opsplan was planned against the embedded server: apply it with --local (or connect.host: local in opsync.yaml)\n');
    r = await run(['apply', 'p.opsplan', '--local', '--auto-approve']);
    expect(r.code, r.stderr).toBe(0);

    r = await run(['init', '--dir', 'opsync.yaml']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^opsync: error: opsync init: cannot create or update opsync.yaml: E[A-Z]+\n$/);
  });
});
