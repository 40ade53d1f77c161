// A real HTTP proxy on 127.0.0.1 in front of `upstream`: each request's body is read whole, shown to `intercept`,
// which may answer it itself; otherwise it is forwarded unchanged and the upstream's answer piped back.

import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Intercepted {
  status: number;
  headers: Record<string, string>;
  body: string;
}

export interface HttpProxy {
  url: string;
  close(): Promise<void>;
}

export async function startHttpProxy(
  upstream: string,
  intercept: (req: http.IncomingMessage, body: Buffer) => Intercepted | undefined,
): Promise<HttpProxy> {
  const target = new URL(upstream);
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const answer = intercept(req, body);
      if (answer) {
        res.writeHead(answer.status, answer.headers);
        res.end(answer.body);
        return;
      }
      const up = http.request(
        { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: { ...req.headers, host: target.host } },
        (upRes) => {
          res.writeHead(upRes.statusCode ?? 502, upRes.headers);
          upRes.pipe(res);
        },
      );
      up.on('error', () => res.destroy());
      up.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
