// Seeding, the default vault, the token file, and persistence across restarts (in-process, on disk).
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { startServer } from '../../src/server/index.js';
import { SeedError } from '../../src/server/seed.js';
import { client } from './helpers.js';

const tmp = () => mkdtempSync(join(tmpdir(), 'opsync-seed-'));
const quiet = { host: '127.0.0.1', port: 0, quiet: true } as const;

const SEED = `# two vaults
vaults:
  - name: app
    description: application secrets
    items:
      - title: db
        category: DATABASE
        tags: [prod]
        urls: [{ href: "postgres://db.internal", primary: true }]
        sections: [{ id: conn, label: Connection }]
        fields:
          - { label: username, type: STRING, value: admin, section: { id: conn } }
          - { id: password, label: password, type: CONCEALED, purpose: PASSWORD, generate: true, recipe: { length: 24 } }
  - name: shared
    type: EVERYONE
`;

describe('seeding', () => {
  it('creates Private on an empty store without seeds, and a 0600 token file', async () => {
    const dir = tmp();
    const logs: string[] = [];
    const s = await startServer({ ...quiet, dataDir: dir, log: (l) => logs.push(l) });
    try {
      const token = readFileSync(join(dir, 'token'), 'utf8').trim();
      expect(statSync(join(dir, 'token')).mode & 0o777).toBe(0o600);
      expect(s.localToken()).toBe(token);
      expect(logs.join('\n')).toContain(join(dir, 'token'));
      expect(logs.join('\n')).not.toContain(token);
      const vaults = (await client(s.url, token)('GET', '/v1/vaults')).body;
      expect(vaults.map((v: any) => v.name)).toEqual(['Private']);
    } finally {
      await s.close();
    }
  });

  it('seeds vaults and items (YAML), idempotently by vault name, and persists across restarts', async () => {
    const dir = tmp();
    const seed = join(dir, 'seed.yaml');
    writeFileSync(seed, SEED);
    const s1 = await startServer({ ...quiet, dataDir: dir, seedFiles: [seed] });
    const token = s1.localToken();
    let call = client(s1.url, token);
    const vaults = (await call('GET', '/v1/vaults')).body;
    expect(vaults.map((v: any) => [v.name, v.type, v.items])).toEqual([
      ['app', 'USER_CREATED', 1],
      ['shared', 'EVERYONE', 0],
    ]);
    expect(vaults[0].description).toBe('application secrets');
    const app = vaults[0].id;
    const [summary] = (await call('GET', `/v1/vaults/${app}/items`)).body;
    const item = (await call('GET', `/v1/vaults/${app}/items/${summary.id}`)).body;
    expect(item.fields[1].value).toHaveLength(24);
    expect(item.fields[0].section).toEqual({ id: 'conn' });
    const created = (await call('POST', `/v1/vaults/${app}/items`, { title: 'added', category: 'LOGIN' })).body;
    await s1.close();

    writeFileSync(seed, `${SEED}  - name: later\n`);
    const s2 = await startServer({ ...quiet, dataDir: dir, seedFiles: [seed] });
    try {
      expect(s2.localToken()).toBe(token);
      call = client(s2.url, token);
      const again = (await call('GET', '/v1/vaults')).body;
      expect(again.map((v: any) => [v.name, v.items])).toEqual([
        ['app', 2],
        ['shared', 0],
        ['later', 0],
      ]);
      expect(again[0].id).toBe(app);
      const kept = (await call('GET', `/v1/vaults/${app}/items/${item.id}`)).body;
      expect(kept).toEqual(item);
      expect((await call('GET', `/v1/vaults/${app}/items/${created.id}`)).status).toBe(200);
    } finally {
      await s2.close();
    }
  });

  it('with a seed, no Private vault is added', async () => {
    const dir = tmp();
    const seed = join(dir, 'seed.yaml');
    writeFileSync(seed, 'vaults:\n  - name: only\n');
    const s = await startServer({ ...quiet, memory: true, seedFiles: [seed] });
    try {
      const vaults = (await client(s.url, s.localToken())('GET', '/v1/vaults')).body;
      expect(vaults.map((v: any) => v.name)).toEqual(['only']);
    } finally {
      await s.close();
    }
  });

  it('reports seed errors as file:line:col, never quoting values, and writes nothing', async () => {
    const dir = tmp();
    const cases: [string, RegExp][] = [
      ['vaults:\n  - name: a\n    items:\n      - title: x\n        category: NOPE\n', /seed\.yaml:5:19: vaults\[0\]\.items\[0\]\.category must be one of: LOGIN/],
      ['vaults:\n  - name: a\n    items:\n      - title: x\n', /seed\.yaml:4:9: .*category/],
      ['vaults:\n  - name: a\n    colour: red\n', /seed\.yaml:2:5: .*unknown property "colour"/],
      ['vaults: [\n', /seed\.yaml:\d+:\d+: not valid YAML or JSON/],
      [
        'vaults:\n  - name: a\n    items:\n      - title: x\n        category: LOGIN\n        fields:\n          - { value: topsecret, section: { id: nope } }\n',
        /seed\.yaml:7:\d+: vaults\[0\]\.items\[0\]: \/fields\/0\/section\/id does not name a section/,
      ],
      ['vaults:\n  - name: a\n  - name: a\n', /seed\.yaml:3:11: vault "a" appears more than once/],
      ['vaults:\n  - name: a\n    items:\n      - title: x\n        category: LOGIN\n        files: [{ name: f }]\n', /seed\.yaml:6:17: a file needs exactly one of content/],
    ];
    for (const [text, want] of cases) {
      const seed = join(dir, 'seed.yaml');
      writeFileSync(seed, text);
      const data = join(dir, `data-${Math.random()}`);
      const err = await startServer({ ...quiet, dataDir: data, seedFiles: [seed] }).then(
        (s) => s.close().then(() => undefined),
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(SeedError);
      if (!want.test((err as Error).message)) console.log((err as Error).message);
      expect((err as Error).message).toMatch(want);
      expect((err as Error).message).not.toContain('topsecret');
    }
    await expect(startServer({ ...quiet, memory: true, seedFiles: [join(dir, 'missing.yaml')] })).rejects.toThrow(/missing\.yaml: cannot read/);
  });

  it('a failing seed leaves nothing half-written', async () => {
    const dir = tmp();
    const seed = join(dir, 'seed.yaml');
    writeFileSync(seed, 'vaults:\n  - name: good\n  - name: bad\n    items:\n      - { title: x, category: LOGIN, fields: [{ id: a }, { id: a }] }\n');
    await expect(startServer({ ...quiet, dataDir: dir, seedFiles: [seed] })).rejects.toThrow(/repeats/);
    const s = await startServer({ ...quiet, dataDir: dir });
    try {
      const vaults = (await client(s.url, s.localToken())('GET', '/v1/vaults')).body;
      expect(vaults.map((v: any) => v.name)).toEqual(['Private']);
    } finally {
      await s.close();
    }
  });
});
