#!/usr/bin/env node
// Thin launcher: the CLI is compiled to dist/ by `npm run build` (and by `npm pack`, through `prepack`).
import { main } from '../dist/cli.js';

// Started by npm (`npx opsync ...`, `npm exec`, an `npm run` script), opsync runs under `sh -c`, itself a
// child of npm. A SIGTERM to npm (`kill %1` of `npx opsync server &`, a CI step's timeout) is forwarded to
// that shell only: the shell dies, npm exits, and opsync would be left running, orphaned. So, under npm,
// when the parent goes away opsync stops as on SIGTERM (a server closes its store, an apply finishes its
// running operations and saves the state).
if (process.env.npm_lifecycle_event !== undefined && process.platform !== 'win32') {
  const parent = process.ppid;
  const alive = () => {
    try {
      process.kill(parent, 0);
      return true;
    } catch (err) {
      return err?.code === 'EPERM';
    }
  };
  const timer = setInterval(() => {
    if (alive()) return;
    clearInterval(timer);
    process.stderr.write('opsync: npm, which started opsync, is gone; stopping as on SIGTERM\n');
    process.kill(process.pid, 'SIGTERM');
  }, 500);
  timer.unref();
}

main(process.argv).then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    process.stderr.write(`opsync: internal error: ${err?.stack ?? err}\n`);
    process.exitCode = 1;
  },
);
