// Runs the compiled benchmarks (npm run bench [-- NAME...]): each prints its own figures. Not tests.
import { spawnSync } from 'node:child_process';
import { readdirSync, cpSync } from 'node:fs';

// Compiled code reads package.json and schemas/ relative to itself.
cpSync('package.json', '.bench-out/package.json');
cpSync('schemas', '.bench-out/schemas', { recursive: true });
const wanted = process.argv.slice(2);
const benches = readdirSync('.bench-out/bench').filter((f) => f.endsWith('.bench.js') && (wanted.length === 0 || wanted.some((w) => f.includes(w))));
for (const file of benches) {
  console.log(`\n== ${file.replace(/\.js$/, '.ts')}`);
  const r = spawnSync(process.execPath, [`.bench-out/bench/${file}`], { stdio: 'inherit' });
  if (r.status !== 0) process.exitCode = 1;
}
