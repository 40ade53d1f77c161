// A real HTTP proxy on 127.0.0.1 in front of a real server that, for chosen requests, refuses them the way a
// careless server, proxy or WAF might: by quoting the request (its body, or its Authorization header) back in the
// error, in one of many encodings. Everything else is forwarded unchanged.

import { startHttpProxy } from './httpProxy.js';

export const ECHO_STYLES = [
  'raw', // the body as it came, inside Connect's JSON message
  'json', // the body quoted as a JSON string inside the message (\" \\ \n)
  'go', // Go's encoding/json quoting (\u003c for <, \u0026 for &)
  'goq', // Go's %q of the body
  'double', // the JSON-quoted body quoted again
  'truncated', // the first 40 characters of each value-bearing line, cut mid-value
  'upper', // the body in upper case
  'base64', // the body as base64
  'url', // the body percent-encoded
  'plain', // a text/plain one-liner quoting the body raw
] as const;
export type EchoStyle = (typeof ECHO_STYLES)[number];

/** Go's strconv.Quote, contents only (enough for the tests: ASCII controls, quotes, backslashes). */
function goQuote(s: string): string {
  return [...s]
    .map((c) => {
      const map: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t', '"': '\\"', '\\': '\\\\' };
      if (map[c]) return map[c];
      const cp = c.codePointAt(0)!;
      return cp < 0x20 ? `\\x${cp.toString(16).padStart(2, '0')}` : c;
    })
    .join('');
}

export function echoText(style: EchoStyle, quoted: string): string {
  switch (style) {
    case 'raw':
    case 'plain':
      return quoted;
    case 'json':
      return JSON.stringify(quoted);
    case 'go':
      return JSON.stringify(quoted).replace(/</g, '\\u003c').replace(/>/g, '\\u003e').replace(/&/g, '\\u0026');
    case 'goq':
      return `"${goQuote(quoted)}"`;
    case 'double':
      return JSON.stringify(JSON.stringify(quoted));
    case 'truncated':
      // Every "value":"..." cut after 12 characters of the value, as a log line that shortens long strings.
      return quoted.replace(/("value":")((?:[^"\\]|\\.){12})(?:[^"\\]|\\.)*"/g, '$1$2...');
    case 'upper':
      return quoted.toUpperCase();
    case 'base64':
      return Buffer.from(quoted).toString('base64');
    case 'url':
      return encodeURIComponent(quoted);
  }
}

export interface EchoProxy {
  url: string;
  /** From now on, refuse matching requests, quoting `what` in `style`; undefined forwards everything. */
  set(rule: { style: EchoStyle; status?: number; method?: string; what?: 'body' | 'authorization' } | undefined): void;
  /** How many requests were refused with an echo. */
  readonly echoed: number;
  close(): Promise<void>;
}

export async function startEchoProxy(upstream: string): Promise<EchoProxy> {
  let rule: Parameters<EchoProxy['set']>[0];
  let echoed = 0;
  const proxy = await startHttpProxy(upstream, (req, body) => {
    const r = rule;
    if (!r || !(r.method ? req.method === r.method : req.method !== 'GET') || (r.what !== 'authorization' && body.length === 0)) return undefined;
    echoed++;
    const quoted = r.what === 'authorization' ? String(req.headers.authorization ?? '') : body.toString('utf8');
    const text = `refused: ${echoText(r.style, quoted)}`;
    const status = r.status ?? 400;
    if (r.style === 'plain') return { status, headers: { 'content-type': 'text/plain' }, body: text.replace(/\n/g, ' ').slice(0, 200) };
    return { status, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ status, message: text }) };
  });
  return {
    url: proxy.url,
    set: (r) => {
      rule = r;
    },
    get echoed() {
      return echoed;
    },
    close: proxy.close,
  };
}
