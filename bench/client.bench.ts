// Requests per second of the Connect client against an in-process opsync server, with and without keep-alive.
// Prints figures only; run through the bench script (a TypeScript-aware loader), e.g. `npm run bench -- bench/client.bench.ts`.
import { ConnectClient } from '../src/connect/client.js';
import { startServer } from '../src/server/index.js';

const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 2000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 8);

async function run(url: string, token: string, vaultId: string, keepAlive: boolean): Promise<number> {
  const client = new ConnectClient({ host: url, token, concurrency: CONCURRENCY, keepAlive });
  await client.listItems(vaultId); // warm-up
  const start = process.hrtime.bigint();
  await Promise.all(Array.from({ length: REQUESTS }, () => client.listItems(vaultId)));
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  await client.close();
  return REQUESTS / seconds;
}

const server = await startServer({ memory: true, host: '127.0.0.1', port: 0, quiet: true });
try {
  const token = server.localToken();
  const setup = new ConnectClient({ host: server.url, token });
  const vault = (await setup.findVault('Private'))!;
  for (let i = 0; i < 20; i++) await setup.createItem(vault.id, { title: `bench ${i}`, category: 'LOGIN' });
  await setup.close();

  console.log(`connect client: ${REQUESTS} item lists, concurrency ${CONCURRENCY}`);
  for (const keepAlive of [true, false]) {
    const rps = await run(server.url, token, vault.id, keepAlive);
    console.log(`  keep-alive ${keepAlive ? 'on ' : 'off'}  ${rps.toFixed(0).padStart(7)} requests/s`);
  }
} finally {
  await server.close();
}
