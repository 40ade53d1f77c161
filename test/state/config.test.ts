// Which backend a command's state lives in: opsync.yaml's backend: block, --backend-config over it, secrets
// from the environment only, and one line naming what is missing or wrong.
import { describe, expect, it } from 'vitest';
import { backendName, parseBackendFlags, resolveBackend } from '../../src/state/config.js';

const env = { OPSYNC_HTTP_PASSWORD: 'pw-secret', OPSYNC_PG_CONN_STR: 'postgres://opsync:pg-secret@db.example:5432/ops' };

describe('backend settings', () => {
  it('is none (the local file) when neither opsync.yaml nor a flag names one', () => {
    expect(resolveBackend(undefined, {}, env, '/p')).toBeUndefined();
  });

  it('takes opsync.yaml, with --backend-config over it key by key, and the password from the environment', () => {
    const cfg = resolveBackend(
      { type: 'http', address: 'https://a.example/state/prod', lock_address: 'https://a.example/state/prod', retry_wait_min: 2 },
      parseBackendFlags(['address=https://b.example/state/prod', 'retry_max=5', 'username=ci']),
      env,
      '/p',
    );
    expect(cfg).toEqual({
      type: 'http',
      address: 'https://b.example/state/prod',
      lockAddress: 'https://a.example/state/prod',
      username: 'ci',
      password: 'pw-secret',
      retryMax: 5,
      retryWaitMinMs: 2000,
    });
    expect(backendName(cfg!)).toBe('https://b.example/state/prod');
  });

  it('selects a backend from flags alone, and resolves a local path against the project', () => {
    expect(resolveBackend(undefined, parseBackendFlags(['type=local', 'path=st/state.json']), env, '/p')).toEqual({ type: 'local', path: '/p/st/state.json' });
  });

  it('takes the PostgreSQL connection string from the environment and never shows its password', () => {
    const cfg = resolveBackend({ type: 'postgres', name: 'prod', lease_seconds: 60 }, {}, env, '/p');
    expect(cfg).toEqual({ type: 'postgres', connStr: env.OPSYNC_PG_CONN_STR, name: 'prod', leaseMs: 60_000 });
    expect(backendName(cfg!)).toBe('postgres db.example:5432/ops opsync.prod');
    expect(() => resolveBackend({ type: 'postgres' }, {}, {}, '/p')).toThrow(/the postgres backend needs a connection string: set OPSYNC_PG_CONN_STR/);
  });

  it('says what is missing or wrong in one line', () => {
    const bad = (block: Record<string, unknown> | undefined, flags: string[], e: NodeJS.ProcessEnv = {}) => () => resolveBackend(block, parseBackendFlags(flags), e, '/p');
    expect(bad(undefined, ['address=https://x'])).toThrow(/no backend type: set backend.type in opsync.yaml or pass --backend-config type=http/);
    expect(bad({ type: 'http' }, [])).toThrow(/^the http backend needs address: set backend.address in opsync.yaml or pass --backend-config address=URL$/);
    expect(bad({ type: 's3' }, [])).toThrow(/backend.type in opsync.yaml: "s3" is not a backend; use local, http or postgres/);
    expect(bad({ type: 'http', address: 'https://x' }, ['schema_name=s'])).toThrow(/--backend-config schema_name: a postgres setting; this backend is http/);
    expect(bad({ type: 'http', address: 'https://x' }, ['retry_max=lots'])).toThrow(/--backend-config retry_max: "lots" must be a whole number/);
    expect(bad({ type: 'http', address: 'ftp://x' }, [])).toThrow(/must be an http:\/\/ or https:\/\/ URL/);
    const withPassword = bad({ type: 'http', address: 'https://u:hunter2@x.example/s' }, []);
    expect(withPassword).toThrow(/the URL holds a password; set OPSYNC_HTTP_PASSWORD instead/);
    expect(() => withPassword()).not.toThrow(/hunter2/);
    // Not a URL, with a password in it: quoted without it.
    expect(bad(undefined, ['type=http', 'address=https://u:s3cretPW@exa mple.com/x'])).toThrow(/"https:\/\/\*\*\*@exa mple.com\/x" is not a URL/);
    // A flag that changes the type leaves the file's other settings out.
    expect(resolveBackend({ type: 'http', address: 'https://x' }, parseBackendFlags(['type=postgres']), env, '/p')).toMatchObject({ type: 'postgres' });
  });

  it('refuses secrets and unknown keys on the command line', () => {
    expect(() => parseBackendFlags(['password=hunter2'])).toThrow(/^--backend-config password: the backend password comes from OPSYNC_HTTP_PASSWORD only/);
    expect(() => parseBackendFlags(['conn_str=postgres://x'])).toThrow(/OPSYNC_PG_CONN_STR only/);
    expect(() => parseBackendFlags(['adress=https://x'])).toThrow(/--backend-config adress: unknown setting; known: type, path, address/);
    expect(() => parseBackendFlags(['address'])).toThrow(/write KEY=VALUE/);
  });
});
