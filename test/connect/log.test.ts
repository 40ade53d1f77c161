// OPSYNC_LOG's request log: the level, and each line's shape (never a value: the transport passes none).
import { describe, expect, it } from 'vitest';
import { ConnectClient } from '../../src/connect/client.js';
import { createRequestLog, formatRequestLine, parseLogLevel } from '../../src/connect/log.js';
import { UserError } from '../../src/errors.js';
import { startFaultProxy } from '../support/faultProxy.js';
import { startTestServer } from '../support/server.js';

const at = new Date('2025-06-01T12:00:00.000Z');

describe('OPSYNC_LOG', () => {
  it('reads debug and trace; unset and the quiet levels are off; anything else is a one-line mistake', () => {
    expect(parseLogLevel('debug')).toBe('debug');
    expect(parseLogLevel(' TRACE ')).toBe('trace');
    for (const v of [undefined, '', 'off', 'info', 'warn', 'error', '0']) expect(parseLogLevel(v)).toBe('off');
    expect(() => parseLogLevel('verbose')).toThrow(UserError);
    expect(() => parseLogLevel('verbose')).toThrow('OPSYNC_LOG must be debug or trace (or unset), got "verbose"');
    expect(() => parseLogLevel('x\u001b[2J')).toThrow('got "x?[2J"');
    expect(createRequestLog('off', () => undefined)).toBeUndefined();
  });

  it('debug: method, path, status, time; the attempt only when it is not the first or is retried; no query', () => {
    const base = { method: 'GET', path: '/v1/vaults/abc/items', query: '?filter=title%20eq%20%22db%22', status: 200, durationMs: 12.4, attempt: 1, maxAttempts: 5 };
    expect(formatRequestLine('debug', base, at)).toBe('opsync debug: GET /v1/vaults/abc/items 200 12ms');
    expect(formatRequestLine('debug', { ...base, status: 503, retryInMs: 250 }, at)).toBe('opsync debug: GET /v1/vaults/abc/items 503 12ms attempt 1/5, retry in 250ms');
    expect(formatRequestLine('debug', { ...base, status: undefined, code: 'ECONNRESET', attempt: 2 }, at)).toBe('opsync debug: GET /v1/vaults/abc/items ECONNRESET 12ms attempt 2/5');
  });

  it('trace: the time and the query too', () => {
    const e = { method: 'GET', path: '/v1/vaults/abc/items', query: '?filter=title%20eq%20%22db%22', status: 200, durationMs: 3, attempt: 1, maxAttempts: 5 };
    expect(formatRequestLine('trace', e, at)).toBe('opsync trace: 2025-06-01T12:00:00.000Z GET /v1/vaults/abc/items?filter=title%20eq%20%22db%22 200 3ms attempt 1/5');
  });

  it('the client logs every attempt through a real proxy, retries included, and never the token or a value', async () => {
    const srv = await startTestServer();
    const proxy = await startFaultProxy(srv.url);
    const lines: string[] = [];
    const client = new ConnectClient({ host: proxy.url, token: srv.token, backoffBaseMs: 5, log: createRequestLog('trace', (l) => lines.push(l)) });
    try {
      proxy.inject({ method: 'POST', status: 429, times: 1 });
      const vault = (await client.findVault('Private'))!;
      const secret = 'Value-6b7c8d9e-never-logged';
      await client.createItem(vault.id, { title: 'T', category: 'PASSWORD', fields: [{ id: 'password', type: 'CONCEALED', purpose: 'PASSWORD', value: secret }] });
      const text = lines.join('');
      expect(text).toMatch(new RegExp(`POST /v1/vaults/${vault.id}/items 429 \\d+ms attempt 1/5, retry in \\d+ms\\n`));
      expect(text).toMatch(new RegExp(`POST /v1/vaults/${vault.id}/items 200 \\d+ms attempt 2/5\\n`));
      expect(text).not.toContain(secret);
      expect(text).not.toContain(srv.token);
      for (const l of lines) expect(l).toMatch(/^opsync trace: \S+ (GET|POST) \/\S+ \d{3} \d+ms attempt \d+\/\d+(, retry in \d+ms)?\n$/);
    } finally {
      await client.close();
      await proxy.close();
      await srv.close();
    }
  });
});
