// A manifest full of secrets, run through every command and format: no secret value may appear in stdout,
// stderr, the state file, a saved plan, or the GitHub step summary.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ConnectClient, filterEq } from '../../src/connect/client.js';
import { startTestServer } from '../support/server.js';
import { runCli, tempProject, type CliResult } from './cli.js';

const SECRETS = {
  env: 'EnvSecret-7f3a9c-never-print',
  envChanged: 'EnvSecret2-b81d0e-never-print',
  file: 'FileSecret-19ce44-never-print',
  literal: 'LiteralSecret-a0b1c2-never-print',
  upstream: 'RefSecret-5d6e7f-never-print',
  hidden: 'HandEdit-c3c3c3-never-print',
};

let srv: Awaited<ReturnType<typeof startTestServer>>;
let client: ConnectClient;
let dir: string;

beforeAll(async () => {
  srv = await startTestServer();
  client = new ConnectClient({ host: srv.url, token: srv.token });
  const vault = (await client.findVault('Private'))!;
  await client.createItem(vault.id, {
    title: 'Upstream',
    category: 'PASSWORD',
    fields: [{ id: 'password', label: 'password', type: 'CONCEALED', purpose: 'PASSWORD', value: SECRETS.upstream }],
  });
  dir = tempProject({
    'tls.key': `-----BEGIN FAKE KEY-----\n${SECRETS.file}\n-----END FAKE KEY-----\n`,
    'm.yaml': `vault: Private
items:
  app:
    title: App secrets
    category: API_CREDENTIAL
    tags: [prod]
    sections: { tls: TLS }
    fields:
      username: { purpose: USERNAME, value: app }
      password: { purpose: PASSWORD, value: { env: APP_PASSWORD } }
      api key: { type: CONCEALED, value: ${SECRETS.literal}, allowLiteral: true }
      key: { section: tls, type: CONCEALED, value: { file: ./tls.key } }
      upstream: { type: CONCEALED, value: { ref: "op://Private/Upstream/password" } }
      admin: { type: CONCEALED, generate: { length: 40 } }
      notes: { purpose: NOTES, value: "line one\\nline two" }
`,
  });
});

afterAll(async () => {
  await client.close();
  await srv.close();
});

it('never prints, saves or records a secret value', { timeout: 180_000 }, async () => {
  const outputs: CliResult[] = [];
  const summary = join(dir, 'step-summary.md');
  writeFileSync(summary, '');
  const run = async (args: string[], password = SECRETS.env) => {
    const r = await runCli(args, {
      cwd: dir,
      env: { OP_CONNECT_HOST: srv.url, OP_CONNECT_TOKEN: srv.token, APP_PASSWORD: password, GITHUB_ACTIONS: 'true', GITHUB_STEP_SUMMARY: summary },
    });
    outputs.push(r);
    return r;
  };

  await run(['validate', 'm.yaml']);
  for (const format of ['text', 'json', 'markdown']) await run(['plan', 'm.yaml', '--format', format]);
  expect((await run(['plan', 'm.yaml', '-out', 'create.opsplan'])).code).toBe(0);
  await run(['show', 'create.opsplan']);
  await run(['show', '--json', 'create.opsplan']);
  expect((await run(['apply', 'create.opsplan', '--auto-approve'])).code).toBe(0);

  // A changed secret, a hand edit (drift) and a rotation: every kind of sensitive change.
  const vault = (await client.findVault('Private'))!;
  const [summaryItem] = await client.listItems(vault.id, filterEq('title', 'App secrets'));
  const item = await client.getItem(vault.id, summaryItem.id);
  const generated = item.fields!.find((f) => f.label === 'admin')!.value!;
  expect(generated).toHaveLength(40);
  const key = item.fields!.find((f) => f.label === 'key')!;
  await client.patchItem(vault.id, item.id, [
    { op: 'replace', path: `/fields/${key.id}/value`, value: SECRETS.hidden },
    { op: 'add', path: '/fields/-', value: { label: 'extra', type: 'CONCEALED', value: SECRETS.hidden } },
  ]);
  for (const format of ['text', 'json', 'markdown']) {
    const r = await run(['plan', 'm.yaml', '--format', format, '--rotate', 'Private/app'], SECRETS.envChanged);
    expect(r.code, r.stderr).toBe(0);
  }
  expect((await run(['plan', 'm.yaml', '-out', 'update.opsplan', '--rotate', 'Private/app'], SECRETS.envChanged)).code).toBe(0);
  await run(['show', '--json', 'update.opsplan']);
  expect((await run(['apply', 'update.opsplan', '--auto-approve'], SECRETS.envChanged)).code).toBe(0);
  await run(['refresh', 'm.yaml'], SECRETS.envChanged);
  // A failing run: the env var is missing, and a wrong value makes a stale-values refusal.
  await run(['plan', 'm.yaml'], '');
  await run(['destroy', 'm.yaml', '--auto-approve'], SECRETS.envChanged);

  const after = await client.getItem(vault.id, item.id).catch(() => undefined);
  const rotated = after?.fields?.find((f) => f.label === 'admin')?.value;
  const texts = [
    ...outputs.flatMap((o) => [o.stdout, o.stderr]),
    readFileSync(join(dir, '.opsync/state.json'), 'utf8'),
    readFileSync(join(dir, 'create.opsplan'), 'utf8'),
    readFileSync(join(dir, 'update.opsplan'), 'utf8'),
    readFileSync(summary, 'utf8'),
  ];
  const all = texts.join('\n');
  expect(all).toContain('App secrets'); // the outputs are really there
  expect(all).toContain('sensitive');
  for (const secret of [...Object.values(SECRETS), generated, ...(rotated ? [rotated] : [])]) {
    expect(all.includes(secret), `a secret value leaked: ${secret.slice(0, 8)}…`).toBe(false);
  }
});
