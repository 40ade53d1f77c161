// Credentials in a Connect URL, and a token that cannot be sent: one line, exit 1, and never the credential or
// the token in any output, in opsync.yaml, or in a state file.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { runCli, tempProject } from './cli.js';

const MANIFEST = 'vault: Private\nitems:\n  a:\n    title: A\n    category: LOGIN\n    fields:\n      username: app\n';

it.each([
  ['with a scheme', 'http://admin:Hunter2-url-pass@127.0.0.1:1'],
  ['without a scheme', 'admin:Hunter2-url-pass@127.0.0.1:1'],
])('refuses a Connect host with credentials (%s) before anything is sent or written', async (_what, host) => {
  const dir = tempProject({ 'm.yaml': MANIFEST });
  for (const args of [['plan', 'm.yaml'], ['plan', 'm.yaml', '--format', 'json'], ['apply', 'm.yaml', '--auto-approve']]) {
    const r = await runCli(args, { cwd: dir, env: { OP_CONNECT_HOST: host, OP_CONNECT_TOKEN: 'tok' } });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('must not carry credentials');
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stdout + r.stderr).not.toContain('Hunter2');
  }
  expect(existsSync(join(dir, '.opsync/state.json'))).toBe(false);
  const init = await runCli(['init', '--connect-host', host], { cwd: dir, env: {} });
  expect(init.code).toBe(1);
  expect(init.stdout + init.stderr).not.toContain('Hunter2');
  expect(existsSync(join(dir, 'opsync.yaml'))).toBe(false);
});

it('refuses a token with a line break in one line that never quotes it', async () => {
  const dir = tempProject({ 'm.yaml': MANIFEST });
  const r = await runCli(['plan', 'm.yaml'], { cwd: dir, env: { OP_CONNECT_HOST: 'http://127.0.0.1:1', OP_CONNECT_TOKEN: 'eyJhbGciOi\nTokenTail-secret' } });
  expect(r.code).toBe(1);
  expect(r.stderr).toContain('cannot be sent in an HTTP header');
  expect(r.stderr).not.toMatch(/^\s+at /m);
  expect(r.stdout + r.stderr).not.toContain('TokenTail');
  if (existsSync(join(dir, '.opsync/state.json'))) expect(readFileSync(join(dir, '.opsync/state.json'), 'utf8')).not.toContain('TokenTail');
});
