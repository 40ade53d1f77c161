// A benchmark's server in a process of its own, as a real Connect server is: started with `fork()`, it reads
// its ServerOptions (JSON) from argv, answers { url, token } over IPC once it listens, its CPU time when sent 'cpu', and closes when the
// parent sends 'close' or goes away. So the client under measurement never shares the server's event loop.
import { startServer, type ServerOptions } from '../src/server/index.js';

const opts = JSON.parse(process.argv[2] ?? '{}') as Partial<ServerOptions>;
const server = await startServer({ memory: true, host: '127.0.0.1', port: 0, quiet: true, ...opts });
let closing = false;
const close = async () => {
  if (closing) return;
  closing = true;
  await server.close();
  process.exit(0);
};
process.on('message', (m) => {
  if (m === 'close') void close();
  // The CPU time the server has used so far (seconds), for the figures: how busy the measured run kept it.
  if (m === 'cpu') {
    const u = process.cpuUsage();
    process.send!({ cpuS: (u.user + u.system) / 1e6 });
  }
});
process.on('disconnect', () => void close());
process.send!({ url: server.url, token: server.localToken() });
