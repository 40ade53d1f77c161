import { describe, expect, it } from 'vitest';
import { filterEq } from '../../src/connect/filter.js';
import { networkCode } from '../../src/connect/errors.js';
import { scrub, sensitiveStrings } from '../../src/connect/redact.js';
import { backoffDelay, parseRetryAfter, retryDelay } from '../../src/connect/retry.js';
import { Semaphore } from '../../src/connect/semaphore.js';
import { parseHost } from '../../src/connect/transport.js';
import { UserError } from '../../src/errors.js';

describe('filterEq', () => {
  it('quotes the value and escapes quotes and backslashes', () => {
    expect(filterEq('title', 'db')).toBe('title eq "db"');
    expect(filterEq('name', 'a "b" \\c')).toBe('name eq "a \\"b\\" \\\\c"');
    expect(filterEq('tag', '')).toBe('tag eq ""');
  });
});

describe('backoff', () => {
  const policy = { baseMs: 100, maxMs: 1000 };
  it('doubles per retry, jittered between half and all of the ceiling, capped', () => {
    expect(backoffDelay(0, policy, () => 0)).toBe(50);
    expect(backoffDelay(0, policy, () => 1)).toBe(100);
    expect(backoffDelay(2, policy, () => 1)).toBe(400);
    expect(backoffDelay(3, policy, () => 0)).toBe(400);
    expect(backoffDelay(10, policy, () => 1)).toBe(1000);
    expect(backoffDelay(500, policy, () => 1)).toBe(1000);
  });
  it('prefers Retry-After, capped by the maximum', () => {
    expect(retryDelay(0, policy, 700, () => 0)).toBe(700);
    expect(retryDelay(0, policy, 3_600_000)).toBe(1000);
    expect(retryDelay(0, policy, 0)).toBe(0);
  });
});

describe('parseRetryAfter', () => {
  const now = Date.parse('2026-01-01T00:00:00Z');
  it('reads delay-seconds and HTTP-dates', () => {
    expect(parseRetryAfter('3', now)).toBe(3000);
    expect(parseRetryAfter(' 0 ', now)).toBe(0);
    expect(parseRetryAfter('Thu, 01 Jan 2026 00:00:05 GMT', now)).toBe(5000);
    expect(parseRetryAfter('Wed, 31 Dec 2025 23:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfter(['2', '9'], now)).toBe(2000);
  });
  it('ignores absent or unreadable values', () => {
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
    expect(parseRetryAfter('', now)).toBeUndefined();
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter('-5', now)).toBeUndefined();
  });
});

describe('redaction', () => {
  it('finds field values of an item body, not titles or labels', () => {
    const s = sensitiveStrings({
      title: 'Primary database',
      fields: [
        { id: 'password', label: 'password', value: 'hunter2-secret' },
        { id: 'u', label: 'username', value: 'app' },
      ],
    });
    expect(s).toContain('hunter2-secret');
    expect(s).toContain('app');
    expect(s).not.toContain('Primary database');
    expect(s).not.toContain('password');
  });
  it('treats everything a patch writes as sensitive', () => {
    const s = sensitiveStrings([
      { op: 'replace', path: '/fields/abc/value', value: 'new-secret' },
      { op: 'add', path: '/fields/-', value: { id: 'x1', label: 'token', value: 'tok-123' } },
      { op: 'remove', path: '/tags/0' },
    ]);
    expect(s).toEqual(expect.arrayContaining(['new-secret', 'tok-123']));
  });
  it('scrubs every occurrence, longest secret first', () => {
    expect(scrub('a secret-long and secret', ['secret', 'secret-long'])).toBe('a (redacted) and (redacted)');
    expect(scrub('nothing here', ['xyz'])).toBe('nothing here');
  });
});

describe('networkCode', () => {
  it('digs the system code out of causes and aggregate errors', () => {
    expect(networkCode(Object.assign(new Error('x'), { code: 'ECONNREFUSED' }))).toBe('ECONNREFUSED');
    const agg = Object.assign(new AggregateError([Object.assign(new Error('a'), { code: 'ECONNREFUSED' })]), {});
    expect(networkCode(agg)).toBe('ECONNREFUSED');
    const sock = Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET' });
    expect(networkCode(sock)).toBe('UND_ERR_SOCKET');
    const wrapped = Object.assign(new Error('closed'), {
      code: 'UND_ERR_SOCKET',
      cause: Object.assign(new Error('reset'), { code: 'ECONNRESET' }),
    });
    expect(networkCode(wrapped)).toBe('ECONNRESET');
    expect(networkCode(new Error('plain'))).toBe('UNKNOWN');
  });
});

describe('parseHost', () => {
  it('accepts a trailing slash and a path prefix', () => {
    expect(parseHost('http://localhost:8080/')).toEqual({
      origin: 'http://localhost:8080',
      basePath: '',
      display: 'http://localhost:8080',
    });
    expect(parseHost('https://ops.example.com/connect/').basePath).toBe('/connect');
  });
  it('refuses hosts without a scheme, and never shows credentials', () => {
    expect(() => parseHost('localhost:8080')).toThrow(/must be an http:\/\/ or https:\/\/ URL/);
    // Credentials have nowhere to go (the token is a bearer header) and would be shown and recorded: refused.
    expect(() => parseHost('http://user:pw-99@localhost:8080')).toThrow('Connect host "http://***@localhost:8080" must not carry credentials');
    // A user mistake: one line (UserError), never the credentials.
    expect(() => parseHost('http://user:pw-73@ex ample')).toThrow(UserError);
    expect(() => parseHost('http://user:pw-73@ex ample')).toThrow('Connect host "http://***@ex ample" is not a valid URL');
    expect(() => parseHost('admin:s3cret@connect.example.com')).toThrow('Connect host "***@connect.example.com" must be an http:// or https:// URL');
    expect(() => parseHost('http://u:pa/ss@h x')).toThrow('Connect host "http://***@h x" is not a valid URL');
    expect(() => parseHost('http://h/?q=1')).toThrow(new UserError('Connect host "http://h" must not carry a query or fragment'));
  });
});

describe('Semaphore', () => {
  it('lets `limit` holders in and queues the rest in order', async () => {
    const sem = new Semaphore(2);
    const order: number[] = [];
    const gates: (() => void)[] = [];
    let maxActive = 0;
    const jobs = [1, 2, 3, 4, 5].map((n) =>
      sem.run(async () => {
        maxActive = Math.max(maxActive, sem.inUse);
        order.push(n);
        await new Promise<void>((r) => gates.push(r));
      }),
    );
    await Promise.resolve();
    expect(order).toEqual([1, 2]);
    expect(sem.queued).toBe(3);
    while (gates.length || sem.inUse) {
      gates.shift()?.();
      await new Promise((r) => setImmediate(r));
    }
    await Promise.all(jobs);
    expect(order).toEqual([1, 2, 3, 4, 5]);
    expect(maxActive).toBe(2);
    expect(sem.inUse).toBe(0);
  });
});
