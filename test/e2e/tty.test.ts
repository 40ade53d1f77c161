// The real CLI on a real pseudo-terminal (tmux): the Ink interface shows the plan, asks, and applies on "y".
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ConnectClient, filterEq } from '../../src/connect/client.js';
import { startTestServer } from '../support/server.js';
import { BIN, tempProject } from './cli.js';

const hasTmux = existsSync('/usr/bin/tmux') || existsSync('/usr/local/bin/tmux');
const session = `opsync-tty-${process.pid}`;
let srv: Awaited<ReturnType<typeof startTestServer>>;

const tmux = (...args: string[]) => execFileSync('tmux', args, { encoding: 'utf8' });
const screen = (name = session) => tmux('capture-pane', '-p', '-t', name);

async function waitFor(pattern: RegExp, what: string, name = session): Promise<string> {
  for (let i = 0; i < 300; i++) {
    const text = screen(name);
    if (pattern.test(text)) return text;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`the terminal never showed ${what}; it shows:\n${screen(name)}`);
}

beforeAll(async () => {
  if (hasTmux) srv = await startTestServer();
});

afterAll(async () => {
  if (!hasTmux) return;
  try {
    tmux('kill-session', '-t', session);
  } catch {
    /* already gone */
  }
  await srv.close();
});

it.skipIf(!hasTmux)('approves and applies through the Ink interface on a terminal', async () => {
  const dir = tempProject({
    'm.yaml': 'vault: Private\nitems:\n  tty:\n    title: From a terminal\n    category: LOGIN\n    fields:\n      username: me\n',
  });
  const command = `env -u CI NO_COLOR=1 OP_CONNECT_HOST=${srv.url} OP_CONNECT_TOKEN=${srv.token} ${process.execPath} ${BIN} apply m.yaml; echo "EXIT=$?"; sleep 60`;
  tmux('new-session', '-d', '-s', session, '-x', '120', '-y', '40', '-c', dir, command);
  await waitFor(/\(y\/N\)/i, 'the approval prompt');
  expect(screen()).toContain('Private/tty');
  tmux('send-keys', '-t', session, 'y');
  const end = await waitFor(/EXIT=\d+/, 'the exit code');
  expect(end).toContain('EXIT=0');

  const client = new ConnectClient({ host: srv.url, token: srv.token });
  const vault = (await client.findVault('Private'))!;
  expect(await client.listItems(vault.id, filterEq('title', 'From a terminal'))).toHaveLength(1);
  await client.close();
});

it.skipIf(!hasTmux)('with --format on a terminal, prints that format and asks a plain question: only "yes" applies', async () => {
  const dir = tempProject({
    'm.yaml': 'vault: Private\nitems:\n  asked:\n    title: Asked in text\n    category: LOGIN\n    fields:\n      username: me\n',
  });
  const client = new ConnectClient({ host: srv.url, token: srv.token });
  const vault = (await client.findVault('Private'))!;
  const run = async (answer: string): Promise<string> => {
    const name = `${session}-text`;
    const command = `env -u CI NO_COLOR=1 OP_CONNECT_HOST=${srv.url} OP_CONNECT_TOKEN=${srv.token} ${process.execPath} ${BIN} apply m.yaml --format text; echo "EXIT=$?"; sleep 60`;
    tmux('new-session', '-d', '-s', name, '-x', '120', '-y', '40', '-c', dir, command);
    try {
      const asked = await waitFor(/Only 'yes' will be accepted to approve/, 'the question', name);
      expect(asked).toContain('+ create Private/asked');
      tmux('send-keys', '-t', name, answer, 'Enter');
      return await waitFor(/EXIT=\d+/, 'the exit code', name);
    } finally {
      tmux('kill-session', '-t', name);
    }
  };
  const declined = await run('n');
  expect(declined).toContain('Aborted: nothing was changed.');
  expect(declined).toContain('EXIT=1');
  expect(await client.listItems(vault.id, filterEq('title', 'Asked in text'))).toHaveLength(0);
  expect(await run('yes')).toContain('EXIT=0');
  expect(await client.listItems(vault.id, filterEq('title', 'Asked in text'))).toHaveLength(1);
  await client.close();
});
