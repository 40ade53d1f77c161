// A newcomer's first hour, as the README and the examples' READMEs write it: their ```sh blocks are run
// as they stand (bash, set -e), from folders outside the repository, with opsync installed from its packed
// tarball as a dev dependency. HOME is a temporary folder, so `~/opsync` (the clone: here its tarball and
// examples/) and `~/infra` (the user's repository) are the README's own paths. The only change made to
// what the READMEs say is the webapp server's port (8080 there, a free one here).
//
// npm takes packages from its cache (prefer-offline) and better-sqlite3's install script finds a prebuilt
// binary made from this checkout's build (~/.prebuild-installrc), so nothing is compiled; strict
// allowScripts turns an install script npm was not told about into an error, as a coming npm will.

import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { bash, localPrebuilds, shBlocks, userEnv } from '../support/install.js';
import { REPO } from './cli.js';

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const srv = createServer().listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  });
}

const REAL_CACHE = process.env.npm_config_cache || join(homedir(), '.npm');
const VERSION = (JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { version: string }).version;
const readme = (path: string) => readFileSync(join(REPO, path), 'utf8');

/** A newcomer's HOME: ~/opsync holding the packed tarball and the examples, an empty ~/infra. */
async function newcomerHome(tarball: string): Promise<{ home: string; env: NodeJS.ProcessEnv }> {
  const home = mkdtempSync(join(tmpdir(), 'opsync-newcomer-'));
  onTestFinished(() => rmSync(home, { recursive: true, force: true }));
  mkdirSync(join(home, 'opsync'));
  mkdirSync(join(home, 'infra'));
  cpSync(tarball, join(home, 'opsync', `opsync-${VERSION}.tgz`));
  cpSync(join(REPO, 'examples'), join(home, 'opsync', 'examples'), { recursive: true });
  // A prebuilt better-sqlite3 from this checkout's build, where prebuild-install looks first.
  await localPrebuilds(home, '.prebuilds');
  const env = userEnv({ HOME: home, npm_config_cache: REAL_CACHE }, /^WEBAPP_/i);
  return { home, env };
}

describe('a newcomer, following the READMEs', () => {
  it('installs opsync as a dev dependency, runs the quickstart, then the webapp example, then init in a fresh repository', async () => {
    const t0 = Date.now();
    const out = mkdtempSync(join(tmpdir(), 'opsync-tarball-'));
    onTestFinished(() => rmSync(out, { recursive: true, force: true }));
    // dist/ is built (npm test builds before vitest); --ignore-scripts: prepack would build this checkout again.
    const pack = await bash(`npm pack --ignore-scripts --pack-destination ${JSON.stringify(out)}`, REPO, { ...process.env, npm_config_update_notifier: 'false' });
    expect(pack.code, pack.stderr).toBe(0);
    const tarball = join(out, `opsync-${VERSION}.tgz`);

    const main = readme('README.md');
    const [, , devBlock, startBlock, completionBlock] = shBlocks(main, '## Install');
    expect(devBlock).toContain('npm install --save-dev ./vendor/opsync-');
    expect(startBlock).toContain('npx opsync init');
    // The set-up line's opsync commands (the clone's own `npm ci && npm run build` is done already).
    const quickstart = shBlocks(main, '## Set up')[0]
      .split(/\n| && /)
      .map((c) => c.trim())
      .filter((c) => c.startsWith('npx opsync'));
    expect(quickstart).toHaveLength(2);

    // 1. Install as a dev dependency of ~/infra, as the README says; quiet, and no TypeScript comes along.
    const first = await newcomerHome(tarball);
    const infra = join(first.home, 'infra');
    const install = await bash(devBlock, first.home, first.env);
    expect(install.code, install.stderr + install.stdout).toBe(0);
    expect(install.stderr + install.stdout).not.toMatch(/npm warn|install-scripts/i);
    expect(existsSync(join(infra, 'node_modules/typescript'))).toBe(false);
    const pkg = JSON.parse(readFileSync(join(infra, 'package.json'), 'utf8')) as { devDependencies: Record<string, string>; allowScripts: Record<string, boolean> };
    expect(pkg.devDependencies.opsync).toBe(`file:vendor/opsync-${VERSION}.tgz`);
    expect(pkg.allowScripts).toEqual({ 'better-sqlite3': true });
    const installed = Date.now();

    // 2. The quickstart, from the folder the examples were copied to.
    cpSync(join(first.home, 'opsync', 'examples'), join(infra, 'examples'), { recursive: true });
    const qs = await bash(quickstart.join(' && '), infra, first.env);
    expect(qs.code, qs.stderr + qs.stdout).toBe(0);
    expect(qs.stdout).toMatch(/3 created/);

    // 3. The webapp example right after it, its server started through npx and stopped by `kill %1`.
    const port = await freePort();
    const webappConfig = join(infra, 'examples/webapp/opsync.yaml');
    writeFileSync(webappConfig, readFileSync(webappConfig, 'utf8').replaceAll('8080', String(port)));
    const webappBlock = shBlocks(readme('examples/webapp/README.md'), '# webapp example')[0];
    expect(webappBlock).toContain('npx opsync server');
    expect(webappBlock).toContain('kill %1');
    const webapp = await bash(webappBlock.replaceAll('8080', String(port)), infra, first.env);
    expect(webapp.code, webapp.stderr + webapp.stdout).toBe(0);
    expect(webapp.stdout).toMatch(/Apply complete/i);
    expect(webapp.stdout).toMatch(/replace|update|~/); // the rotation changed the database password
    expect(existsSync(join(infra, 'examples/webapp/.opsync/state.json'))).toBe(true);
    let stopped = false;
    for (let i = 0; i < 50 && !stopped; i++) {
      stopped = !(await listening(port));
      if (!stopped) await new Promise((r) => setTimeout(r, 100));
    }
    expect(stopped, 'the server started through npx is still listening after kill %1').toBe(true);
    // npm passed the SIGTERM to its shell only: opsync saw its parent go and stopped as on SIGTERM.
    expect(webapp.stderr).toContain('npm, which started opsync, is gone; stopping as on SIGTERM');
    expect(webapp.stderr).toContain('SIGTERM received, finishing requests and closing the store');

    // 4. A fresh repository: install the same way, init, apply, plan (in sync); init again skips the sample.
    const fresh = await newcomerHome(tarball);
    const repo = join(fresh.home, 'infra');
    const again = await bash(`${devBlock}\n${startBlock}`, fresh.home, fresh.env);
    expect(again.code, again.stderr + again.stdout).toBe(0);
    expect(again.stderr + again.stdout).not.toMatch(/npm warn|install-scripts/i);
    expect(again.stderr).toContain('created  manifests/private.yaml');
    expect(again.stdout).toMatch(/1 created/);
    const reinit = await bash('npx opsync init', repo, fresh.env);
    expect(reinit.code, reinit.stderr).toBe(0);
    expect(reinit.stderr).toContain('kept     opsync.yaml (exists)');
    expect(reinit.stderr).toMatch(/skipped  manifests\/private\.yaml \(no sample item: manifests exist, manifests\/private\.yaml\)/);
    const other = await bash('mkdir -p other/manifests && printf "vault: Ops\\nitems: {}\\n" > other/manifests/ops.yaml && npx opsync init --dir other --vault Ops', repo, fresh.env);
    expect(other.stderr).toContain('skipped  other/manifests/ops.yaml (no sample item: manifests exist, other/manifests/ops.yaml)');
    expect(readFileSync(join(repo, 'other/manifests/ops.yaml'), 'utf8')).toBe('vault: Ops\nitems: {}\n');

    // 5. Shell completion, as the Install section loads it.
    const completion = await bash(`${completionBlock}\ncomplete -p opsync`, repo, fresh.env);
    expect(completion.code, completion.stderr).toBe(0);
    expect(completion.stdout).toContain('_opsync opsync');

    // 6. CI: the workflow's install step (npm ci, from the committed lockfile and vendor/), then its validate.
    const workflow = readme('examples/ci/opsync.yml');
    const ciInstall = /- run: (npm ci[^\n]*)/.exec(workflow)![1];
    const validate = /run: (npx opsync validate[^\n]*)/.exec(workflow)![1];
    const ci = await bash(`${ciInstall}\n${validate}`, repo, { ...fresh.env, MANIFESTS: 'manifests' });
    expect(ci.code, ci.stderr + ci.stdout).toBe(0);
    expect(ci.stderr + ci.stdout).not.toMatch(/npm warn|install-scripts/i);
    process.stderr.write(
      `newcomer.test: first install ${((installed - t0) / 1000).toFixed(1)} s (pack included), all in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`,
    );
  }, 300_000);
});
