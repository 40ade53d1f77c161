// The whole lifecycle against `opsync server --realistic` (reads that lag writes, 409 on overlapping writes to a
// vault, PUT answered with the old version), every request checked against what real Connect accepts: the plan
// right after every apply is a no-op, no apply fails on a 409, nothing is created twice.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ConnectClient } from '../../src/connect/client.js';
import type { StateFile } from '../../src/state/types.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { startWireProxy, type WireProxy } from '../support/wireProxy.js';
import { runCli, spawnCli, tempProject, type CliResult } from './cli.js';

let srv: TestServer;
let wire: WireProxy;
let client: ConnectClient;
let dir: string;

const ENV = {
  DB_HOST_NOTE: 'primary',
  API_KEY: 'api-key-0123456789-realistic',
  LOGIN_PASSWORD: 'login-password-realistic-1',
  OTP_URI: 'otpauth://totp/opsync:ci?secret=JBSWY3DPEHPK3PXP&issuer=opsync',
};

function manifest(opts: { apiTag?: string; svcCategory?: string; withLogin?: boolean; extra?: number; hand?: boolean } = {}): string {
  const extra = Array.from({ length: opts.extra ?? 0 }, (_, i) => `  bulk${i}:\n    title: Bulk ${i}\n    category: LOGIN\n    fields:\n      username: bulk${i}\n      password: { purpose: PASSWORD, generate: true }\n`).join('');
  return `vault: Private
items:
  db:
    title: Orders DB
    category: DATABASE
    fields:
      username: orders
      password: { purpose: PASSWORD, generate: { length: 32 } }
      expires: { type: DATE, value: "2027-01-31" }
      card: { type: MONTH_YEAR, value: "2027/01" }
  api:
    title: Payments API
    category: API_CREDENTIAL
    tags: [${opts.apiTag ?? 'payments'}]
    fields:
      credential: { type: CONCEALED, value: { env: API_KEY } }
  svc:
    title: Service account
    category: ${opts.svcCategory ?? 'LOGIN'}
    fields:
      username: svc
      password: { purpose: PASSWORD, generate: true }
${
  opts.withLogin === false
    ? ''
    : `  login:
    title: Admin login
    category: LOGIN
    fields:
      username: admin
      password: { purpose: PASSWORD, value: { env: LOGIN_PASSWORD } }
      one-time: { type: OTP, value: { env: OTP_URI } }
`
}${opts.hand ? '  hand:\n    title: Made by hand\n    category: SECURE_NOTE\n    ignore: [fields]\n' : ''}${extra}`;
}

beforeAll(async () => {
  srv = await startTestServer({ realistic: true } as never);
  wire = await startWireProxy(srv.url);
  client = new ConnectClient({ host: srv.url, token: srv.token });
  dir = tempProject({ 'm.yaml': manifest() });
});

afterAll(async () => {
  await client.close();
  await wire.close();
  await srv.close();
});

const env = () => ({ OP_CONNECT_HOST: wire.url, OP_CONNECT_TOKEN: srv.token, ...ENV });
const cli = (args: string[]) => runCli(args, { cwd: dir, env: env() });
const write = (text: string) => writeFileSync(join(dir, 'm.yaml'), text);
const state = () => JSON.parse(readFileSync(join(dir, '.opsync/state.json'), 'utf8')) as StateFile;

async function applied(r: CliResult | Promise<CliResult>): Promise<void> {
  const res = await r;
  expect(res.code, res.stdout + res.stderr).toBe(0);
  expect(res.stdout + res.stderr).not.toMatch(/Connect answered 409/);
}

async function expectNoOp(): Promise<void> {
  const plan = await cli(['plan', 'm.yaml', '--detailed-exitcode']);
  expect(plan.code, plan.stdout + plan.stderr).toBe(0);
}

async function expectUniqueTitles(): Promise<void> {
  const vault = (await client.findVault('Private'))!;
  // Past the consistency delay, so the list shows every write.
  await new Promise((r) => setTimeout(r, 1500));
  const titles = (await client.listItems(vault.id)).map((i) => i.title);
  expect(titles.length).toBe(new Set(titles).size);
}

it('runs create, update, rotate, replace, delete, import, export, refresh and a kill -9 against real Connect timing', { timeout: 300_000 }, async () => {
  await applied(cli(['apply', 'm.yaml', '--auto-approve'])); // create
  await expectNoOp();

  write(manifest({ apiTag: 'payments-v2' })); // update (a patch)
  await applied(cli(['apply', 'm.yaml', '--auto-approve']));
  await expectNoOp();

  await applied(cli(['apply', 'm.yaml', '--auto-approve', '--rotate', 'Private/db'])); // rotate (a PUT)
  await expectNoOp();

  write(manifest({ apiTag: 'payments-v2', svcCategory: 'PASSWORD' })); // replace
  await applied(cli(['apply', 'm.yaml', '--auto-approve', '--force']));
  await expectNoOp();

  write(manifest({ apiTag: 'payments-v2', svcCategory: 'PASSWORD', withLogin: false })); // delete
  await applied(cli(['apply', 'm.yaml', '--auto-approve', '--force']));
  await expectNoOp();

  const vault = (await client.findVault('Private'))!;
  const hand = await client.createItem(vault.id, { title: 'Made by hand', category: 'SECURE_NOTE', fields: [] });
  write(manifest({ apiTag: 'payments-v2', svcCategory: 'PASSWORD', withLogin: false, hand: true })); // import
  const imported = await cli(['import', 'Private/hand', `Private/${hand.id}`, 'm.yaml']);
  expect(imported.code, imported.stdout + imported.stderr).toBe(0);
  await applied(cli(['apply', 'm.yaml', '--auto-approve']));
  await expectNoOp();

  const exported = await cli(['export', '--vault', 'Private', '--out', 'exported', '--values-file', 'exported.env']);
  expect(exported.code, exported.stdout + exported.stderr).toBe(0);
  const refreshed = await cli(['refresh', 'm.yaml']);
  expect(refreshed.code, refreshed.stdout + refreshed.stderr).toBe(0);

  // Eight creates in one vault at once (409s galore), killed while the first ones are in flight.
  write(manifest({ apiTag: 'payments-v2', svcCategory: 'PASSWORD', withLogin: false, hand: true, extra: 8 }));
  const posts = () => wire.requests.filter((r) => r.method === 'POST').length;
  const before = posts();
  const child = spawnCli(['apply', 'm.yaml', '--auto-approve'], { cwd: dir, env: env() });
  const exited = new Promise<void>((r) => child.on('exit', () => r()));
  while (posts() < before + 2) await new Promise((r) => setTimeout(r, 5));
  child.kill('SIGKILL');
  await exited;
  await new Promise((r) => setTimeout(r, 500));
  await applied(cli(['apply', 'm.yaml', '--auto-approve']));
  await expectNoOp();
  expect(Object.keys(state().resources).sort()).toEqual(["Private/api", "Private/db", "Private/hand", "Private/svc", ...Array.from({ length: 8 }, (_, i) => `Private/bulk${i}`)].sort());
  expect(state().pending).toEqual({});

  await expectUniqueTitles();
  expect(wire.violations()).toEqual([]);
});
