// The Connect client against a real opsync server: every method, ids and filters as Connect takes them,
// errors that say what failed and carry no secret.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConnectClient, ConnectError, filterEq } from '../../src/connect/client.js';
import { CONNECT_ID, type Vault } from '../../src/connect/types.js';
import { VERSION } from '../../src/version.js';
import { startTestServer, type TestServer } from '../support/server.js';

const SECRET = 'hunter2-correct-horse-battery';
const FILE_TEXT = 'ca certificate bytes\n';

let server: TestServer;
let client: ConnectClient;
let dir: string;
let privateVault: Vault;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'opsync-connect-'));
  const seed = join(dir, 'seed.yaml');
  writeFileSync(
    seed,
    [
      'vaults:',
      '  - name: Private',
      '  - name: Files',
      '    items:',
      '      - title: TLS bundle',
      '        category: DOCUMENT',
      '        files:',
      '          - name: ca.pem',
      `            content: ${JSON.stringify(FILE_TEXT)}`,
      '          - name: blob.bin',
      '            contentBase64: AAEC/w==',
      '',
    ].join('\n'),
  );
  server = await startTestServer({ seedFiles: [seed] });
  client = new ConnectClient({ host: `${server.url}/`, token: server.token, backoffBaseMs: 1 });
  const vaults = await client.listVaults();
  privateVault = vaults.find((v) => v.name === 'Private')!;
});

afterAll(async () => {
  await client?.close();
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Every string an error exposes: message, properties, inspect output (cause included). */
function exposed(err: unknown): string {
  return `${String(err)}\n${JSON.stringify(err)}\n${inspect(err, { depth: 6 })}`;
}

async function caught(p: Promise<unknown>): Promise<ConnectError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(ConnectError);
    return err as ConnectError;
  }
  throw new Error('expected a ConnectError');
}

describe('vaults', () => {
  it('lists, gets and filters vaults', async () => {
    expect(privateVault).toBeDefined();
    expect(privateVault.id).toMatch(CONNECT_ID);
    const named = await client.listVaults(filterEq('name', 'Files'));
    expect(named.map((v) => v.name)).toEqual(['Files']);
    const got = await client.getVault(privateVault.id);
    expect(got).toMatchObject({ id: privateVault.id, name: 'Private' });
  });

  it('finds a vault by name or by id', async () => {
    expect((await client.findVault('Private'))?.id).toBe(privateVault.id);
    expect((await client.findVault(privateVault.id))?.name).toBe('Private');
    expect(await client.findVault('No such vault')).toBeUndefined();
    // id-shaped but unknown: GET answers 404, then the name is tried, and nothing is found
    const before = client.stats.byOperation['GET /v1/vaults/{vault}'] ?? 0;
    expect(await client.findVault('a'.repeat(26))).toBeUndefined();
    expect(client.stats.byOperation['GET /v1/vaults/{vault}']).toBe(before + 1);
  });
});

describe('items', () => {
  it('creates, reads, lists, filters, replaces, patches and deletes an item', async () => {
    const v = privateVault.id;
    const title = 'Primary "db" \\ one';
    const created = await client.createItem(v, {
      title,
      category: 'DATABASE',
      tags: ['prod'],
      urls: [{ href: 'https://db.example.com', primary: true }],
      sections: [{ id: 'connection', label: 'Connection' }],
      fields: [
        { id: 'username', label: 'username', purpose: 'USERNAME', type: 'STRING', value: 'app' },
        { id: 'password', label: 'password', purpose: 'PASSWORD', type: 'CONCEALED', value: SECRET },
        { id: 'host', label: 'host', type: 'STRING', section: { id: 'connection' }, value: 'db.example.com' },
      ],
    });
    expect(created.id).toMatch(CONNECT_ID);
    expect(created.vault.id).toBe(v);
    expect(created.version).toBe(1);

    const full = await client.getItem(v, created.id);
    expect(full.fields?.find((f) => f.id === 'password')?.value).toBe(SECRET);

    const listed = await client.listItems(v);
    expect(listed.map((i) => i.id)).toContain(created.id);
    const filtered = await client.listItems(v, filterEq('title', title));
    expect(filtered.map((i) => i.id)).toEqual([created.id]);
    expect(await client.listItems(v, filterEq('title', 'Primary'))).toEqual([]);
    expect((await client.listItems(v, filterEq('tag', 'prod'))).map((i) => i.id)).toContain(created.id);

    const replaced = await client.replaceItem(v, created.id, {
      title: 'Primary database',
      category: 'DATABASE',
      tags: ['prod', 'postgres'],
      fields: full.fields,
      sections: full.sections,
    });
    expect(replaced.id).toBe(created.id);
    expect(replaced.title).toBe('Primary database');
    // Real Connect (and so our server) answers a PUT with the version from before it; a read shows the new one.
    expect(replaced.version).toBe(full.version);
    expect((await client.getItem(v, created.id)).version).toBe(full.version + 1);

    const patched = await client.patchItem(v, created.id, [
      { op: 'replace', path: '/title', value: 'Primary DB' },
      { op: 'replace', path: '/fields/password/value', value: `${SECRET}-2` },
    ]);
    expect(patched.title).toBe('Primary DB');
    expect(patched.fields?.find((f) => f.id === 'password')?.value).toBe(`${SECRET}-2`);
    expect(patched.version).toBeGreaterThan(replaced.version);

    await client.deleteItem(v, created.id);
    const gone = await caught(client.getItem(v, created.id));
    expect(gone.status).toBe(404);
    expect((await client.listItems(v)).map((i) => i.id)).not.toContain(created.id);
  });

  it('asks Connect to generate a value', async () => {
    const item = await client.createItem(privateVault.id, {
      title: 'generated',
      category: 'PASSWORD',
      fields: [
        { id: 'password', purpose: 'PASSWORD', type: 'CONCEALED', generate: true, recipe: { length: 40, characterSets: ['LETTERS', 'DIGITS'] } },
      ],
    });
    const value = item.fields?.find((f) => f.id === 'password')?.value ?? '';
    expect(value).toMatch(/^[A-Za-z0-9]{40}$/);
    await client.deleteItem(privateVault.id, item.id);
  });
});

describe('files', () => {
  it('lists files, gets one with and without inline content, and downloads its bytes', async () => {
    const vault = (await client.findVault('Files'))!;
    const [item] = await client.listItems(vault.id, filterEq('title', 'TLS bundle'));
    const files = await client.listFiles(vault.id, item.id);
    expect(files.map((f) => f.name).sort()).toEqual(['blob.bin', 'ca.pem']);
    expect(files.every((f) => f.content === undefined)).toBe(true);
    const inline = await client.listFiles(vault.id, item.id, { inline: true });
    const ca = inline.find((f) => f.name === 'ca.pem')!;
    expect(Buffer.from(ca.content!, 'base64').toString()).toBe(FILE_TEXT);

    const one = await client.getFile(vault.id, item.id, ca.id);
    expect(one).toMatchObject({ id: ca.id, name: 'ca.pem', size: Buffer.byteLength(FILE_TEXT) });
    expect(one.content).toBeUndefined();
    expect((await client.getFile(vault.id, item.id, ca.id, { inline: true })).content).toBe(ca.content);

    expect((await client.getFileContent(vault.id, item.id, ca.id)).toString()).toBe(FILE_TEXT);
    const blob = files.find((f) => f.name === 'blob.bin')!;
    expect([...(await client.getFileContent(vault.id, item.id, blob.id))]).toEqual([0, 1, 2, 255]);
  });
});

describe('activity and health', () => {
  it('pages the activity log, which records our user agent', async () => {
    const page = await client.listActivity({ limit: 3 });
    expect(page.length).toBeLessThanOrEqual(3);
    expect(page.length).toBeGreaterThan(0);
    expect(page[0].actor.userAgent).toBe(`opsync/${VERSION}`);
    const next = await client.listActivity({ limit: 3, offset: 3 });
    expect(next.map((a) => a.requestId)).not.toContain(page[0].requestId);
  });

  it('answers heartbeat and health', async () => {
    expect(await client.heartbeat()).toBe(true);
    const health = await client.health();
    expect(health.name).toBeTruthy();
    expect(health.dependencies.length).toBeGreaterThan(0);
  });

  it('says false on a heartbeat nobody answers', async () => {
    const dead = new ConnectClient({ host: 'http://127.0.0.1:1', token: 'x', backoffBaseMs: 1 });
    expect(await dead.heartbeat()).toBe(false);
    expect(dead.stats.total).toBe(1);
    await dead.close();
  });
});

describe('request counting', () => {
  it('counts every attempt by operation', async () => {
    const c = new ConnectClient({ host: server.url, token: server.token });
    await c.listVaults();
    await c.getVault(privateVault.id);
    await c.listItems(privateVault.id);
    await c.listItems(privateVault.id);
    expect(c.stats).toEqual({
      total: 4,
      retries: 0,
      byOperation: {
        'GET /v1/vaults': 1,
        'GET /v1/vaults/{vault}': 1,
        'GET /v1/vaults/{vault}/items': 2,
      },
    });
    c.resetStats();
    await c.listItems(privateVault.id);
    expect(c.stats).toEqual({ total: 1, retries: 0, byOperation: { 'GET /v1/vaults/{vault}/items': 1 } });
    await c.close();
  });
});

describe('errors', () => {
  it('surfaces a 404 with Connect\'s message, once, naming the request', async () => {
    const c = new ConnectClient({ host: server.url, token: server.token, backoffBaseMs: 1 });
    const missing = 'b'.repeat(26);
    const err = await caught(c.getItem(privateVault.id, missing));
    expect(err.status).toBe(404);
    expect(err.operation).toBe('GET /v1/vaults/{vault}/items/{item}');
    expect(err.connectMessage).toBeTruthy();
    expect(err.retryable).toBe(false);
    expect(err.ambiguous).toBe(false);
    expect(err.message).toBe(
      `Connect answered 404 for GET /v1/vaults/${privateVault.id}/items/${missing}: ${err.connectMessage}`,
    );
    expect(c.stats.total).toBe(1);
    await c.close();
  });

  it('surfaces a 400 for a malformed filter without retrying', async () => {
    const c = new ConnectClient({ host: server.url, token: server.token, backoffBaseMs: 1 });
    const err = await caught(c.listItems(privateVault.id, 'title eq "unterminated'));
    expect(err.status).toBe(400);
    expect(err.message).toContain(err.connectMessage!);
    expect(c.stats.total).toBe(1);
    await c.close();
  });

  it('never puts the token or a field value into an error', async () => {
    // A wrong token: 401.
    const badToken = `${server.token.slice(0, -4)}abcd`;
    const c = new ConnectClient({ host: server.url, token: badToken, backoffBaseMs: 1 });
    const unauthorized = await caught(c.listVaults());
    expect(unauthorized.status).toBe(401);
    expect(exposed(unauthorized)).not.toContain(badToken);
    await c.close();

    // A rejected item carrying a secret: 400.
    const rejected = await caught(
      client.createItem(privateVault.id, {
        title: 'bad',
        category: 'NOT_A_CATEGORY' as never,
        fields: [{ id: 'password', type: 'CONCEALED', value: SECRET }],
      }),
    );
    expect(rejected.status).toBe(400);
    expect(exposed(rejected)).not.toContain(SECRET);
    expect(exposed(rejected)).not.toContain(server.token);

    // A rejected patch carrying a secret.
    const item = await client.createItem(privateVault.id, { title: 'patch target', category: 'LOGIN' });
    const badPatch = await caught(
      client.patchItem(privateVault.id, item.id, [{ op: 'replace', path: '/fields/nope/value', value: SECRET }]),
    );
    expect(badPatch.status).toBeGreaterThanOrEqual(400);
    expect(badPatch.status).toBeLessThan(500);
    expect(exposed(badPatch)).not.toContain(SECRET);
    expect(exposed(badPatch)).not.toContain(server.token);
    await client.deleteItem(privateVault.id, item.id);
  });

  it('says plainly when Connect cannot be reached', async () => {
    const c = new ConnectClient({ host: 'http://127.0.0.1:1/', token: 'tok-secret-value', retries: 1, backoffBaseMs: 1 });
    const err = await caught(c.listVaults());
    expect(err.message).toBe(
      'could not reach Connect at http://127.0.0.1:1: connection refused (ECONNREFUSED) (after 2 attempts)',
    );
    expect(err.status).toBeUndefined();
    expect(err.code).toBe('ECONNREFUSED');
    expect(err.retryable).toBe(true);
    expect(err.ambiguous).toBe(false);
    // Nothing was sent, so even a POST is retried and is not ambiguous.
    const post = await caught(c.createItem(privateVault.id, { title: 'x', category: 'LOGIN', fields: [{ id: 'p', value: SECRET }] }));
    expect(post.ambiguous).toBe(false);
    expect(post.attempts).toBe(2);
    expect(exposed(post)).not.toContain('tok-secret-value');
    expect(exposed(post)).not.toContain(SECRET);
    await c.close();
  });

  it('refuses an unusable host or token up front', () => {
    expect(() => new ConnectClient({ host: 'localhost:8080', token: 't' })).toThrow(/http:\/\/ or https:\/\//);
    expect(() => new ConnectClient({ host: 'http://localhost:8080', token: ' ' })).toThrow(/no Connect token/);
    expect(() => new ConnectClient({ host: 'http://localhost:8080', token: 'a\nb' })).toThrow(/cannot be sent/);
  });
});
