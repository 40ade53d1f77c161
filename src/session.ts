// A command's Connect connection: the host and token settings resolved (flags > environment > opsync.yaml),
// or the embedded server (--local); and the digest key. Wiring shared by the commands; no engine logic here.

import { ConnectClient } from './connect/client.js';
import { requestLogFromEnv } from './connect/log.js';
import { parseHost } from './connect/transport.js';
import { UserError } from './errors.js';
import { digestKey } from './plan/digest.js';
import { DEFAULT_DATA_DIR } from './server/defaults.js';
import type { ServerHandle } from './server/index.js';

export interface ConnectionFlags {
  connectHost?: string;
  connectToken?: string;
  local?: boolean;
  parallelism?: number;
  /** The embedded server's data folder (default .opsync/server). */
  localDir?: string;
}

export interface Connection {
  client: ConnectClient;
  host: string;
  /** What the state records as its backend: "local" or the host URL. */
  backend: string;
  key: Buffer;
  close(): Promise<void>;
}

/** `log`: where OPSYNC_LOG's request log goes (the command's stderr). */
export async function openConnection(
  flags: ConnectionFlags,
  env: NodeJS.ProcessEnv,
  log: (text: string) => void = (t) => void process.stderr.write(t),
): Promise<Connection> {
  const requestLog = requestLogFromEnv(env, log); // a mistyped OPSYNC_LOG stops here, before any request
  let server: ServerHandle | undefined;
  let host: string;
  let token: string;
  let backend: string;
  if (flags.local) {
    // The server (SQLite, metrics) loads only when it is used.
    const { startServer } = await import('./server/index.js');
    server = await startServer({ host: '127.0.0.1', port: 0, dataDir: flags.localDir ?? DEFAULT_DATA_DIR, quiet: true });
    host = server.url;
    token = server.localToken();
    backend = 'local';
  } else {
    host = flags.connectHost ?? '';
    token = flags.connectToken ?? '';
    if (!host) {
      throw new UserError(
        'no Connect server: set OP_CONNECT_HOST and OP_CONNECT_TOKEN (or --connect-host/--connect-token), or pass --local to use the embedded server',
      );
    }
    if (!/^https?:\/\//i.test(host)) host = `http://${host}`;
    // As shown and recorded (plans, saved plans, state): never with credentials, which parseHost refuses.
    backend = parseHost(host).display;
    if (!token) throw new UserError(`no Connect token for ${backend}: set OP_CONNECT_TOKEN or pass --connect-token`);
  }
  const client = new ConnectClient({ host, token, concurrency: flags.parallelism ?? 8, log: requestLog });
  return {
    client,
    host,
    backend,
    key: digestKey(token, env),
    async close() {
      await client.close();
      await server?.close();
    },
  };
}
