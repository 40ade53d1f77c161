// Issue 13, end to end: a generated value changed by hand is drift, though opsync never knows the value. The state
// keeps a keyed digest of it (taken from Connect's answer), the plan compares the live value's digest with it, and
// neither value ever shows in an output, a saved plan or the state. Against a real opsync server.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { FullItem } from '../../src/connect/types.js';
import { digestKey, fieldDigest } from '../../src/plan/digest.js';
import { findLeak } from '../support/leaks.js';
import { useSeededProject, type CliResult } from './cli.js';

const ctx = useSeededProject(`vaults:
  - name: Production
    description: prod
`);
const { cli, write, state } = ctx;

const NOTE = 'changed outside opsync (generated value; --rotate to replace it)';
const BY_HAND = 'Typed-by-hand-Passw0rd-42!';

const MANIFEST = (ignore = '') => `vault: Production
items:
  svc:
    title: Service
    category: LOGIN
    tags: [prod]
${ignore}    fields:
      username: { purpose: USERNAME, value: svc-user }
      password: { purpose: PASSWORD, generate: { length: 32 } }
`;

async function live(): Promise<FullItem> {
  const vault = (await ctx.client.findVault('Production'))!;
  const [s] = await ctx.client.listItems(vault.id);
  return ctx.client.getItem(vault.id, s.id);
}
const passwordOf = (item: FullItem) => item.fields!.find((f) => f.purpose === 'PASSWORD')!.value!;
const key = () => digestKey(ctx.srv.token, {});
const statePath = () => join(ctx.dir, '.opsync/state.json');

/** Changes the password as a user would: a PATCH to the Connect API with the token. */
async function setPasswordByHand(value: string): Promise<void> {
  const item = await live();
  const field = item.fields!.find((f) => f.purpose === 'PASSWORD')!;
  const res = await fetch(`${ctx.srv.url}/v1/vaults/${item.vault.id}/items/${item.id}`, {
    method: 'PATCH',
    headers: { Authorization: `Bearer ${ctx.srv.token}`, 'Content-Type': 'application/json' },
    body: JSON.stringify([{ op: 'replace', path: `/fields/${field.id}/value`, value }]),
  });
  expect(res.status).toBe(200);
  await res.arrayBuffer();
}

/** No trace of any of `secrets` in what the CLI printed, nor in the state file. */
function expectNoLeak(results: CliResult[], secrets: string[]): void {
  const texts = [...results.flatMap((r) => [r.stdout, r.stderr]), readFileSync(statePath(), 'utf8')];
  for (const secret of secrets) for (const t of texts) expect(findLeak(t, secret)).toBeUndefined();
}

describe('drift of generated values', () => {
  it('reports a generated password changed by hand as drift, accepts it on apply, and takes a new digest on --rotate', async () => {
    write('m.yaml', MANIFEST());
    const first = await cli(['apply', 'm.yaml', '--auto-approve']);
    expect(first.code, first.stderr).toBe(0);
    const generated = passwordOf(await live());
    expect(generated).toHaveLength(32);
    const recorded = state().resources['Production/svc'];
    expect(state().version).toBe(3);
    // Digested from Connect's answer to the create: the generated value, under the digest key.
    expect(recorded.fields).toEqual({ username: fieldDigest('svc-user', key()), password: fieldDigest(generated, key()) });

    await setPasswordByHand(BY_HAND);
    const text = await cli(['plan', 'm.yaml', '--detailed-exitcode']);
    expect(text.code, text.stdout + text.stderr).toBe(2);
    expect(text.stdout).toContain(`field password: (${NOTE})`);
    expect(text.stdout).toContain('drift: changed outside opsync');
    expect(text.stdout).not.toMatch(/tolerated/);
    const json = await cli(['plan', 'm.yaml', '--detailed-exitcode', '--format', 'json']);
    expect(json.code).toBe(2);
    const change = JSON.parse(json.stdout).resource_changes.find((c: { address: string }) => c.address === 'Production/svc');
    expect(change.action).toBe('noop');
    expect(change.drift.ignored).toBe(false);
    expect(change.changes).toEqual([{ path: 'field password', kind: 'change', sensitive: true, note: NOTE }]);
    const md = await cli(['plan', 'm.yaml', '--format', 'markdown']);
    expect(md.stdout).toContain(NOTE);

    // Ignored: tolerated, as before.
    write('m.yaml', MANIFEST('    ignore: [fields.password]\n'));
    const ignored = await cli(['plan', 'm.yaml', '--detailed-exitcode']);
    expect(ignored.code, ignored.stdout).toBe(0);
    expect(ignored.stdout).toMatch(/tolerated/);
    expect(ignored.stdout).not.toContain(NOTE);

    // Not ignored: a saved plan (which carries the live digest, never the value) is applied, and accepts it.
    write('m.yaml', MANIFEST());
    const saved = await cli(['plan', 'm.yaml', '-out', 'drift.opsplan']);
    expect(saved.code, saved.stderr).toBe(0);
    const planText = readFileSync(join(ctx.dir, 'drift.opsplan'), 'utf8');
    expect(findLeak(planText, BY_HAND)).toBeUndefined();
    expect(findLeak(planText, generated)).toBeUndefined();
    const applied = await cli(['apply', 'drift.opsplan', '--auto-approve']);
    expect(applied.code, applied.stdout + applied.stderr).toBe(0);
    expect(passwordOf(await live())).toBe(BY_HAND); // opsync cannot restore a generated value: it is left as it is
    expect(state().resources['Production/svc'].fields!.password).toBe(fieldDigest(BY_HAND, key()));
    expect(state().resources['Production/svc'].version).toBe((await live()).version);
    const after = await cli(['plan', 'm.yaml', '--detailed-exitcode']);
    expect(after.code, after.stdout).toBe(0);
    expect(after.stdout).toMatch(/No changes/);

    // --rotate: a new value, whose digest comes from the answer to the write; then a no-op.
    const rotated = await cli(['apply', 'm.yaml', '--auto-approve', '--rotate', 'Production/svc']);
    expect(rotated.code, rotated.stderr).toBe(0);
    const fresh = passwordOf(await live());
    expect(fresh).not.toBe(BY_HAND);
    expect(state().resources['Production/svc'].fields!.password).toBe(fieldDigest(fresh, key()));
    const quiet = await cli(['plan', 'm.yaml', '--detailed-exitcode']);
    expect(quiet.code, quiet.stdout).toBe(0);

    expectNoLeak([first, text, json, md, ignored, saved, applied, after, rotated, quiet], [generated, BY_HAND, fresh]);
  });

  it('reads and upgrades a version 1 state (written by hand): without digests it falls back, until the next write records them', async () => {
    write('m.yaml', MANIFEST());
    expect((await cli(['apply', 'm.yaml', '--auto-approve'])).code).toBe(0);
    // The state as a version 1 opsync would have left it: no field digests.
    const v2 = state();
    const v1 = { ...v2, version: 1, resources: Object.fromEntries(Object.entries(v2.resources).map(([a, { fields: _f, ...r }]) => [a, r])) };
    writeFileSync(statePath(), `${JSON.stringify(v1, null, 2)}\n`);

    let r = await cli(['plan', 'm.yaml', '--detailed-exitcode']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(JSON.parse(readFileSync(statePath(), 'utf8')).version).toBe(1); // a plan writes nothing

    // Without digests, a hand-changed generated value is only what it was before: tolerated drift.
    await setPasswordByHand(BY_HAND);
    r = await cli(['plan', 'm.yaml', '--detailed-exitcode']);
    expect(r.code, r.stdout).toBe(0);
    expect(r.stdout).toMatch(/tolerated/);

    // The next write (here a tag) records the digests and writes format 2.
    write('m.yaml', MANIFEST().replace('tags: [prod]', 'tags: [prod, api]'));
    r = await cli(['apply', 'm.yaml', '--auto-approve']);
    expect(r.code, r.stderr).toBe(0);
    expect(state().version).toBe(3);
    expect(state().resources['Production/svc'].fields!.password).toBe(fieldDigest(BY_HAND, key()));

    await setPasswordByHand('Another-hand-typed-9');
    r = await cli(['plan', 'm.yaml', '--detailed-exitcode']);
    expect(r.code, r.stdout).toBe(2);
    expect(r.stdout).toContain(NOTE);
    expect(findLeak(r.stdout + readFileSync(statePath(), 'utf8'), 'Another-hand-typed-9')).toBeUndefined();
  });

  it('refuses a state of a newer format in one line naming the file', async () => {
    write('m.yaml', MANIFEST());
    writeFileSync(join(ctx.dir, 'future.json'), JSON.stringify({ version: 4, lineage: 'l', serial: 1, resources: {}, pending: {} }));
    const r = await cli(['plan', 'm.yaml', '--state', 'future.json']);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/future\.json has state format 4; this opsync reads up to 3: upgrade opsync/);
  });
});
