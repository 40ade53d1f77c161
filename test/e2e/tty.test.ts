// The real CLI on a real pseudo-terminal (tmux): the Ink interface shows diagnostics, refresh progress, the
// plan with its keys, asks for an explicit `yes`, applies, and leaves a record on the normal screen.
// Needs `npm run build` (the CLI runs from dist/); skipped without tmux.
import { execFileSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ConnectClient, filterEq } from '../../src/connect/client.js';
import { startFaultProxy, type FaultProxy } from '../support/faultProxy.js';
import { startTestServer } from '../support/server.js';
import { BIN, runCli, tempProject } from './cli.js';

const hasTmux = existsSync('/usr/bin/tmux') || existsSync('/usr/local/bin/tmux');
const session = `opsync-tty-${process.pid}`;
let srv: Awaited<ReturnType<typeof startTestServer>>;
let proxy: FaultProxy | undefined;
const sessions = new Set<string>();

const tmux = (...args: string[]) => execFileSync('tmux', args, { encoding: 'utf8' });
const screen = (name = session) => tmux('capture-pane', '-p', '-t', name);
/** The screen with wrapped lines joined (tmux wraps at the pane's width). */
const flat = (text: string) => text.split('\n').join('');

async function waitFor(pattern: RegExp, what: string, name = session, flatten = false): Promise<string> {
  for (let i = 0; i < 600; i++) {
    const text = screen(name);
    if (pattern.test(flatten ? flat(text) : text)) return text;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`the terminal never showed ${what}; it shows:\n${screen(name)}`);
}

/** Run the CLI in a tmux pane of `cols` x `rows`; the pane stays after it exits, showing `EXIT=<code>`. */
function startCli(name: string, dir: string, args: string, opts: { cols?: number; rows?: number; host?: string } = {}): void {
  const host = opts.host ?? srv.url;
  const command = `env -u CI -u CONTINUOUS_INTEGRATION NO_COLOR=1 OP_CONNECT_HOST=${host} OP_CONNECT_TOKEN=${srv.token} ${process.execPath} ${BIN} ${args}; echo "EXIT=$?"; sleep 120`;
  sessions.add(name);
  tmux('new-session', '-d', '-s', name, '-x', String(opts.cols ?? 120), '-y', String(opts.rows ?? 40), '-c', dir, command);
}

function stop(name: string): void {
  sessions.delete(name);
  try {
    tmux('kill-session', '-t', name);
  } catch {
    /* already gone */
  }
}

const keys = (name: string, ...k: string[]) => tmux('send-keys', '-t', name, ...k);

beforeAll(async () => {
  if (hasTmux) srv = await startTestServer();
});

afterAll(async () => {
  if (!hasTmux) return;
  for (const s of [...sessions]) stop(s);
  await proxy?.close();
  await srv.close();
});

async function items(title: string) {
  const client = new ConnectClient({ host: srv.url, token: srv.token });
  try {
    const vault = (await client.findVault('Private'))!;
    return await client.listItems(vault.id, filterEq('title', title));
  } finally {
    await client.close();
  }
}

it.skipIf(!hasTmux)('shows the diagnostics at the top of the view and prints them again when it exits (80x24)', async () => {
  const dir = tempProject({
    'm.yaml': [
      'vault: Private',
      'items:',
      '  web:',
      '    title: Web app',
      '    category: LOGIN',
      '    fields:',
      '      username: me',
      '      db: { type: CONCEALED, value: { ref: "op://Private/No such item/password" } }',
      '  other:',
      '    title: Other app',
      '    category: LOGIN',
      '    fields:',
      '      username: you',
      '',
    ].join('\n'),
  });
  const name = `${session}-diag`;
  startCli(name, dir, 'plan m.yaml', { cols: 80, rows: 24 });
  try {
    const view = await waitFor(/\[1\/1\]/, 'the plan view', name);
    const lines = view.split('\n');
    expect(lines[0]).toMatch(/^Error: Private\/web: field "db": item "No such item" not found in vault/);
    expect(view).toContain('at m.yaml:8:');
    expect(flat(view)).toContain('Plan incomplete: 1 error(s) above');
    expect(view).not.toContain('see opsync plan --format text');
    keys(name, 'q');
    const end = await waitFor(/EXIT=\d+/, 'the exit code', name);
    expect(end).toContain('EXIT=1');
    expect(end).not.toContain('[1/1]'); // the view is erased...
    expect(end).toMatch(/^Error: Private\/web: field "db": item "No such item" not found/m); // ...the diagnostic printed again
    expect(end).toContain('at m.yaml:8:');
    expect(flat(end)).toContain('Plan incomplete: 1 error(s) above; nothing can be applied until they are fixed.');
  } finally {
    stop(name);
  }
});

it.skipIf(!hasTmux)('refresh progress while planning; keys typed meanwhile act once the view opens; ?, expand and collapse; a no-op plan just exits', async () => {
  const N = 24;
  const manifest = (user: string) =>
    ['vault: Private', 'items:', ...Array.from({ length: N }, (_, i) => [`  svc${String(i).padStart(2, '0')}:`, `    title: Service ${i}`, '    category: LOGIN', '    fields:', `      username: ${user}`]).flat(), ''].join('\n');
  const dir = tempProject({ 'm.yaml': manifest('first') });
  // Everything through a proxy (the state names the host it was written against), which later slows reads.
  proxy = await startFaultProxy(srv.url);
  const env = { OP_CONNECT_HOST: proxy.url, OP_CONNECT_TOKEN: srv.token };
  const first = await runCli(['apply', 'm.yaml', '--auto-approve'], { cwd: dir, env });
  expect(first.code, first.stderr).toBe(0);
  writeFileSync(join(dir, 'm.yaml'), manifest('second'));

  // Reads of items are slow now: the plan takes seconds, as a large one does.
  const slow = proxy.inject({ method: 'GET', path: (p) => p.includes('/items'), delayMs: 500, times: Infinity });
  // Ctrl-C while planning: one line, nothing changed, the state lock released.
  const stopped = `${session}-stopped`;
  startCli(stopped, dir, 'apply m.yaml --parallelism 2', { host: proxy.url });
  try {
    await waitFor(new RegExp(`refreshing \\d+/${N} items`), 'the refresh progress of apply', stopped);
    keys(stopped, 'C-c');
    const end = await waitFor(/EXIT=\d+/, 'the exit code', stopped);
    expect(end).toContain('opsync: error: interrupted while planning; nothing was changed');
    expect(end).toContain('EXIT=1');
    expect(existsSync(join(dir, '.opsync/state.json.lock'))).toBe(false);
  } finally {
    stop(stopped);
  }

  const name = `${session}-progress`;
  startCli(name, dir, 'plan m.yaml --parallelism 2', { host: proxy.url });
  try {
    await waitFor(new RegExp(`refreshing \\d+/${N} items`), 'the refresh progress', name);
    keys(name, 'j', 'Enter'); // typed before the plan is shown
    const view = await waitFor(new RegExp(`\\[2/${N}\\]`), 'the plan view on the second item', name);
    expect(view).toMatch(/› ~ +Private\/svc01/);
    expect(view).toContain('~ field username: "first" -> "second"'); // expanded by the Enter typed ahead
    expect(view).not.toContain('refreshing');

    keys(name, '?');
    await waitFor(/Keys \(the same in opsync plan and opsync apply\)/, 'the key map', name);
    expect(screen(name)).toMatch(/yes Enter +apply only: type yes, then Enter, to approve/);
    keys(name, 'Escape');
    await waitFor(/› ~ +Private\/svc01/, 'the list again', name);
    keys(name, 'c');
    await waitFor(/^(?![\s\S]*"first" -> "second")[\s\S]*› ~ +Private\/svc01/, 'every item collapsed', name);
    keys(name, 'e');
    await waitFor(/~ field username: "first" -> "second"[\s\S]*~ field username: "first" -> "second"/, 'every item expanded', name);
    keys(name, 'Home'); // the first line: the vault's
    await waitFor(/›▾ Private \(24\)/, 'the vault line', name);
    keys(name, 'Enter');
    await waitFor(/›▸ Private \(24, collapsed\)/, 'the vault collapsed', name);
    expect(screen(name)).not.toContain('Private/svc00');
    keys(name, 'Enter');
    await waitFor(/›▾ Private \(24\)[\s\S]*Private\/svc00/, 'the vault open again', name);
    keys(name, 'q');
    const end = await waitFor(/EXIT=\d+/, 'the exit code', name);
    expect(end).toContain('EXIT=0');
    expect(end).toContain(`Plan: 0 to create, ${N} to update, 0 to replace, 0 to delete`);
  } finally {
    stop(name);
  }

  // Applied, the same manifest plans nothing: one line, and no view to quit.
  proxy.clear();
  expect(slow.hits).toBeGreaterThan(0);
  const applied = await runCli(['apply', 'm.yaml', '--auto-approve'], { cwd: dir, env });
  expect(applied.code, applied.stderr).toBe(0);
  const noop = `${session}-noop`;
  startCli(noop, dir, 'plan m.yaml', { host: proxy.url });
  try {
    const end = await waitFor(/EXIT=\d+/, 'the exit code without a key pressed', noop);
    expect(end).toContain(`No changes. Live items match the manifests: ${N} unchanged, 0 drifted.`);
    expect(end).toContain('EXIT=0');
  } finally {
    stop(noop);
  }
});

it.skipIf(!hasTmux)("approves only on 'yes': Enter expands, a stray y cancels; the record of every operation stays on screen", async () => {
  const dir = tempProject({
    'm.yaml': 'vault: Private\nitems:\n  tty:\n    title: From a terminal\n    category: LOGIN\n    fields:\n      username: me\n',
  });
  const declined = `${session}-declined`;
  startCli(declined, dir, 'apply m.yaml');
  try {
    const asked = await waitFor(/Only 'yes' will be accepted to approve/, 'the approval prompt', declined);
    expect(asked).toContain('Private/tty');
    expect(asked).toContain('Enter a value:');
    keys(declined, 'Enter'); // expands, never approves
    await waitFor(/\+ field username: "me"/, 'the item expanded', declined);
    expect(screen(declined)).toContain("Only 'yes' will be accepted to approve");
    keys(declined, 'y', 'Enter');
    const end = await waitFor(/EXIT=\d+/, 'the exit code', declined);
    expect(end).toContain("Apply cancelled: only 'yes' approves. Nothing was changed.");
    expect(end).toContain('EXIT=1');
  } finally {
    stop(declined);
  }
  expect(await items('From a terminal')).toHaveLength(0);

  const approved = `${session}-approved`;
  startCli(approved, dir, 'apply m.yaml');
  try {
    await waitFor(/Enter a value:/, 'the approval prompt', approved);
    keys(approved, 'y', 'e', 's');
    await waitFor(/Enter a value: yes█/, 'the answer typed', approved);
    keys(approved, 'Enter');
    const end = await waitFor(/EXIT=\d+/, 'the exit code', approved);
    expect(end).toContain('EXIT=0');
    // the view is gone; what stays is one line per operation and the summary, as the text mode prints them
    expect(end).toMatch(/^\+ Private\/tty: created \(item [a-z0-9]{26}, version 1\)$/m);
    expect(end).toContain('Apply complete: 1 done, 0 failed, 0 skipped (1 created)');
    expect(end).not.toContain('Enter a value');
  } finally {
    stop(approved);
  }
  expect(await items('From a terminal')).toHaveLength(1);
});

it.skipIf(!hasTmux)("with --format on a terminal, prints that format and asks a plain question: only 'yes' applies", async () => {
  const dir = tempProject({
    'm.yaml': 'vault: Private\nitems:\n  asked:\n    title: Asked in text\n    category: LOGIN\n    fields:\n      username: me\n',
  });
  const run = async (answer: string): Promise<string> => {
    const name = `${session}-text`;
    startCli(name, dir, 'apply m.yaml --format text');
    try {
      const asked = await waitFor(/Enter a value:/, 'the question', name);
      expect(asked).toContain('+ create Private/asked');
      expect(asked).toContain("Only 'yes' will be accepted to approve.");
      keys(name, answer, 'Enter');
      return await waitFor(/EXIT=\d+/, 'the exit code', name);
    } finally {
      stop(name);
    }
  };
  for (const answer of ['n', 'y']) {
    const declined = await run(answer);
    expect(declined).toContain('Aborted: nothing was changed.');
    expect(declined).toContain('EXIT=1');
    expect(await items('Asked in text')).toHaveLength(0);
  }
  expect(await run('yes')).toContain('EXIT=0');
  expect(await items('Asked in text')).toHaveLength(1);
});
