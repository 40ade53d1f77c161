// The real CLI behind a proxy that quotes refused requests back (test/support/echoProxy): whatever a server,
// proxy or WAF echoes, no secret value and no token reaches stdout, stderr, GitHub annotations, the step summary,
// the Ink interface on a terminal, or the state.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ECHO_STYLES, startEchoProxy, type EchoProxy } from '../support/echoProxy.js';
import { findLeak } from '../support/leaks.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { BIN, runCli, tempProject, type CliResult } from './cli.js';

const SECRETS = {
  quotes: `env"secret\\with'quotes"-and-more`,
  html: 'env<secret>&amp;<b>value</b>',
  long: 'long-secret-'.repeat(20),
  pemBody: 'MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKj',
};
const SHORT = 'Zq';

let srv: TestServer;
let proxy: EchoProxy;
let dir: string;

const manifest = (withShort: boolean) => `vault: Private
items:
  echo:
    title: Echo target
    category: API_CREDENTIAL
    fields:
      credential: { purpose: PASSWORD, value: { env: QUOTES } }
      html: { type: CONCEALED, value: { env: HTML } }
      long: { type: CONCEALED, value: { env: LONG } }
      key: { type: CONCEALED, value: { file: ./tls.key } }
${withShort ? '      pin: { type: CONCEALED, value: { env: PIN } }\n' : ''}`;

beforeAll(async () => {
  srv = await startTestServer();
  proxy = await startEchoProxy(srv.url);
  dir = tempProject({
    'tls.key': `-----BEGIN PRIVATE KEY-----\n${SECRETS.pemBody}\n${SECRETS.pemBody.split('').reverse().join('')}\n-----END PRIVATE KEY-----\n`,
    'm.yaml': manifest(false),
    'short.yaml': manifest(true),
  });
});

afterAll(async () => {
  await proxy.close();
  await srv.close();
});

const env = (summary: string) => ({
  OP_CONNECT_HOST: proxy.url,
  OP_CONNECT_TOKEN: srv.token,
  QUOTES: SECRETS.quotes,
  HTML: SECRETS.html,
  LONG: SECRETS.long,
  PIN: SHORT,
  GITHUB_ACTIONS: 'true',
  GITHUB_STEP_SUMMARY: summary,
});

function expectNoLeak(texts: string[]): void {
  const all = texts.join('\n');
  // The key's lines, without the BEGIN/END armour (" PRIVATE" is no secret: the vault is called Private).
  const key = readFileSync(join(dir, 'tls.key'), 'utf8').split('\n').slice(1, -2).join('\n');
  for (const [name, value] of [...Object.entries(SECRETS), ['pem', key] as const, ['token', srv.token] as const]) {
    expect(findLeak(all, value), `${name} leaked`).toBeUndefined();
  }
}

it('no echo style gets a value or the token into any output or the state', { timeout: 240_000 }, async () => {
  const summary = join(dir, 'summary.md');
  writeFileSync(summary, '');
  const outputs: CliResult[] = [];
  const run = async (args: string[]) => {
    const r = await runCli(args, { cwd: dir, env: env(summary) });
    outputs.push(r);
    return r;
  };
  // Each style once, the output formats taking turns (every style meets every format over the styles).
  const formats = ['text', 'json', 'markdown'];
  for (const [i, style] of ECHO_STYLES.entries()) {
    // A refused create (its body holds every value) ...
    proxy.set({ style, method: 'POST' });
    const applied = await run(['apply', 'm.yaml', '--auto-approve', '--format', formats[i % 2]]);
    expect(applied.code, applied.stderr).toBe(1);
    expect(applied.stdout + applied.stderr).toContain('Connect answered 400 for POST');
    // ... and a refused read (it carries the token).
    proxy.set({ style, method: 'GET', status: 403, what: 'authorization' });
    const planned = await run(['plan', 'm.yaml', '--format', formats[i % 3]]);
    expect(planned.code).toBe(1);
    expect(planned.stdout + planned.stderr).toContain('403');
  }
  // A value too short to scrub: the server's text is withheld altogether.
  proxy.set({ style: 'raw', method: 'POST' });
  const short = await run(['apply', 'short.yaml', '--auto-approve']);
  expect(short.code).toBe(1);
  expect(short.stdout + short.stderr).toContain("the server's message is not shown");
  expect(short.stdout + short.stderr).not.toContain('refused:');
  proxy.set(undefined);

  expect(proxy.echoed).toBeGreaterThanOrEqual(ECHO_STYLES.length * 2);
  const state = existsSync(join(dir, '.opsync/state.json')) ? readFileSync(join(dir, '.opsync/state.json'), 'utf8') : '';
  expectNoLeak([...outputs.flatMap((o) => [o.stdout, o.stderr]), readFileSync(summary, 'utf8'), state]);
  // A refused create leaves no pending record behind (nothing was created).
  if (state) expect(JSON.parse(state).pending).toEqual({});
});

const hasTmux = existsSync('/usr/bin/tmux') || existsSync('/usr/local/bin/tmux');

it.skipIf(!hasTmux)('the Ink interface shows the refusal without the echoed values', { timeout: 120_000 }, async () => {
  const session = `opsync-echo-${process.pid}`;
  const tmux = (...args: string[]) => execFileSync('tmux', args, { encoding: 'utf8' });
  proxy.set({ style: 'json', method: 'POST' });
  const e = env(join(dir, 'summary.md'));
  const vars = Object.entries({ ...e, GITHUB_ACTIONS: '' })
    .map(([k, v]) => `${k}='${v.replace(/'/g, `'\\''`)}'`)
    .join(' ');
  const command = `env -u CI NO_COLOR=1 ${vars} ${process.execPath} ${BIN} apply m.yaml; echo "EXIT=$?"; sleep 60`;
  tmux('new-session', '-d', '-s', session, '-x', '200', '-y', '50', '-c', dir, command);
  try {
    let screen = '';
    const waitFor = async (re: RegExp) => {
      for (let i = 0; i < 300 && !re.test((screen = tmux('capture-pane', '-p', '-t', session))); i++) await new Promise((r) => setTimeout(r, 100));
      expect(screen).toMatch(re);
    };
    await waitFor(/Only 'yes' will be accepted/);
    tmux('send-keys', '-t', session, 'yes', 'Enter');
    await waitFor(/EXIT=\d+/);
    const history = tmux('capture-pane', '-p', '-S', '-', '-t', session);
    expect(history).toContain('400');
    expectNoLeak([history]);
  } finally {
    proxy.set(undefined);
    tmux('kill-session', '-t', session);
  }
});
