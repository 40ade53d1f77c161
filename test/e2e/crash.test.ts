// kill -9 a real apply at several moments (a create in flight, between state writes), then apply again:
// it converges, and no item exists twice.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ConnectClient } from '../../src/connect/client.js';
import { readState, readStateFile } from '../../src/state/file.js';
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

// Issue 12: the journaled state under kill -9, at scale. A 2,000-item apply is killed at 20 points (creates in
// flight, between journal lines, right after a compaction wrote the state file but before it emptied the
// journal, and mid-compaction at random), then applied to the end: every item exists once and nothing is pending.
it('converges after kill -9 at 20 points of a 2,000-item apply, compactions included', { timeout: 600_000 }, async () => {
  const M = 2000;
  const big = await startTestServer();
  const bigProxy = await startFaultProxy(big.url);
  // A short wait on every create, so that kills land with creates in flight.
  bigProxy.inject({ method: 'POST', delayMs: 15, times: Infinity });
  const items = Array.from({ length: M }, (_, i) => `  item${i}:\n    title: Big item ${i}\n    category: LOGIN\n    fields:\n      username: user${i}\n      password: { purpose: PASSWORD, generate: true }\n`).join('');
  const bigDir = tempProject({ 'm.yaml': `vault: Private\nitems:\n${items}` });
  const statePath = join(bigDir, '.opsync/state.json');
  const journalLines = () => {
    try {
      return readFileSync(`${statePath}.journal`, 'utf8').split('\n').length - 1;
    } catch {
      return 0;
    }
  };
  const posts = () => bigProxy.seen.filter((r) => r.method === 'POST').length;
  // Compact every 200 changes (about 100 creates), so that compactions happen all through the runs.
  const env = { OP_CONNECT_HOST: bigProxy.url, OP_CONNECT_TOKEN: big.token, OPSYNC_STATE_COMPACT_EVERY: '200' };
  const runs: string[] = [];
  const run = async (when: (() => boolean) | undefined, extra: Record<string, string> = {}): Promise<void> => {
    const child = spawnCli(['apply', 'm.yaml', '--auto-approve', '--parallelism', '8'], { cwd: bigDir, env: { ...env, ...extra } });
    const p0 = posts();
    const exited = new Promise<string>((r) => child.on('exit', (code, signal) => r(signal ?? `exit ${code}`)));
    let done = false;
    void exited.then(() => (done = true));
    if (when) {
      while (!done && !when()) await new Promise((r) => setTimeout(r, 2));
      child.kill('SIGKILL');
    }
    runs.push(`${await exited} after ${posts() - p0} creates`);
    while (bigProxy.inFlight > 0) await new Promise((r) => setTimeout(r, 10));
    // Whatever the kill left must read back: a torn line at most, never a damaged journal.
    expect(() => readState(statePath)).not.toThrow();
  };
  try {
    for (let k = 0; k < 20; k++) {
      const p0 = posts();
      if (k % 5 === 3) {
        // Killed by its own hook at its first compaction: the state file written, the journal not yet emptied.
        await run(undefined, { OPSYNC_TEST_KILL_IN_COMPACTION: '1' });
      } else if (k % 5 === 1) {
        // Between journal lines (each run starts with an empty journal: open compacts what it finds).
        await run(() => journalLines() >= 20 + k * 5);
      } else {
        await run(() => posts() >= p0 + 20 + ((k * 29) % 50)); // creates in flight
      }
    }
    expect(runs.every((r) => r.startsWith('SIGKILL')), runs.join('; ')).toBe(true);
    expect(posts(), runs.join('; ')).toBeLessThan(M); // the kills landed before the end
    const r = await runCli(['apply', 'm.yaml', '--auto-approve', '--parallelism', '8'], { cwd: bigDir, env });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const again = await runCli(['plan', 'm.yaml', '--detailed-exitcode'], { cwd: bigDir, env });
    expect(again.code, again.stdout + again.stderr).toBe(0);

    const client = new ConnectClient({ host: big.url, token: big.token });
    const vault = (await client.findVault('Private'))!;
    const titles = (await client.listItems(vault.id)).map((i) => i.title);
    await client.close();
    expect(titles).toHaveLength(M);
    expect(new Set(titles).size).toBe(M); // no duplicates
    const state = readStateFile(statePath);
    expect(Object.keys(state.resources)).toHaveLength(M);
    expect(state.pending).toEqual({});
    expect(existsSync(`${statePath}.journal`)).toBe(false);
  } finally {
    await bigProxy.close();
    await big.close();
  }
});
