// Secrets a server quotes back in an error never reach a message: every echo style of test/support/echoProxy,
// for values that are hard to scrub (multi-line PEM, quotes and backslashes, <&>, non-ASCII, very short, long).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConnectClient, ConnectError } from '../../src/connect/client.js';
import { echoForms, Redactor, sensitiveStrings } from '../../src/connect/redact.js';
import { ECHO_STYLES, echoText, startEchoProxy, type EchoProxy } from '../support/echoProxy.js';
import { findLeak } from '../support/leaks.js';
import { startTestServer, type TestServer } from '../support/server.js';

const PEM = `-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\nBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKj\n-----END PRIVATE KEY-----\n`;
const HARD = {
  pem: PEM,
  quotes: `pa"ss\\word'with"quotes\\n`,
  html: `a<b>&c</b>&amp;<script>`,
  unicode: 'pässwörd-ünïcødé-秘密-✓',
  long: 'L'.repeat(3) + 'ong-secret-value-0123456789abcdefghijklmnopqrstuvwxyz'.repeat(4),
  mixedCase: 'MiXeD-CaSe-SeCrEt-99',
  four: 'q7#z',
};

const bodyOf = (values: string[]) => ({
  title: 'Echo target',
  category: 'LOGIN',
  fields: values.map((value, i) => ({ id: `f${i}`, label: `f${i}`, type: 'CONCEALED', value })),
});

describe('Redactor', () => {
  it('removes every echo style of every hard value', () => {
    const values = Object.values(HARD);
    const body = JSON.stringify(bodyOf(values));
    const redactor = new Redactor(sensitiveStrings(JSON.parse(body)));
    expect(redactor.withhold).toBe(false);
    for (const style of ECHO_STYLES) {
      const shown = redactor.serverText(`refused: ${echoText(style, body)}`) ?? '';
      for (const [name, value] of Object.entries(HARD)) {
        expect(findLeak(shown, value, name === 'four' ? 4 : 8), `${style} leaks ${name}: ${shown}`).toBeUndefined();
      }
    }
  });

  it('withholds the whole text when a value is too short to tell from words', () => {
    for (const short of ['x', 'ab', 'a1c']) {
      const redactor = new Redactor(sensitiveStrings(bodyOf([short, HARD.pem])));
      expect(redactor.withhold).toBe(true);
      expect(redactor.serverText(`field ${short} is bad`)).toBeUndefined();
    }
  });

  it('withholds the whole text when the values are too large to index (a big file)', () => {
    const redactor = new Redactor(sensitiveStrings(bodyOf(['k'.repeat(40 * 1024)])));
    expect(redactor.withhold).toBe(true);
    expect(redactor.serverText('anything')).toBeUndefined();
  });

  it('keeps what is not an echo, and cuts long text', () => {
    const redactor = new Redactor(['some-long-secret-value']);
    expect(redactor.serverText('details.sections[0].fields[0] has unsupported field type: totp')).toBe(
      'details.sections[0].fields[0] has unsupported field type: totp',
    );
    expect(redactor.serverText('x'.repeat(1000))!.length).toBeLessThanOrEqual(301);
    expect(redactor.scrub('prefix SOME-LONG-SECRET suffix')).toBe('prefix (redacted) suffix');
  });

  it('knows the encodings of a value', () => {
    const forms = echoForms('a<"b">\n');
    expect(forms).toEqual(expect.arrayContaining(['a<"b">\n', 'a<\\"b\\">\\n', 'a\\u003c\\"b\\"\\u003e\\n', 'a%3C%22b%22%3E%0A']));
  });
});

describe('ConnectClient against a server that echoes requests', () => {
  let srv: TestServer;
  let proxy: EchoProxy;
  let client: ConnectClient;
  let vaultId: string;

  beforeAll(async () => {
    srv = await startTestServer();
    proxy = await startEchoProxy(srv.url);
    client = new ConnectClient({ host: proxy.url, token: srv.token, retries: 0 });
    vaultId = (await client.findVault('Private'))!.id;
  });
  afterAll(async () => {
    await client.close();
    await proxy.close();
    await srv.close();
  });

  it('never puts a sent value into an error, in any echo style', async () => {
    for (const style of ECHO_STYLES) {
      proxy.set({ style, method: 'POST' });
      const err = (await client.createItem(vaultId, bodyOf(Object.values(HARD)) as never).catch((e: unknown) => e)) as ConnectError;
      expect(err).toBeInstanceOf(ConnectError);
      const text = `${err.message}\n${err.connectMessage ?? ''}`;
      expect(text).toContain('400');
      expect(text).toContain('POST /v1/vaults/');
      for (const [name, value] of Object.entries(HARD)) {
        expect(findLeak(text, value, name === 'four' ? 4 : 8), `${style} leaks ${name}: ${text}`).toBeUndefined();
      }
    }
  });

  it('shows only the status and place when a value is too short to scrub', async () => {
    proxy.set({ style: 'raw', method: 'POST' });
    const err = (await client.createItem(vaultId, bodyOf(['ab', 'long-enough-value']) as never).catch((e: unknown) => e)) as ConnectError;
    expect(err.message).toMatch(/^Connect answered 400 for POST \/v1\/vaults\/\w+\/items: Bad Request \(the server's message is not shown/);
    expect(err.message).not.toContain('refused');
    expect(err.connectMessage).toBeUndefined();
  });

  it('never puts the token into an error a read provokes', async () => {
    for (const style of ECHO_STYLES) {
      proxy.set({ style, method: 'GET', status: 403, what: 'authorization' });
      const err = (await client.listVaults().catch((e: unknown) => e)) as ConnectError;
      const text = `${err.message}\n${err.connectMessage ?? ''}`;
      expect(text).toContain('403');
      expect(findLeak(text, srv.token), `${style}: ${text}`).toBeUndefined();
    }
    proxy.set(undefined);
  });
});
