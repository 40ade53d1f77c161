// What the package tests share (test/e2e/pack.test.ts, test/e2e/newcomer.test.ts): running shell scripts as a
// user would, a user's environment, local prebuilds of the native dependency, and the ```sh blocks of a README.

import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cliEnv, REPO } from '../e2e/cli.js';

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a script with bash (set -e, pipefail); on exit, stops what it left in the background. */
export function bash(script: string, cwd: string, env: NodeJS.ProcessEnv): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-c', `set -eo pipefail\ntrap 'kill $(jobs -p) 2>/dev/null || true' EXIT\n${script}`], {
      cwd,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

/**
 * The environment of a user's shell: none of this test run's npm, Connect, opsync or GitHub settings (nor any
 * variable matching `drop`), npm offline-first and strict about install scripts, plus `extra`.
 */
export function userEnv(extra: Record<string, string> = {}, drop?: RegExp): NodeJS.ProcessEnv {
  // The CLI tests' environment (no Connect, opsync or GitHub settings, no colour), less this npm run's own.
  const env = cliEnv();
  for (const k of Object.keys(env)) if (/^npm_/i.test(k) || drop?.test(k) || k === 'INIT_CWD') delete env[k];
  return {
    ...env,
    npm_config_prefer_offline: 'true',
    npm_config_strict_allow_scripts: 'true',
    npm_config_fund: 'false',
    npm_config_audit: 'false',
    npm_config_update_notifier: 'false',
    ...extra,
  };
}

/**
 * A prebuilt better-sqlite3 binary, as prebuild-install names it, from this checkout's node_modules, in
 * `root`/`folder`; and `root`/.prebuild-installrc pointing prebuild-install at it for every install below
 * `root` (rc reads that file in the install's folder and each one above it; an environment variable would
 * not do: npm runs the script through sh, which drops prebuild-install_* names).
 */
export async function localPrebuilds(root: string, folder = 'prebuilds'): Promise<string> {
  const dir = join(root, folder);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(root, '.prebuild-installrc'), `local-prebuilds=${dir}\n`);
  const pkg = join(REPO, 'node_modules/better-sqlite3');
  const version = (JSON.parse(readFileSync(join(pkg, 'package.json'), 'utf8')) as { version: string }).version;
  const name = `better-sqlite3-v${version}-node-v${process.versions.modules}-${process.platform}-${process.arch}.tar.gz`;
  const r = await bash(`tar czf ${JSON.stringify(join(dir, name))} build/Release/better_sqlite3.node`, pkg, process.env);
  if (r.code !== 0) throw new Error(r.stderr);
  return dir;
}

/** The ```sh blocks of a Markdown section (from its heading to the next heading of its level or above). */
export function shBlocks(markdown: string, heading: string): string[] {
  const lines = markdown.split('\n');
  const start = lines.findIndex((l) => l === heading);
  if (start < 0) throw new Error(`no heading ${heading}`);
  const level = heading.indexOf(' ');
  const blocks: string[] = [];
  let cur: string[] | undefined;
  for (const line of lines.slice(start + 1)) {
    if (!cur && /^#+ /.test(line) && line.indexOf(' ') <= level) break;
    if (!cur && line === '```sh') cur = [];
    else if (cur && line === '```') {
      blocks.push(cur.join('\n'));
      cur = undefined;
    } else if (cur) cur.push(line);
  }
  return blocks;
}
