// Starts bench/server-child.ts in a child process (see there) and returns its address and token.
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { ServerOptions } from '../src/server/index.js';

export interface ServerProcess {
  url: string;
  token: string;
  /** CPU seconds the server process has used so far. */
  cpu(): Promise<number>;
  close(): Promise<void>;
}

export async function startServerProcess(opts: Partial<ServerOptions>): Promise<ServerProcess> {
  const child = fork(fileURLToPath(new URL('./server-child.js', import.meta.url)), [JSON.stringify(opts)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const { url, token } = await new Promise<{ url: string; token: string }>((res, rej) => {
    child.once('message', (m) => res(m as { url: string; token: string }));
    child.once('exit', (code) => rej(new Error(`benchmark server exited (${code}) before it listened`)));
  });
  return {
    url,
    token,
    cpu: () =>
      new Promise<number>((res) => {
        child.once('message', (m) => res((m as { cpuS: number }).cpuS));
        child.send('cpu');
      }),
    close: () =>
      new Promise<void>((res) => {
        if (child.exitCode !== null) return res();
        child.once('exit', () => res());
        child.send('close');
      }),
  };
}
