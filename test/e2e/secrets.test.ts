// A manifest full of secrets, run through every command and format: no secret value may appear in stdout,
// stderr, the state file, a saved plan, or the GitHub step summary. And the same with variables (issue 16):
// the sources' names, paths and references from variables, a secret literal from one (allowLiteral).
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

// Variables name the sources (an env variable, a file, a referenced item); a secret literal comes from a
// variable through allowLiteral, given as OPSYNC_VAR_api_key (as CI would) or --var. Bad values are refused
// without being shown.
const VAR_SECRETS = {
  env: 'VarEnvSecret-4e1f08-never-print',
  envChanged: 'VarEnvSecret2-77aa01-never-print',
  file: 'VarFileSecret-0c9d2b-never-print',
  literal: 'tok-VarLiteral-e5f6a7-never-print',
  literalChanged: 'tok-VarLiteral2-19b2c3-never-print',
  refused: 'VarRefused-d4d4d4-never-print',
};

const VAR_MANIFEST = `variables:
  db_password_env: { type: string, description: the environment variable of the database password }
  key_file: { type: string, default: ./vars.key }
  upstream: { type: string }
  api_key: { type: string, description: a token kept out of git, validation: { pattern: "^tok-" } }
  environment: { type: string, default: prod, validation: { allowed: [prod, staging] } }
vault: Private
items:
  var-app:
    title: "Var app \${var.environment}"
    fields:
      username: { purpose: USERNAME, value: app }
      password: { purpose: PASSWORD, value: { env: "\${var.db_password_env}" } }
      key: { type: CONCEALED, value: { file: "\${var.key_file}" } }
      upstream: { type: CONCEALED, value: { ref: "op://Private/\${var.upstream}/password" } }
      api key: { type: CONCEALED, value: "\${var.api_key}", allowLiteral: true }
`;

it('never prints, saves or records a secret value that comes through variables', { timeout: 180_000 }, async () => {
  const vdir = tempProject({ 'vars.key': `-----BEGIN FAKE KEY-----\n${VAR_SECRETS.file}\n-----END FAKE KEY-----\n`, 'm.yaml': VAR_MANIFEST, 'names.yaml': 'upstream: Upstream\n' });
  const outputs: CliResult[] = [];
  const renders: CliResult[] = [];
  const summary = join(vdir, 'step-summary.md');
  writeFileSync(summary, '');
  const run = async (args: string[], extra: Record<string, string | undefined> = {}, into = outputs) => {
    const r = await runCli([...args, '--var-file', 'names.yaml', '--var', 'db_password_env=VARS_DB_PASSWORD'], {
      cwd: vdir,
      env: {
        OP_CONNECT_HOST: srv.url,
        OP_CONNECT_TOKEN: srv.token,
        VARS_DB_PASSWORD: VAR_SECRETS.env,
        OPSYNC_VAR_api_key: VAR_SECRETS.literal,
        GITHUB_ACTIONS: 'true',
        GITHUB_STEP_SUMMARY: summary,
        ...extra,
      },
    });
    into.push(r);
    return r;
  };

  expect((await run(['validate', 'm.yaml', '--check-sources'])).code).toBe(0);
  for (const format of ['text', 'json', 'markdown']) expect((await run(['plan', 'm.yaml', '--format', format])).code).toBe(0);
  expect((await run(['plan', 'm.yaml', '-out', 'create.opsplan'])).code).toBe(0);
  await run(['show', '--json', 'create.opsplan']);
  expect((await run(['apply', 'create.opsplan', '--auto-approve'])).code).toBe(0);
  const vault = (await client.findVault('Private'))!;
  const [found] = await client.listItems(vault.id, filterEq('title', 'Var app prod'));
  const item = await client.getItem(vault.id, found.id);
  // The values really went through: from the variable-named env variable, file, reference and literal.
  expect(item.fields!.find((f) => f.label === 'password')!.value).toBe(VAR_SECRETS.env);
  expect(item.fields!.find((f) => f.label === 'key')!.value).toContain(VAR_SECRETS.file);
  expect(item.fields!.find((f) => f.label === 'upstream')!.value).toBe(SECRETS.upstream);
  expect(item.fields!.find((f) => f.label === 'api key')!.value).toBe(VAR_SECRETS.literal);

  // Every secret changed, the literal by --var over OPSYNC_VAR_api_key; then a run in every format.
  const changed = { VARS_DB_PASSWORD: VAR_SECRETS.envChanged };
  for (const format of ['text', 'json', 'markdown']) {
    expect((await run(['plan', 'm.yaml', '--format', format, '--var', `api_key=${VAR_SECRETS.literalChanged}`], changed)).code).toBe(0);
  }
  expect((await run(['apply', 'm.yaml', '--auto-approve', '--var', `api_key=${VAR_SECRETS.literalChanged}`], changed)).code).toBe(0);
  expect((await run(['apply', 'm.yaml', '--auto-approve', '--format', 'json'], changed)).code).toBe(0);
  expect((await run(['plan', 'm.yaml', '--detailed-exitcode'], changed)).code).toBe(0);
  // Refused values: a pattern, an allowed list, a missing one; each says where, never what.
  const refused = await run(['plan', 'm.yaml', '--var', `api_key=${VAR_SECRETS.refused}`], changed);
  expect(refused.code).toBe(1);
  expect(refused.stderr).toContain('variable api_key: the value from --var does not match its pattern ^tok-');
  expect((await run(['validate', 'm.yaml', '--format', 'json'], { ...changed, OPSYNC_VAR_environment: VAR_SECRETS.refused })).code).toBe(1);
  expect((await run(['plan', 'm.yaml'], { ...changed, OPSYNC_VAR_api_key: undefined })).code).toBe(1);

  // render shows the sources, never what they hold.
  const rendered = await run(['render', 'm.yaml'], changed, renders);
  expect(rendered.code, rendered.stderr).toBe(0);
  expect(rendered.stdout).toContain('{env: VARS_DB_PASSWORD}');
  expect(rendered.stdout).toContain('{file: ./vars.key}');
  expect(rendered.stdout).toContain('op://Private/Upstream/password');
  await run(['render', 'm.yaml', '--format', 'json'], changed, renders);
  await run(['destroy', 'm.yaml', '--auto-approve'], changed);

  const all = [...outputs.flatMap((o) => [o.stdout, o.stderr]), readFileSync(join(vdir, '.opsync/state.json'), 'utf8'), readFileSync(join(vdir, 'create.opsplan'), 'utf8'), readFileSync(summary, 'utf8')].join('\n');
  expect(all).toContain('Var app prod');
  expect(all).toContain('sensitive');
  for (const secret of [...Object.values(VAR_SECRETS), SECRETS.upstream]) {
    expect(all.includes(secret), `a secret value leaked: ${secret.slice(0, 12)}…`).toBe(false);
  }
  const renderOut = renders.flatMap((o) => [o.stdout, o.stderr]).join('\n');
  for (const secret of [VAR_SECRETS.env, VAR_SECRETS.envChanged, VAR_SECRETS.file, SECRETS.upstream, VAR_SECRETS.refused]) {
    expect(renderOut.includes(secret), `render leaked: ${secret.slice(0, 12)}…`).toBe(false);
  }
  // render shows an allowLiteral field's literal as "(secret literal, not shown)": a variable may have put it there.
  expect(renderOut.includes(VAR_SECRETS.literal)).toBe(false);
});

// A secret literal that a variable gives (allowLiteral) is a value git never held: render does not show it.
it('render hides a secret literal that comes from a variable', async () => {
  const vdir = tempProject({ 'm.yaml': VAR_MANIFEST, 'vars.key': 'x\n' });
  const r = await runCli(['render', 'm.yaml', '--var', 'upstream=Upstream', '--var', 'db_password_env=X'], { cwd: vdir, env: { OPSYNC_VAR_api_key: VAR_SECRETS.literal } });
  expect(r.code, r.stderr).toBe(0);
  expect(r.stdout).not.toContain(VAR_SECRETS.literal);
});
