// `opsync init`: scaffold opsync.yaml, a first manifest and .gitignore lines. Never overwrites a file.

import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { parseHost } from '../connect/transport.js';
import { UserError } from '../errors.js';
import { CONFIG_FILE, loadConfig } from '../config/load.js';
import { slug } from '../export/names.js';
import type { IO } from './common.js';

export interface InitFlags {
  /** Project folder (default: the working folder). */
  dir: string;
  /** Vault of the first manifest. */
  vault: string;
  /** Connect URL for opsync.yaml; default "local" (the embedded server). */
  host?: string;
}

const GITIGNORE_LINES = ['.opsync/', '*.opsplan', '*.values.env'];

function configText(host: string): string {
  return `# opsync project settings (schemas/config.schema.json). Flags beat environment variables, which beat
# this file. Paths are relative to it. The Connect token never goes here: set OP_CONNECT_TOKEN.
connect:
  # "local" is the embedded server (its store in .opsync/server); or your Connect URL. OP_CONNECT_HOST beats it.
  host: ${JSON.stringify(host)}
state: .opsync/state.json
manifests: [manifests]
parallelism: 8
# apply refuses a plan that deletes or replaces more than this share of the managed items (and at least
# minItems of them) unless --force.
safety:
  maxDeletePercent: 10
  maxReplacePercent: 10
  minItems: 3
# Per-vault defaults, used where an item says nothing:
# vaults:
#   Production: { protect: true, tags: [production] }
`;
}

function manifestText(vault: string): string {
  return `# A first manifest: \`opsync plan\` shows what apply would do, \`opsync apply\` does it.
# Secret values never go here: use {env: NAME}, {file: path}, {ref: op://...} or generate.
vault: ${JSON.stringify(vault)}
items:
  example-login:
    title: Example login
    category: LOGIN
    tags: [opsync]
    urls: [https://example.com]
    fields:
      username: { purpose: USERNAME, value: admin }
      password: { purpose: PASSWORD, generate: { length: 32 } }
`;
}

export function initCommand(flags: InitFlags, io: IO): number {
  if (flags.vault.includes('/') || flags.vault.trim() === '') throw new UserError(`--vault "${flags.vault}": a vault name or id, without "/"`);
  // opsync.yaml is committed: a host with credentials in it is refused before anything is written.
  if (flags.host && flags.host.trim().toLowerCase() === 'local') flags = { ...flags, host: 'local' };
  if (flags.host && flags.host !== 'local') parseHost(/^https?:\/\//i.test(flags.host) ? flags.host : `http://${flags.host}`);
  try {
    return scaffold(flags, io);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    // A folder that is a file, a file that cannot be written: the user's to fix, so one line, no trace.
    if (e.code && e.path) throw new UserError(`opsync init: cannot create or update ${relative(process.cwd(), e.path) || e.path}: ${e.code}`);
    throw err;
  }
}

function scaffold(flags: InitFlags, io: IO): number {
  const root = resolve(flags.dir);
  mkdirSync(root, { recursive: true });
  const show = (p: string) => relative(process.cwd(), p) || p;
  const create = (path: string, text: string) => {
    if (existsSync(path)) {
      io.err(`kept     ${show(path)} (exists)\n`);
      return;
    }
    mkdirSync(join(path, '..'), { recursive: true });
    writeFileSync(path, text, { flag: 'wx' });
    io.err(`created  ${show(path)}\n`);
  };
  const sample = join(root, 'manifests', `${slug(flags.vault) || 'vault'}.yaml`);
  // Manifests already there (where opsync.yaml says, or in manifests/): a sample item would be a create in
  // the next plan of a real project, so none is added.
  const found = existingManifests(root);
  create(join(root, CONFIG_FILE), configText(flags.host ?? 'local'));
  if (found.length > 0) {
    const more = found.length > 3 ? `, and ${found.length - 3} more` : '';
    io.err(`skipped  ${show(sample)} (no sample item: manifests exist, ${found.slice(0, 3).map(show).join(', ')}${more})\n`);
  } else {
    create(sample, manifestText(flags.vault));
  }

  const gitignore = join(root, '.gitignore');
  const existing = existsSync(gitignore) ? readFileSync(gitignore, 'utf8') : '';
  const have = new Set(existing.split(/\r?\n/).map((l) => l.trim()));
  const missing = GITIGNORE_LINES.filter((l) => !have.has(l));
  if (missing.length) {
    const block = `${existing && !existing.endsWith('\n') ? '\n' : ''}# opsync: state, the embedded server's store, saved plans, secret values files\n${missing.join('\n')}\n`;
    writeFileSync(gitignore, existing + block);
    io.err(`${existing ? 'updated ' : 'created '} ${show(gitignore)} (${missing.join(', ')})\n`);
  } else {
    io.err(`kept     ${show(gitignore)} (has the opsync lines)\n`);
  }
  io.out(`Next: opsync plan, then opsync apply${flags.host && flags.host.trim().toLowerCase() !== 'local' ? '' : ' (against the embedded server; set connect.host or OP_CONNECT_HOST for yours)'}.\n`);
  return 0;
}

/** YAML files where this project's manifests are: opsync.yaml's `manifests` (when it reads), else manifests/. */
function existingManifests(root: string): string[] {
  let places = [join(root, 'manifests')];
  try {
    places = loadConfig({ cwd: root })?.manifests ?? places;
  } catch {
    // An opsync.yaml that does not load: validate and plan say why; init looks in manifests/.
  }
  const found: string[] = [];
  const walk = (path: string, depth: number) => {
    if (found.length >= 100 || depth > 8) return;
    let st;
    try {
      st = statSync(path);
    } catch {
      return;
    }
    if (st.isFile()) {
      if (/\.ya?ml$/i.test(path) && path !== join(root, CONFIG_FILE)) found.push(path);
      return;
    }
    if (!st.isDirectory()) return;
    let names: string[];
    try {
      names = readdirSync(path).sort();
    } catch {
      return;
    }
    for (const name of names) if (!name.startsWith('.')) walk(join(path, name), depth + 1);
  };
  for (const place of places) walk(resolve(root, place), 0);
  return found;
}
