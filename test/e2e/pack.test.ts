// The package as users get it: `npm pack` in a copy of the sources (prepack builds dist/ there, not in this
// checkout), then the README's global install of that tarball into a temporary prefix, and the installed
// `opsync` run from an empty folder outside the repository. npm takes the dependencies from its cache
// (prefer-offline) and better-sqlite3's install script finds its binary among local prebuilds made from
// this checkout's build, so nothing is compiled or fetched but registry metadata. Strict allowScripts
// makes an install script npm was not told about an error, as a coming npm refuses it.

import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { bash, localPrebuilds, shBlocks, userEnv } from '../support/install.js';
import { REPO } from './cli.js';

const VERSION = (JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { version: string }).version;
const TARBALL = `opsync-${VERSION}.tgz`;

describe('the package', () => {
  it('packs dist/ and schemas/ at prepack, installs globally without TypeScript or warnings, and runs from an empty folder', async () => {
    const t0 = Date.now();
    const work = mkdtempSync(join(tmpdir(), 'opsync-pack-'));
    const empty = mkdtempSync(join(tmpdir(), 'opsync-user-'));
    onTestFinished(() => {
      for (const d of [work, empty]) rmSync(d, { recursive: true, force: true });
    });
    await localPrebuilds(work);
    const readme = readFileSync(join(REPO, 'README.md'), 'utf8');
    const [packBlock, globalBlock] = shBlocks(readme, '## Install');

    // A copy of what a clone has (node_modules as `npm ci` left it): prepack builds dist/ in the copy.
    const clone = join(work, 'clone');
    mkdirSync(clone);
    for (const f of ['package.json', 'package-lock.json', 'README.md', 'bin', 'src', 'schemas', 'tsconfig.json', 'tsconfig.build.json']) {
      cpSync(join(REPO, f), join(clone, f), { recursive: true });
    }
    symlinkSync(join(REPO, 'node_modules'), join(clone, 'node_modules'), 'dir');
    expect(packBlock).toMatch(/^npm ci && npm pack\b/);
    const pack = await bash('npm pack', clone, userEnv()); // `npm ci` is what CI did for node_modules
    expect(pack.code, pack.stderr).toBe(0);
    expect(pack.stderr).not.toMatch(/npm warn/i);
    const list = await bash(`tar tzf ${TARBALL}`, clone, process.env);
    const files = list.stdout.split('\n').filter(Boolean);
    for (const f of ['package/package.json', 'package/README.md', 'package/bin/opsync.js', 'package/dist/cli.js', 'package/dist/server/index.js']) {
      expect(files).toContain(f);
    }
    for (const s of ['config', 'connect-api', 'manifest', 'plan-file', 'plan-output']) expect(files).toContain(`package/schemas/${s}.schema.json`);
    expect(files.filter((f) => /\.(ts|tsx|map)$/.test(f) || /^package\/(src|test|node_modules)\//.test(f))).toEqual([]);
    const packed = JSON.parse((await bash(`tar xzOf ${TARBALL} package/package.json`, clone, process.env)).stdout) as { scripts: Record<string, string> };
    expect(Object.keys(packed.scripts)).not.toContain('prepare'); // npm would list it as an unapproved install script

    // The README's global install, into a temporary prefix (npm_config_prefix), of the packed file.
    const prefix = join(work, 'prefix');
    mkdirSync(join(prefix, 'lib'), { recursive: true }); // npm -g wants the prefix's lib/ to exist
    const install = await bash(globalBlock.split('\n')[0], clone, userEnv({ npm_config_prefix: prefix }));
    expect(install.code, install.stderr + install.stdout).toBe(0);
    expect(install.stderr + install.stdout).not.toMatch(/npm warn|install-scripts/i);
    const installed = join(prefix, 'lib/node_modules/opsync');
    expect(existsSync(join(installed, 'dist/cli.js'))).toBe(true);
    expect(existsSync(join(installed, 'node_modules/typescript'))).toBe(false);
    expect(existsSync(join(installed, 'node_modules/better-sqlite3/build/Release/better_sqlite3.node'))).toBe(true);
    const installSeconds = (Date.now() - t0) / 1000;

    // The installed opsync, on PATH, in an empty folder outside the repository.
    const env = userEnv({ PATH: `${join(prefix, 'bin')}:${process.env.PATH}` });
    const run = (cmd: string) => bash(cmd, empty, env);
    expect(globalBlock.split('\n')[1]).toBe('opsync --version');
    for (const cmd of ['opsync --version', 'opsync -v', 'opsync version', 'opsync -V']) {
      const r = await run(cmd);
      expect(r, cmd).toMatchObject({ code: 0, stdout: `${VERSION}\n` });
    }
    const init = await run('opsync init');
    expect(init.code, init.stderr).toBe(0);
    expect(init.stderr).toContain('created  manifests/private.yaml');
    const apply = await run('opsync apply --local --auto-approve');
    expect(apply.code, apply.stderr).toBe(0);
    expect(apply.stdout).toMatch(/1 created/);
    const plan = await run('opsync plan --local --detailed-exitcode');
    expect(plan.code, plan.stdout + plan.stderr).toBe(0);

    // Completion scripts load, and bash completes commands and options from them.
    const completion = await run(
      [
        'source <(opsync completion bash)',
        'complete -p opsync',
        'COMP_WORDS=(opsync st); COMP_CWORD=1; _opsync; echo "1: ${COMPREPLY[*]}"',
        'COMP_WORDS=(opsync state r); COMP_CWORD=2; _opsync; echo "2: ${COMPREPLY[*]}"',
        'COMP_WORDS=(opsync plan --det); COMP_CWORD=2; _opsync; echo "3: ${COMPREPLY[*]}"',
        'COMP_WORDS=(opsync server token create --v); COMP_CWORD=4; _opsync; echo "4: ${COMPREPLY[*]}"',
      ].join('\n'),
    );
    expect(completion.code, completion.stderr).toBe(0);
    expect(completion.stdout).toContain('complete -o default -F _opsync opsync');
    expect(completion.stdout).toContain('1: state');
    expect(completion.stdout).toContain('2: rm');
    expect(completion.stdout).toContain('3: --detailed-exitcode');
    expect(completion.stdout).toContain('4: --vault');
    expect((await run('opsync completion zsh')).stdout).toMatch(/^#compdef opsync\n[\s\S]*'completion:print a shell completion script/);
    const fish = await run('opsync completion fish');
    expect(fish.stdout).toContain("complete -c opsync -n 'test (__opsync_path) = \\'state\\'' -a 'rm'");
    expect((await run('opsync completion tcsh')).code).toBe(1);

    // npm ci in this repository runs no install script it was not told about.
    const scripts = await bash('npm install-scripts ls', REPO, userEnv());
    expect(scripts.stdout).toContain('No packages with unreviewed install scripts');
    process.stderr.write(`pack.test: packed and installed in ${installSeconds.toFixed(1)} s, all in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
  }, 300_000);
});
