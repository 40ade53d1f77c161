// kill -9 a real apply at several moments (a create in flight, between state writes), then apply again:
// it converges, and no item exists twice.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ConnectClient } from '../../src/connect/client.js';
import type { StateFile } from '../../src/state/types.js';
import { startFaultProxy, type FaultProxy } from '../support/faultProxy.js';
import { startTestServer } from '../support/server.js';
import { runCli, spawnCli, tempProject } from './cli.js';

const N = 10;
let srv: Awaited<ReturnType<typeof startTestServer>>;
let proxy: FaultProxy;
let dir: string;

beforeAll(async () => {
  srv = await startTestServer();
  proxy = await startFaultProxy(srv.url);
  // Every create waits at the proxy, then still reaches the server: a kill lands while it is in flight.
  proxy.inject({ method: 'POST', delayMs: 150, times: Infinity });
  const items = Array.from({ length: N }, (_, i) => `  item${i}:\n    title: Crash item ${i}\n    category: LOGIN\n    fields:\n      username: user${i}\n      password: { purpose: PASSWORD, generate: true }\n`).join('');
  dir = tempProject({ 'm.yaml': `vault: Private\nitems:\n${items}` });
});

afterAll(async () => {
  await proxy.close();
  await srv.close();
});

const serial = (): number => {
  const path = join(dir, '.opsync/state.json');
  if (!existsSync(path)) return 0;
  try {
    return (JSON.parse(readFileSync(path, 'utf8')) as StateFile).serial;
  } catch {
    return 0;
  }
};
const postsSeen = () => proxy.seen.filter((r) => r.method === 'POST').length;

async function applyAndKill(when: () => boolean): Promise<void> {
  const child = spawnCli(['apply', 'm.yaml', '--auto-approve', '--parallelism', '2'], {
    cwd: dir,
    env: { OP_CONNECT_HOST: proxy.url, OP_CONNECT_TOKEN: srv.token },
  });
  const exited = new Promise<void>((r) => child.on('exit', () => r()));
  let done = false;
  void exited.then(() => (done = true));
  while (!done && !when()) await new Promise((r) => setTimeout(r, 5));
  child.kill('SIGKILL');
  await exited;
  // Let a create the dead process left in flight reach the server before the next run looks.
  while (proxy.inFlight > 0) await new Promise((r) => setTimeout(r, 10));
}

it('converges after kill -9 at any moment, creating nothing twice', async () => {
  await applyAndKill(() => postsSeen() >= 1); // first create in flight
  await applyAndKill(() => serial() >= 6); // between state writes
  const before = postsSeen();
  await applyAndKill(() => postsSeen() >= before + 2); // creates in flight again, mid-run
  writeFileSync(join(dir, 'marker'), ''); // (nothing else changes between runs)

  const r = await runCli(['apply', 'm.yaml', '--auto-approve'], { cwd: dir, env: { OP_CONNECT_HOST: proxy.url, OP_CONNECT_TOKEN: srv.token } });
  expect(r.code, r.stdout + r.stderr).toBe(0);
  const again = await runCli(['plan', 'm.yaml', '--detailed-exitcode'], { cwd: dir, env: { OP_CONNECT_HOST: proxy.url, OP_CONNECT_TOKEN: srv.token } });
  expect(again.code, again.stdout + again.stderr).toBe(0);

  const client = new ConnectClient({ host: srv.url, token: srv.token });
  const vault = (await client.findVault('Private'))!;
  const titles = (await client.listItems(vault.id)).map((i) => i.title).sort();
  await client.close();
  expect(titles).toEqual(Array.from({ length: N }, (_, i) => `Crash item ${i}`).sort());
  const state = JSON.parse(readFileSync(join(dir, '.opsync/state.json'), 'utf8')) as StateFile;
  expect(Object.keys(state.resources)).toHaveLength(N);
  expect(state.pending).toEqual({});
});
