// A real HTTP proxy on 127.0.0.1 in front of a real server, with faults scripted per request: answer with a
// status instead of forwarding, reset the connection before or after forwarding, or delay. It records what it saw,
// the most requests it had in flight at once, and how many TCP connections clients opened.

import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface FaultRule {
  /** Only requests with this method (any when absent). */
  method?: string;
  /** Only requests whose path (query included) equals this string, matches this RegExp, or passes this test. */
  path?: string | RegExp | ((path: string) => boolean);
  /** How many matching requests get the fault; default 1. Infinity for all. */
  times?: number;
  /** Answer with this status (not forwarded). */
  status?: number;
  /** Headers of that answer, e.g. { 'retry-after': '1' }. */
  headers?: Record<string, string>;
  /** Body of that answer; default Connect's `{"status":N,"message":"..."}`. */
  body?: string;
  /** Destroy the client's socket: 'before' forwarding (the server never sees it) or 'after' the server answered. */
  reset?: 'before' | 'after';
  /** Wait this long before forwarding (the request still reaches the server, even if the client gave up). */
  delayMs?: number;
  /** Forward, then answer with the server's headers and half its body, and send nothing more. */
  stallBody?: boolean;
}

export interface FaultHandle {
  /** Requests this rule has hit so far. */
  readonly hits: number;
}

export interface SeenRequest {
  method: string;
  path: string;
  /** The fault applied, if any: 'status 503', 'reset before', 'delay 500'. */
  fault?: string;
}

export interface FaultProxy {
  url: string;
  inject(rule: FaultRule): FaultHandle;
  clear(): void;
  readonly seen: SeenRequest[];
  readonly maxInFlight: number;
  readonly inFlight: number;
  readonly connections: number;
  /** Forgets seen requests and resets the counters (rules stay). */
  resetCounters(): void;
  close(): Promise<void>;
}

interface ActiveRule {
  rule: FaultRule;
  remaining: number;
  hits: number;
}

function matches(rule: FaultRule, method: string, path: string): boolean {
  if (rule.method && rule.method.toUpperCase() !== method) return false;
  const p = rule.path;
  if (p === undefined) return true;
  if (typeof p === 'string') return p === path || p === path.split('?')[0];
  if (p instanceof RegExp) return p.test(path);
  return p(path);
}

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'trailer']);

function copyHeaders(h: http.IncomingHttpHeaders): http.OutgoingHttpHeaders {
  const out: http.OutgoingHttpHeaders = {};
  for (const [k, v] of Object.entries(h)) if (v !== undefined && !HOP_BY_HOP.has(k)) out[k] = v;
  return out;
}

export async function startFaultProxy(targetUrl: string): Promise<FaultProxy> {
  const target = new URL(targetUrl);
  const upstreamAgent = new http.Agent({ keepAlive: true });
  const rules: ActiveRule[] = [];
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();
  let seen: SeenRequest[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  let connections = 0;

  const forward = (req: http.IncomingMessage, body: Buffer, onAnswer: (status: number, headers: http.OutgoingHttpHeaders, data: Buffer) => void, onError: () => void): void => {
    const upstream = http.request(
      {
        host: target.hostname,
        port: target.port,
        method: req.method,
        path: req.url,
        headers: { ...copyHeaders(req.headers), host: target.host, 'content-length': String(body.length) },
        agent: upstreamAgent,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => onAnswer(res.statusCode ?? 502, copyHeaders(res.headers), Buffer.concat(chunks)));
        res.on('error', onError);
      },
    );
    upstream.on('error', onError);
    upstream.end(body);
  };

  const server = http.createServer((req, res) => {
    const method = req.method ?? 'GET';
    const path = req.url ?? '/';
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    let done = false;
    const finish = (): void => {
      if (!done) {
        done = true;
        inFlight--;
      }
    };
    res.on('close', finish);

    const active = rules.find((r) => r.remaining > 0 && matches(r.rule, method, path));
    if (active) {
      active.remaining--;
      active.hits++;
    }
    const rule = active?.rule;
    const record: SeenRequest = { method, path };
    if (rule) {
      record.fault =
        rule.status !== undefined ? `status ${rule.status}` : rule.reset ? `reset ${rule.reset}` : rule.stallBody ? 'stalled body' : `delay ${rule.delayMs ?? 0}`;
    }
    seen.push(record);

    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      if (rule?.status !== undefined) {
        const payload = rule.body ?? JSON.stringify({ status: rule.status, message: `injected fault ${rule.status}` });
        res.writeHead(rule.status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload), ...rule.headers });
        res.end(payload);
        return;
      }
      if (rule?.reset === 'before') {
        req.socket.destroy();
        finish();
        return;
      }
      const go = (): void =>
        forward(
          req,
          body,
          (status, headers, data) => {
            if (rule?.reset === 'after') {
              req.socket.destroy();
              finish();
              return;
            }
            if (res.destroyed) return;
            res.writeHead(status, { ...headers, 'content-length': data.length });
            if (rule?.stallBody) {
              res.write(data.subarray(0, Math.floor(data.length / 2)));
              return; // the rest never comes; close() destroys the socket
            }
            res.end(data);
          },
          () => {
            if (!res.destroyed) req.socket.destroy();
            finish();
          },
        );
      if (rule?.delayMs) {
        const t = setTimeout(() => {
          timers.delete(t);
          go();
        }, rule.delayMs);
        timers.add(t);
      } else go();
    });
  });

  server.on('connection', (socket: Socket) => {
    connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    inject(rule: FaultRule): FaultHandle {
      const active: ActiveRule = { rule, remaining: rule.times ?? 1, hits: 0 };
      rules.push(active);
      return {
        get hits() {
          return active.hits;
        },
      };
    },
    clear() {
      rules.length = 0;
    },
    get seen() {
      return seen;
    },
    get maxInFlight() {
      return maxInFlight;
    },
    get inFlight() {
      return inFlight;
    },
    get connections() {
      return connections;
    },
    resetCounters() {
      seen = [];
      maxInFlight = inFlight;
      connections = 0;
    },
    async close() {
      for (const t of timers) clearTimeout(t);
      timers.clear();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const s of sockets) s.destroy();
      upstreamAgent.destroy();
      await closed;
    },
  };
}
