import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/load.js';
import { resolveSettings } from '../../src/config/settings.js';
import { UserError } from '../../src/errors.js';

function project(text?: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'opsync-config-'));
  if (text !== undefined) writeFileSync(join(dir, 'opsync.yaml'), text);
  return dir;
}

describe('opsync.yaml', () => {
  it('is optional, and an explicit one must exist', () => {
    const dir = project();
    expect(loadConfig({ cwd: dir })).toBeUndefined();
    expect(() => loadConfig({ cwd: dir, explicit: 'other.yaml' })).toThrow(UserError);
  });

  it('says which file it cannot read, in one line', () => {
    const dir = project();
    expect(() => loadConfig({ cwd: dir, explicit: '.' })).toThrow(/^cannot read config file .*: EISDIR$/);
  });

  it('makes paths absolute against its folder', () => {
    const dir = project('state: s/state.json\nmanifests: [m, n.yaml]\n');
    const c = loadConfig({ cwd: dir })!;
    expect(c.state).toBe(join(dir, 's/state.json'));
    expect(c.manifests).toEqual([join(dir, 'm'), join(dir, 'n.yaml')]);
  });

  it('reports every problem with its position, YAML errors included', () => {
    const dir = project('vaults:\n  Production: { category: NOPE, tags: [a, a] }\n');
    expect(() => loadConfig({ cwd: dir })).toThrow(ConfigError);
    try {
      loadConfig({ cwd: dir });
    } catch (err) {
      expect((err as Error).message).toContain('opsync.yaml:2:27: error: vaults.Production.category must be one of LOGIN');
      expect((err as Error).message).toContain('vaults.Production.tags must NOT have duplicate items');
    }
    const bad = project('state: [unclosed\n');
    expect(() => loadConfig({ cwd: bad })).toThrow(/opsync.yaml:\d+:\d+: error: YAML/);
  });

  it('never takes a token, at the top or under connect', () => {
    const dir = project('token: abc\n');
    expect(() => loadConfig({ cwd: dir })).toThrow(/opsync.yaml:1:1: error: the Connect token must not be in opsync.yaml/);
  });
});

describe('settings precedence: flags > environment > file > defaults', () => {
  const file = 'connect: { host: http://from-file }\nstate: file.json\nparallelism: 3\nsafety: { minItems: 5 }\n';

  it('takes the file over defaults', () => {
    const dir = project(file);
    const s = resolveSettings({}, {}, dir);
    expect(s.connection).toMatchObject({ connectHost: 'http://from-file', local: false, parallelism: 3 });
    expect(s.state).toBe(join(dir, 'file.json'));
    expect(s.safety).toEqual({ maxDeletePercent: 10, maxReplacePercent: 10, minItems: 5 });
  });

  it('takes the environment over the file, and flags over both', () => {
    const dir = project(file);
    const env = { OP_CONNECT_HOST: 'http://from-env', OPSYNC_STATE: 'env.json', OPSYNC_PARALLELISM: '4' };
    let s = resolveSettings({}, env, dir);
    expect(s.connection.connectHost).toBe('http://from-env');
    expect(s.state).toBe('env.json');
    expect(s.parallelism).toBe(4);
    s = resolveSettings({ connectHost: 'http://from-flag', state: 'flag.json', parallelism: '5' }, env, dir);
    expect(s.connection.connectHost).toBe('http://from-flag');
    expect(s.state).toBe('flag.json');
    expect(s.parallelism).toBe(5);
    s = resolveSettings({ local: true }, env, dir);
    expect(s.connection).toMatchObject({ local: true });
    expect(s.connection.connectHost).toBeUndefined();
  });

  it('"local" in the file means the embedded server, its store beside the file, unless a host is given elsewhere', () => {
    const dir = project('connect: { host: local }\n');
    expect(resolveSettings({}, {}, dir).connection).toMatchObject({ local: true, localDir: join(dir, '.opsync/server') });
    expect(resolveSettings({}, { OP_CONNECT_HOST: 'http://h' }, dir).connection).toMatchObject({ local: false, connectHost: 'http://h' });
  });

  it('--connect-host local (and OP_CONNECT_HOST=local) is --local, beating a URL further down', () => {
    const dir = project('connect: { host: "http://from-file" }\n');
    const embedded = { local: true, localDir: join(dir, '.opsync/server') };
    expect(resolveSettings({ connectHost: 'local' }, {}, dir).connection).toMatchObject(embedded);
    expect(resolveSettings({ connectHost: ' Local ' }, { OP_CONNECT_HOST: 'http://env' }, dir).connection).toMatchObject(embedded);
    expect(resolveSettings({ connectHost: 'local' }, {}, dir).connection.connectHost).toBeUndefined();
    expect(resolveSettings({}, { OP_CONNECT_HOST: 'local' }, dir).connection).toMatchObject(embedded);
    // A URL given on the command line still beats OP_CONNECT_HOST=local and the file.
    expect(resolveSettings({ connectHost: 'http://flag' }, { OP_CONNECT_HOST: 'local' }, dir).connection).toMatchObject({ local: false, connectHost: 'http://flag' });
    expect(resolveSettings({}, {}, dir).connection).toMatchObject({ local: false, connectHost: 'http://from-file' });
  });

  it('refuses a bad parallelism from the environment, and over 64 anywhere, as the schema does', () => {
    expect(() => resolveSettings({}, { OPSYNC_PARALLELISM: 'lots' }, project())).toThrow(/OPSYNC_PARALLELISM/);
    expect(() => resolveSettings({ parallelism: '65' }, {}, project())).toThrow('--parallelism: "65" must be a whole number from 1 to 64');
    expect(resolveSettings({ parallelism: '64' }, {}, project()).parallelism).toBe(64);
    expect(() => loadConfig({ cwd: project('parallelism: 65\n') })).toThrow(/parallelism must be <= 64/);
  });

  it('keeps the default state beside opsync.yaml, as the embedded store is, and in the working folder without one', () => {
    const dir = project('connect: { host: local }\n');
    const elsewhere = project();
    const s = resolveSettings({ config: join(dir, 'opsync.yaml') }, {}, elsewhere);
    expect(join(elsewhere, s.state)).toBe(join(dir, '.opsync/state.json'));
    expect(s.connection.localDir).toBe(join(dir, '.opsync/server'));
    expect(resolveSettings({}, {}, elsewhere).state).toBe('.opsync/state.json');
    expect(resolveSettings({}, {}, dir).state).toBe('.opsync/state.json');
  });

  it('takes the token from the flag over OP_CONNECT_TOKEN, and never from the file', () => {
    const dir = project('connect: { host: http://h }\n');
    expect(resolveSettings({}, { OP_CONNECT_TOKEN: 'env-token' }, dir).connection.connectToken).toBe('env-token');
    expect(resolveSettings({ connectToken: 'flag-token' }, { OP_CONNECT_TOKEN: 'env-token' }, dir).connection.connectToken).toBe('flag-token');
    expect(resolveSettings({}, {}, dir).connection.connectToken).toBeUndefined();
  });
});
