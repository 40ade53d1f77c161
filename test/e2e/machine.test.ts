// Machine-readable runs end to end (issue 14): the real CLI against a real server. `apply --format json` prints
// one result document (schemas/apply-result.schema.json) and nothing else on stdout; `--json-stream` writes
// events (schemas/events.schema.json) as the run goes; `--version` and `version`; OPSYNC_LOG's request log.
// And the leak test: secrets from env, file, literal and generate through every one of these outputs, with the
// request log at trace, never appear, nor does the token.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConnectClient, filterEq } from '../../src/connect/client.js';
import type { StateFile } from '../../src/state/types.js';
import { VERSION } from '../../src/version.js';
import { startFaultProxy, type FaultProxy } from '../support/faultProxy.js';
import { findLeak } from '../support/leaks.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { runCli, spawnCli, tempProject, type CliResult } from './cli.js';

function validator(file: string) {
  const schema = JSON.parse(readFileSync(new URL(`../../schemas/${file}`, import.meta.url), 'utf8')) as object;
  const ajv = new Ajv2020({ allErrors: true, strict: true });
  addFormats.default(ajv);
  return ajv.compile(schema);
}
const validResult = validator('apply-result.schema.json');
const validEvent = validator('events.schema.json');

type Event = { type: string; timestamp: string } & Record<string, unknown>;

/** stdout as events: every line one event, each valid against the schema, the last a summary. */
function events(r: CliResult): Event[] {
  expect(r.stdout.endsWith('\n'), r.stdout).toBe(true);
  const out = r.stdout
    .slice(0, -1)
    .split('\n')
    .map((l) => JSON.parse(l) as Event);
  for (const e of out) expect(validEvent(e), `${JSON.stringify(e)}: ${JSON.stringify(validEvent.errors)}`).toBe(true);
  expect(out.at(-1)!.type).toBe('summary');
  return out;
}

/** stdout as exactly one result document, valid against its schema. */
function result(r: CliResult): Record<string, any> {
  const doc = JSON.parse(r.stdout) as Record<string, any>; // throws if anything else is on stdout
  expect(validResult(doc), JSON.stringify(validResult.errors)).toBe(true);
  return doc;
}

const MANIFEST = `vault: Private
items:
  db:
    title: Database
    category: DATABASE
    fields:
      password: { type: CONCEALED, purpose: PASSWORD, value: { env: DB_PASSWORD } }
      user: { type: STRING, value: app }
  api:
    title: API key
    category: API_CREDENTIAL
    fields:
      credential: { type: CONCEALED, generate: { length: 32 } }
`;

let srv: TestServer;
let proxy: FaultProxy;
let client: ConnectClient;
let dir: string;
const env = (extra: Record<string, string> = {}) => ({ OP_CONNECT_HOST: proxy.url, OP_CONNECT_TOKEN: srv.token, DB_PASSWORD: 'Pw-0a1b2c3d-never-shown', ...extra });
const cli = (args: string[], extra: Record<string, string> = {}) => runCli(args, { cwd: dir, env: env(extra) });
const state = () => JSON.parse(readFileSync(join(dir, '.opsync/state.json'), 'utf8')) as StateFile;

beforeEach(async () => {
  srv = await startTestServer();
  proxy = await startFaultProxy(srv.url);
  client = new ConnectClient({ host: srv.url, token: srv.token });
  dir = tempProject({ 'm.yaml': MANIFEST });
});

afterEach(async () => {
  await client.close();
  await proxy.close();
  await srv.close();
});

describe('apply --format json', () => {
  it('prints one result document: each operation with its item id and version, the totals, the state serial', { timeout: 120_000 }, async () => {
    const r = await cli(['apply', 'm.yaml', '--format', 'json', '--auto-approve']);
    expect(r.code, r.stderr).toBe(0);
    const doc = result(r);
    expect(doc).toMatchObject({ command: 'apply', status: 'applied', connect_host: proxy.url, plan: { has_changes: true, summary: { create: 2 } } });
    const st = state();
    expect(doc.state).toEqual({ lineage: st.lineage, serial: st.serial });
    expect(doc.operations).toEqual(
      ['Private/api', 'Private/db'].map((address) => ({
        address,
        action: 'create',
        outcome: 'done',
        item_id: st.resources[address].itemId,
        version: st.resources[address].version,
      })),
    );
    expect(doc.totals).toEqual({ operations: 2, done: 2, failed: 0, skipped: 0, done_by_action: { create: 2, update: 0, replace: 0, delete: 0, forget: 0 } });
    expect(r.stdout).not.toContain('+ create'); // the plan is not printed as text

    const again = await cli(['apply', 'm.yaml', '--format', 'json', '--auto-approve']);
    expect(again.code, again.stderr).toBe(0);
    expect(result(again)).toMatchObject({ status: 'no_changes', operations: [], state: { serial: state().serial } });
  });

  it('says which operation failed and why, exit 1; a plan with errors is errored, nothing sent', { timeout: 120_000 }, async () => {
    proxy.inject({ method: 'POST', path: /\/items$/, status: 403, times: Infinity });
    const r = await cli(['apply', 'm.yaml', '--format', 'json', '--auto-approve']);
    expect(r.code).toBe(1);
    const doc = result(r);
    expect(doc.status).toBe('failed');
    expect(doc.totals).toMatchObject({ done: 0, failed: 2 });
    for (const op of doc.operations) expect(op).toMatchObject({ action: 'create', outcome: 'failed', error: expect.stringContaining('403') });
    proxy.clear();

    const bad = await cli(['apply', 'm.yaml', '--format', 'json', '--auto-approve', '--target', 'Private/nope']);
    expect(bad.code).toBe(1);
    const errored = result(bad);
    expect(errored).toMatchObject({ status: 'errored', operations: [] });
    expect(errored.diagnostics[0]).toMatchObject({ severity: 'error', message: expect.stringContaining('Private/nope') });
  });

  it('still needs --auto-approve off a terminal: one line, nothing on stdout, nothing changed', { timeout: 60_000 }, async () => {
    const r = await cli(['apply', 'm.yaml', '--format', 'json']);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr.trim().split('\n')).toEqual([expect.stringMatching(/needs --auto-approve.*nothing was changed/)]);
    const vault = (await client.findVault('Private'))!;
    expect(await client.listItems(vault.id)).toEqual([]);
  });
});

describe('--json-stream', () => {
  it('plan: plan_started, a resource_refreshed per resource, planned, summary; nothing else on stdout', { timeout: 60_000 }, async () => {
    const r = await cli(['plan', 'm.yaml', '--json-stream']);
    expect(r.code, r.stderr).toBe(0);
    const ev = events(r);
    expect(ev.map((e) => e.type)).toEqual(['plan_started', 'resource_refreshed', 'resource_refreshed', 'planned', 'summary']);
    expect(ev[0]).toMatchObject({ command: 'plan', connect_host: proxy.url, opsync_version: VERSION, mode: 'normal' });
    expect(ev.filter((e) => e.type === 'resource_refreshed').map((e) => e.address).sort()).toEqual(['Private/api', 'Private/db']);
    expect(ev.find((e) => e.type === 'resource_refreshed')).toMatchObject({ action: 'create', drifted: false, total: 2 });
    expect(ev[3]).toMatchObject({ has_changes: true, operations: 2, summary: { create: 2 } });
    expect(ev[4]).toMatchObject({ command: 'plan', status: 'planned', has_changes: true });
    const times = ev.map((e) => Date.parse(e.timestamp));
    expect([...times].sort((a, b) => a - b)).toEqual(times);
  });

  it('apply: apply_start and apply_complete per operation with item ids, the state serial in the summary', { timeout: 120_000 }, async () => {
    const r = await cli(['apply', 'm.yaml', '--json-stream', '--auto-approve']);
    expect(r.code, r.stderr).toBe(0);
    const ev = events(r);
    const st = state();
    const complete = ev.filter((e) => e.type === 'apply_complete');
    expect(complete.map((e) => e.address).sort()).toEqual(['Private/api', 'Private/db']);
    for (const e of complete) expect(e).toMatchObject({ action: 'create', item_id: st.resources[e.address as string].itemId, version: 1 });
    for (const e of complete) {
      const start = ev.findIndex((s) => s.type === 'apply_start' && s.address === e.address);
      expect(start).toBeGreaterThan(ev.findIndex((p) => p.type === 'planned'));
      expect(start).toBeLessThan(ev.indexOf(e));
    }
    expect(ev.at(-1)).toMatchObject({ command: 'apply', status: 'applied', operations: { done: 2, failed: 0, skipped: 0 }, state: { lineage: st.lineage, serial: st.serial } });

    // A failing operation: apply_errored with Connect's reason; destroy streams its deletes.
    await client.patchItem(st.resources['Private/db'].vaultId, st.resources['Private/db'].itemId, [{ op: 'replace', path: '/title', value: 'Renamed' }]);
    proxy.inject({ method: 'PATCH', status: 403, times: Infinity });
    proxy.inject({ method: 'PUT', status: 403, times: Infinity });
    const failed = await cli(['apply', 'm.yaml', '--json-stream', '--auto-approve']);
    expect(failed.code).toBe(1);
    const fe = events(failed);
    expect(fe.find((e) => e.type === 'resource_refreshed' && e.address === 'Private/db')).toMatchObject({ action: 'update', drifted: true });
    expect(fe.find((e) => e.type === 'apply_errored')).toMatchObject({ address: 'Private/db', action: 'update', error: expect.stringContaining('403') });
    expect(fe.at(-1)).toMatchObject({ status: 'failed', operations: { done: 0, failed: 1 } });
    proxy.clear();

    const destroy = await cli(['destroy', '--json-stream', '--auto-approve']);
    expect(destroy.code, destroy.stderr).toBe(0);
    const de = events(destroy);
    expect(de[0]).toMatchObject({ type: 'plan_started', command: 'destroy', mode: 'destroy' });
    expect(de.filter((e) => e.type === 'apply_complete').map((e) => [e.address, e.action])).toEqual(expect.arrayContaining([['Private/api', 'delete'], ['Private/db', 'delete']]));
    expect(de.at(-1)).toMatchObject({ command: 'destroy', status: 'applied', state: { serial: state().serial } });
  });

  it('refresh: the report on stderr, a resource_refreshed per resource with its drift, the state serial in the summary', { timeout: 120_000 }, async () => {
    expect((await cli(['apply', 'm.yaml', '--auto-approve'])).code).toBe(0);
    const db = state().resources['Private/db'];
    await client.patchItem(db.vaultId, db.itemId, [{ op: 'replace', path: '/title', value: 'Renamed' }]);
    const r = await cli(['refresh', 'm.yaml', '--json-stream']);
    expect(r.code, r.stderr).toBe(0);
    const ev = events(r);
    expect(ev[0]).toMatchObject({ type: 'plan_started', command: 'refresh' });
    expect(ev.find((e) => e.type === 'resource_refreshed' && e.address === 'Private/db')).toMatchObject({ drifted: true });
    expect(ev.find((e) => e.type === 'resource_refreshed' && e.address === 'Private/api')).toMatchObject({ drifted: false, action: 'noop' });
    expect(ev.at(-1)).toMatchObject({ command: 'refresh', status: 'applied', plan: { drifted: 1 }, state: { serial: state().serial } });
    expect(r.stderr).toMatch(/^! Private\/db: changed outside opsync/m);
    expect(r.stderr).toMatch(/^Refresh: 2 resource\(s\) checked, 1 drifted\.$/m);
  });

  it('events come as they happen: Ctrl-C after the first apply_start ends in apply_skipped and a summary interrupted', { timeout: 120_000 }, async () => {
    const many = Array.from({ length: 6 }, (_, i) => `  item${i}:\n    title: Item ${i}\n    category: LOGIN\n    fields: { user: u${i} }\n`).join('');
    writeFileSync(join(dir, 'many.yaml'), `vault: Private\nitems:\n${many}`);
    proxy.inject({ method: 'POST', delayMs: 1500, times: Infinity }); // each create takes a while
    const child = spawnCli(['apply', 'many.yaml', '--json-stream', '--auto-approve', '--parallelism', '1'], { cwd: dir, env: env() });
    let stdout = '';
    let stderr = '';
    let signalled = false;
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdout!.on('data', (d: Buffer) => {
      stdout += d.toString();
      // The stream is live: the first operation's start is readable while it runs, before the run ends.
      if (!signalled && stdout.includes('"type":"apply_start"')) {
        signalled = true;
        child.kill('SIGINT');
      }
    });
    const code = await new Promise<number>((resolve) => child.on('close', (c) => resolve(c ?? -1)));
    expect(signalled).toBe(true);
    expect(code, stderr).toBe(1);
    const ev = events({ code, stdout, stderr });
    expect(ev.filter((e) => e.type === 'apply_complete').length).toBeGreaterThanOrEqual(1); // the running one finished
    expect(ev.filter((e) => e.type === 'apply_skipped').length).toBeGreaterThanOrEqual(1);
    expect(ev.find((e) => e.type === 'apply_skipped')).toMatchObject({ action: 'create', reason: expect.any(String) });
    expect(ev.at(-1)).toMatchObject({ command: 'apply', status: 'interrupted', state: { serial: state().serial } });
    expect(stderr).toMatch(/Interrupted: .*`opsync apply` again finishes the job/);
    // The creates never sent leave no pending record behind (theirs were declared ahead of them: pending.ts).
    expect(state().pending).toEqual({});
  });

  it('a saved plan applied: plan_started names it, no refresh events', { timeout: 120_000 }, async () => {
    expect((await cli(['plan', 'm.yaml', '-out', 'p.opsplan'])).code).toBe(0);
    const r = await cli(['apply', 'p.opsplan', '--json-stream', '--auto-approve']);
    expect(r.code, r.stderr).toBe(0);
    const ev = events(r);
    expect(ev[0]).toMatchObject({ type: 'plan_started', saved_plan: 'p.opsplan' });
    expect(ev.some((e) => e.type === 'resource_refreshed')).toBe(false);
    expect(ev.filter((e) => e.type === 'apply_complete')).toHaveLength(2);
  });

  it('errors end the stream with a diagnostic and a summary errored: manifests (with positions), refusals, --format', { timeout: 60_000 }, async () => {
    const missing = await runCli(['plan', 'm.yaml', '--json-stream'], { cwd: dir, env: { ...env(), DB_PASSWORD: '' } });
    expect(missing.code).toBe(1);
    const me = events(missing);
    expect(me[0]).toMatchObject({ type: 'diagnostic', severity: 'error', message: expect.stringContaining('DB_PASSWORD'), pos: { file: 'm.yaml', line: 7 } });
    expect(me.at(-1)).toMatchObject({ command: 'plan', status: 'errored' });

    const unapproved = await cli(['apply', 'm.yaml', '--json-stream']);
    expect(unapproved.code).toBe(1);
    expect(events(unapproved).map((e) => e.type)).toEqual(['diagnostic', 'summary']);
    expect(unapproved.stderr).toMatch(/--json-stream needs --auto-approve/);
    expect(proxy.seen).toEqual([]); // refused before any request

    const both = await cli(['plan', 'm.yaml', '--json-stream', '--format', 'json']);
    expect(both.code).toBe(1);
    expect(both.stderr).toMatch(/--json-stream and --format both write to stdout/);
  });
});

describe('validate --format json', () => {
  const validValidate = validator('validate-output.schema.json');
  it('one document on stdout, valid or not, each problem at its file, line and column; exit 0 or 1', { timeout: 60_000 }, async () => {
    const ok = await cli(['validate', 'm.yaml', '--format', 'json']);
    expect(ok.code, ok.stderr).toBe(0);
    const doc = JSON.parse(ok.stdout);
    expect(validValidate(doc), JSON.stringify(validValidate.errors)).toBe(true);
    expect(doc).toMatchObject({ valid: true, files: ['m.yaml'], items: 2, unchecked_sources: 1, diagnostics: [] });

    writeFileSync(join(dir, 'bad.yaml'), 'vault: Private\nitems:\n  x:\n    title: X\n    category: NOPE\n    fields: { user: { value: u } }\n');
    const bad = await cli(['validate', 'bad.yaml', '--format', 'json']);
    expect(bad.code).toBe(1);
    const badDoc = JSON.parse(bad.stdout);
    expect(validValidate(badDoc), JSON.stringify(validValidate.errors)).toBe(true);
    expect(badDoc).toMatchObject({ valid: false, error_count: 1 });
    expect(badDoc.diagnostics[0]).toMatchObject({ severity: 'error', message: expect.stringContaining('category'), pos: { file: 'bad.yaml', line: 5, col: 15 } });
    expect(bad.stderr).toContain('bad.yaml:5:15: error:'); // the lines as without --format

    const missing = await runCli(['validate', 'm.yaml', '--format', 'json', '--check-sources'], { cwd: dir, env: { ...env(), DB_PASSWORD: '' } });
    expect(missing.code).toBe(1);
    expect(JSON.parse(missing.stdout).diagnostics[0]).toMatchObject({ message: expect.stringContaining('DB_PASSWORD'), pos: { file: 'm.yaml', line: 7 } });
  });
});

describe('version', () => {
  it('--version, -v, -V and version print it and exit 0; version --json as JSON', { timeout: 60_000 }, async () => {
    for (const args of [['--version'], ['-v'], ['-V'], ['version']]) {
      const r = await cli(args);
      expect([r.code, r.stdout, r.stderr], args.join(' ')).toEqual([0, `${VERSION}\n`, '']);
    }
    const j = await cli(['version', '--json']);
    expect(j.code).toBe(0);
    expect(JSON.parse(j.stdout)).toEqual({ version: VERSION });
  });
});

describe('OPSYNC_LOG', () => {
  it('debug: a line per request with method, path, status and time, retries counted; trace adds the query', { timeout: 120_000 }, async () => {
    proxy.inject({ method: 'GET', path: '/v1/vaults', status: 503, times: 1 });
    const r = await cli(['plan', 'm.yaml', '--format', 'json'], { OPSYNC_LOG: 'debug' });
    expect(r.code, r.stderr).toBe(0);
    JSON.parse(r.stdout); // the plan's stdout untouched
    const lines = r.stderr.split('\n').filter((l) => l.startsWith('opsync debug: '));
    expect(lines[0]).toMatch(/^opsync debug: GET \/v1\/vaults 503 \d+ms attempt 1\/5, retry in \d+ms$/);
    expect(lines[1]).toMatch(/^opsync debug: GET \/v1\/vaults 200 \d+ms attempt 2\/5$/);
    expect(lines.some((l) => /^opsync debug: GET \/v1\/vaults\/[a-z0-9]{26}\/items 200 \d+ms$/.test(l))).toBe(true);

    // A filtered list: the query only at trace.
    await cli(['apply', 'm.yaml', '--auto-approve']);
    const debug = await cli(['export', '--vault', 'Private', '--out', 'exported', '--filter', 'title eq "Database"'], { OPSYNC_LOG: 'debug' });
    expect(debug.code, debug.stderr).toBe(0);
    expect(debug.stderr).toMatch(/^opsync debug: GET \/v1\/vaults\/[a-z0-9]{26}\/items 200 \d+ms$/m);
    expect(debug.stderr).not.toContain('filter=');
    const trace = await cli(['export', '--vault', 'Private', '--out', 'exported2', '--filter', 'title eq "Database"'], { OPSYNC_LOG: 'trace' });
    expect(trace.code, trace.stderr).toBe(0);
    expect(trace.stderr).toMatch(/^opsync trace: \S+Z GET \/v1\/vaults\/[a-z0-9]{26}\/items\?filter=title%20eq%20%22Database%22 200 \d+ms attempt 1\/5$/m);
  });

  it('an unknown level is one line before any request', { timeout: 60_000 }, async () => {
    const r = await cli(['plan', 'm.yaml'], { OPSYNC_LOG: 'verbose' });
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe('opsync: error: OPSYNC_LOG must be debug or trace (or unset), got "verbose"');
    expect(proxy.seen).toEqual([]);
  });
});

it('leaks nothing: secrets from env, file, literal and generate through the log at trace, the events, the JSON result and validate JSON', { timeout: 240_000 }, async () => {
  const SECRETS = {
    env: 'EnvSecret-4e5f6a-machine',
    envChanged: 'EnvSecret2-9c8b7a-machine',
    file: 'FileSecret-1d2e3f-machine',
    literal: 'LiteralSecret-7a8b9c-machine',
  };
  const project = tempProject({
    'cert.key': `-----BEGIN FAKE KEY-----\n${SECRETS.file}\n-----END FAKE KEY-----\n`,
    'm.yaml': `vault: Private
items:
  app:
    title: App secrets
    category: API_CREDENTIAL
    fields:
      password: { purpose: PASSWORD, value: { env: APP_PASSWORD } }
      api key: { type: CONCEALED, value: ${SECRETS.literal}, allowLiteral: true }
      key: { type: CONCEALED, value: { file: ./cert.key } }
      admin: { type: CONCEALED, generate: { length: 40 } }
`,
  });
  const outputs: CliResult[] = [];
  const summaryFile = join(project, 'step-summary.md');
  writeFileSync(summaryFile, '');
  const actions = { GITHUB_ACTIONS: 'true', GITHUB_STEP_SUMMARY: summaryFile }; // the job summary gets the plan too
  const run = async (args: string[], password = SECRETS.env) => {
    const r = await runCli(args, { cwd: project, env: { ...env({ APP_PASSWORD: password }), OPSYNC_LOG: 'trace', ...actions } });
    outputs.push(r);
    return r;
  };
  // Retries logged too: a 503 on a write and a reset on a read.
  proxy.inject({ method: 'POST', status: 503, times: 1 });
  proxy.inject({ method: 'GET', path: /\/items\//, reset: 'before', times: 2 });

  expect((await run(['validate', 'm.yaml', '--format', 'json', '--check-sources'])).code).toBe(0);
  expect((await run(['plan', 'm.yaml', '--json-stream'])).code).toBe(0);
  expect((await run(['apply', 'm.yaml', '--json-stream', '--auto-approve'])).code).toBe(0);
  const vault = (await client.findVault('Private'))!;
  const [summary] = await client.listItems(vault.id, filterEq('title', 'App secrets'));
  const generated = (await client.getItem(vault.id, summary.id)).fields!.find((f) => f.label === 'admin')!.value!;
  expect(generated).toHaveLength(40);
  // Changed secrets and a rotation, through both machine formats.
  expect((await run(['plan', 'm.yaml', '--json-stream', '--rotate', 'Private/app'], SECRETS.envChanged)).code).toBe(0);
  expect((await run(['apply', 'm.yaml', '--format', 'json', '--auto-approve', '--rotate', 'Private/app'], SECRETS.envChanged)).code).toBe(0);
  const rotated = (await client.getItem(vault.id, summary.id)).fields!.find((f) => f.label === 'admin')!.value!;
  expect(rotated).not.toBe(generated);
  await run(['plan', 'm.yaml', '--json-stream', '--detailed-exitcode']); // the old value: an update
  expect((await run(['destroy', '--format', 'json', '--auto-approve'], SECRETS.envChanged)).code).toBe(0);

  const all = [...outputs.flatMap((o) => [o.stdout, o.stderr]), readFileSync(summaryFile, 'utf8')].join('\n');
  expect(readFileSync(summaryFile, 'utf8')).toContain('App secrets');
  expect(all).toMatch(/^opsync trace: .* POST \/v1\/vaults\/[a-z0-9]{26}\/items 503 \d+ms attempt 1\/5, retry in \d+ms$/m); // the log is really there
  expect(all).toContain('"type":"apply_complete"');
  expect(all).toContain('"status": "applied"');
  for (const secret of [...Object.values(SECRETS), generated, rotated, srv.token]) {
    const leak = findLeak(all, secret);
    expect(leak, `a secret leaked (${secret.slice(0, 6)}…): ${leak}`).toBeUndefined();
  }
});
