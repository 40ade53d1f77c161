// Starts a real opsync server for a test: in-memory store, 127.0.0.1, a random port, no log lines.
import { startServer, type ServerHandle, type ServerOptions } from '../../src/server/index.js';

export interface TestServer {
  url: string;
  /** A full-access bearer token. */
  token: string;
  server: ServerHandle;
  /** A token for these remote states (default every one) and no vault. */
  stateToken(names?: string[]): string;
  close(): Promise<void>;
}

export async function startTestServer(opts: Partial<ServerOptions> = {}): Promise<TestServer> {
  const server = await startServer({ memory: true, host: '127.0.0.1', port: 0, quiet: true, ...opts });
  return { url: server.url, token: server.localToken(), server, stateToken: (names) => server.stateToken(names), close: () => server.close() };
}
