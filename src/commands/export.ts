// `opsync export`: live items of a vault -> manifests (secrets as {env: NAME}, never values), the variable
// mapping, and optionally state entries so that the exported items are managed at once.
//
// The manifest is first written to a hidden temporary file next to its destination and loaded back exactly
// as plan loads it (with the variables set to the live values): that yields the desired items whose digests
// the state records, and a self-check that plan would find nothing to change. Only then are the manifest and
// the values file (0600) moved into place, both or neither and never over an existing file, and the state
// updated.

import { existsSync, linkSync, mkdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { basename, dirname, join, relative, resolve, sep } from 'node:path';
import type { FullItem } from '../connect/types.js';
import { UserError } from '../errors.js';
import { buildExport, manifestVaultRef, type ExportResult, type ExportVariable } from '../export/manifest.js';
import { slug } from '../export/names.js';
import { formatDiagnostic, loadManifests } from '../manifest/load.js';
import type { VaultDefaults } from '../manifest/types.js';
import { desiredDigest } from '../plan/digest.js';
import { diffItem } from '../plan/diff.js';
import { createResolver } from '../plan/resolve.js';
import { vaultNotFound } from '../plan/unknownVault.js';
import { openConnection, type ConnectionFlags } from '../session.js';
import { openState, type StateTarget } from '../state/open.js';
import type { StateResource } from '../state/types.js';
import { checkBackend, warn, type IO } from './common.js';
import { inline } from '../ui/sanitize.js';
import { writeNewFile } from '../files.js';

export interface ExportFlags extends ConnectionFlags, StateTarget {
  /** Vault name or id. */
  vault: string;
  /** Folder the manifest is written to. */
  out: string;
  /** A Connect item filter, e.g. `title sw "db"` or `tag eq "prod"`. */
  filter?: string;
  /** Write NAME=value lines (real values) to this file, mode 0600. */
  valuesFile?: string;
  /** Write state entries for the exported items. */
  import?: boolean;
  lockTimeoutMs: number;
  /** opsync.yaml's `vaults:` defaults (the manifest then overrides what would change the items). */
  vaultDefaults?: Record<string, VaultDefaults>;
}

const shown = (path: string) => relative(process.cwd(), path) || path;

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/** POSIX shell single quotes: `'` becomes `'\''`; everything else is literal. */
export function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/** A word for a shell command line: as it is when nothing in it is special, else single-quoted. */
const shellArg = (word: string) => (/^[A-Za-z0-9_./@%+=:,-]+$/.test(word) ? word : shellQuote(word));

/** NAME='value' lines that `set -a; . FILE; set +a` loads. */
export function valuesFileText(variables: ExportVariable[]): string {
  const head =
    '# Secret values of the variables `opsync export` named: load with `set -a; . ./THIS_FILE; set +a`.\n' +
    '# It holds secrets: keep it out of git and delete it once the values are where they belong.\n';
  return head + variables.map((v) => `${v.name}=${shellQuote(v.value)}\n`).join('');
}

function fsError(action: string, path: string, err: unknown): UserError {
  return new UserError(`cannot ${action} ${shown(path)}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
}

const exists = (path: string) => `${shown(path)} already exists; export never overwrites a file: move it away or pass another`;

/** Moves `tmp` to `path` unless `path` exists (a hard link is atomic and never replaces anything). */
function publishNew(tmp: string, path: string): void {
  try {
    linkSync(tmp, path);
    return;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') throw new UserError(`${exists(path)} name`);
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EXDEV' && code !== 'ENOSYS') throw fsError('write', path, err);
  }
  // No hard links on this file system: check, then rename.
  if (existsSync(path)) throw new UserError(`${exists(path)} name`);
  renameSync(tmp, path);
}

export async function exportCommand(flags: ExportFlags, io: IO): Promise<number> {
  const outDir = resolve(flags.out);
  const valuesPath = flags.valuesFile !== undefined ? resolve(flags.valuesFile) : undefined;
  const conn = await openConnection(flags, io.env);
  try {
    const { client } = conn;
    const vault = await client.findVault(flags.vault);
    if (!vault) throw new UserError(vaultNotFound(flags.vault, await client.listVaults()));
    const file = join(outDir, `${slug(vault.name) || 'vault'}.yaml`);
    if (existsSync(file)) throw new UserError(`${exists(file)} --out`);
    if (valuesPath === file) throw new UserError(`--values-file ${shown(valuesPath)} is the manifest export writes; the values must go to a file of their own`);
    if (valuesPath !== undefined && /\.ya?ml$/.test(valuesPath) && valuesPath.startsWith(outDir + sep)) {
      throw new UserError(`--values-file ${shown(valuesPath)} would be read as a manifest in ${shown(outDir)}; give it another name or folder`);
    }
    if (valuesPath !== undefined) {
      // Checked before anything is written, so that a values file that cannot be written fails early.
      if (!isDirectory(dirname(valuesPath))) throw new UserError(`--values-file ${shown(valuesPath)}: folder ${shown(dirname(valuesPath))} does not exist`);
      if (isDirectory(valuesPath)) throw new UserError(`--values-file ${shown(valuesPath)} is a folder; name a file`);
      if (existsSync(valuesPath)) throw new UserError(`--values-file ${exists(valuesPath)} file name`);
    }

    const summaries = await client.listItems(vault.id, flags.filter);
    const live: FullItem[] = await Promise.all(summaries.map((s) => client.getItem(vault.id, s.id)));
    const defaults = flags.vaultDefaults?.[manifestVaultRef(vault)];
    const result = buildExport({ vault, items: live, ...(defaults ? { defaults } : {}) });
    for (const w of result.warnings) warn(io, w);

    const store = flags.import ? await openState(flags, { lockTimeoutMs: flags.lockTimeoutMs, command: 'opsync export', env: io.env }) : undefined;
    try {
      if (store) {
        checkBackend(store.state, flags.state, conn.backend);
        const managed = new Map(Object.values(store.state.resources).map((r) => [r.itemId, r.address]));
        const problems: string[] = [];
        for (const e of result.items) {
          const held = store.state.resources[e.address];
          if (held) problems.push(`${e.address} is already in state (item ${held.itemId})`);
          const other = managed.get(e.live.id);
          if (other !== undefined && other !== e.address) problems.push(`item ${e.live.id} ("${e.live.title}") is already managed as ${other}`);
        }
        if (problems.length > 0) {
          throw new UserError(
            `cannot --import: ${problems.join('; ')}. Nothing was written: export those items without --import (or filter them out with --filter), or \`opsync state rm\` their addresses first`,
          );
        }
      }

      try {
        mkdirSync(outDir, { recursive: true });
      } catch (err) {
        throw fsError('create folder', outDir, err);
      }
      const tmp = join(outDir, `.${basename(file)}.${process.pid}.tmp`);
      const vtmp = valuesPath !== undefined ? join(dirname(valuesPath), `.${basename(valuesPath)}.${process.pid}.tmp`) : undefined;
      let entries: StateResource[];
      try {
        const write = (path: string, text: string, mode: number) => {
          try {
            writeNewFile(path, text, mode);
          } catch (err) {
            throw fsError('write', path, err);
          }
        };
        write(tmp, result.text, 0o644);
        entries = await checkRoundTrip(tmp, result, vault, flags, conn, io);
        if (vtmp !== undefined) write(vtmp, valuesFileText(result.variables), 0o600);
        // Both files or neither: the manifest is taken back if the values file cannot be put in place.
        publishNew(tmp, file);
        if (vtmp !== undefined && valuesPath !== undefined) {
          try {
            publishNew(vtmp, valuesPath);
          } catch (err) {
            rmSync(file, { force: true });
            throw err;
          }
        }
      } finally {
        rmSync(tmp, { force: true });
        if (vtmp !== undefined) rmSync(vtmp, { force: true });
      }

      const n = result.items.length;
      const m = result.variables.length;
      for (const v of result.variables) io.out(`${inline(v.name)}\t${inline(v.address)}\tfield ${inline(v.fieldKey)}\n`);
      io.err(`Exported ${n} item(s) from vault ${inline(vault.name)} to ${shown(file)}; ${m} secret value(s) to provide through the environment.\n`);
      io.err(`Fields that 1Password does not conceal (notes included) are written as they are: read ${shown(file)} before you commit it.\n`);
      if (valuesPath !== undefined) {
        const path = shown(valuesPath);
        io.err(
          `Wrote the ${m} secret value(s) to ${path} (mode 0600): it holds secret values, never commit it` +
            `${basename(valuesPath).endsWith('.values.env') ? '' : ' (`opsync init` has git ignore *.values.env; this name is not one)'}. ` +
            `Load it with: set -a; . ${shellArg(path.startsWith('/') ? path : `./${path}`)}; set +a\n`,
        );
      }

      if (store) {
        await store.update((s) => {
          s.connect ??= conn.backend;
          for (const e of entries) {
            delete s.pending[e.address];
            s.resources[e.address] = e;
          }
        });
        io.err(`Recorded ${entries.length} item(s) in state ${shown(flags.state)}: opsync manages them from now on.\n`);
      } else if (n > 0) {
        io.err(
          `The exported items are not managed yet: delete ${shown(file)} and run export again with --import, ` +
            `or run \`opsync import ADDRESS ${inline(vault.name)}/ITEM\` for each (e.g. \`opsync import ${inline(result.items[0].address)} ${inline(vault.name)}/${inline(result.items[0].live.id)}\`).\n`,
        );
      }
      return 0;
    } finally {
      await store?.close();
    }
  } finally {
    await conn.close();
  }
}

/**
 * Loads the written manifest as plan will (the variables set to the live values), checks that plan would
 * find nothing to change (warning with the paths, never values, where it would), and returns the state
 * entries with the digests plan will compute. An entry whose item would still change gets no digest, so
 * that the next plan compares it in full instead of taking it as unchanged.
 */
async function checkRoundTrip(
  tmp: string,
  result: ExportResult,
  vault: { id: string; name: string },
  flags: ExportFlags,
  conn: Awaited<ReturnType<typeof openConnection>>,
  io: IO,
): Promise<StateResource[]> {
  const env: NodeJS.ProcessEnv = { ...io.env };
  for (const v of result.variables) env[v.name] = v.value;
  const { manifest, diagnostics } = loadManifests([tmp], { env, ...(flags.vaultDefaults ? { vaultDefaults: flags.vaultDefaults } : {}) });
  const errors = diagnostics.filter((d) => d.severity === 'error');
  if (errors.length > 0) {
    throw new Error(`internal error: the exported manifest does not load: ${errors.map((d) => formatDiagnostic(d)).join('; ')}`);
  }
  const resolver = createResolver(conn.client, env, () => conn.client.listVaults());
  const now = new Date().toISOString();
  const entries: StateResource[] = [];
  for (const e of result.items) {
    const d = manifest.items.find((i) => i.address === e.address);
    if (!d) throw new Error(`internal error: ${e.address} is missing from the exported manifest`);
    const values = await resolver.values(d);
    const diff = diffItem(d, values, e.live, { rotate: new Set() });
    const clean = diff.changes.length === 0 && !diff.recreate;
    if (!clean) {
      const paths = [...new Set(diff.changes.map((c) => c.path))];
      warn(
        io,
        `${e.address} ("${e.live.title}"): plan would still change ${paths.join(', ')}; ` +
          `the manifest cannot describe the live item exactly there${flags.import ? ' (its state entry makes the next plan compare it in full)' : ''}`,
      );
    }
    entries.push({
      address: e.address,
      vaultId: vault.id,
      vaultName: vault.name,
      itemId: e.live.id,
      title: e.live.title,
      category: e.live.category,
      version: e.live.version,
      digest: clean ? desiredDigest(d, values, conn.key) : '',
      ...(d.protect ? { protect: true } : {}),
      updatedAt: now,
    });
  }
  return entries;
}
