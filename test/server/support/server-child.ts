// A second server process on a data folder given as argv[2] (as `opsync server` beside a `--local` run):
// prints its URL and a full-access token as one JSON line, serves until stdin closes.
import { startServer } from '../../../src/server/index.js';

const server = await startServer({ dataDir: process.argv[2], host: '127.0.0.1', port: 0, quiet: true });
process.stdout.write(`${JSON.stringify({ url: server.url, token: server.localToken() })}\n`);
process.stdin.resume();
process.stdin.on('end', () => void server.close().then(() => process.exit(0)));
