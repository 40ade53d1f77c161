// Pieces every command flow shares: where output goes, loading manifests or failing clearly, plan files.

import isInCi from 'is-in-ci';
import { loadManifests, formatDiagnostic } from '../manifest/load.js';
import { cycleDiagnostics } from '../plan/graph.js';
import type { Diagnostic, Manifest, VaultDefaults } from '../manifest/types.js';
import { UserError } from '../errors.js';
import type { PlanDiagnostic } from '../plan/types.js';
import type { StateFile } from '../state/types.js';
import { githubAnnotations } from '../ui/github.js';
import type { VariableInputs } from '../manifest/expand/index.js';
import { inline, multiline } from '../ui/sanitize.js';
import { readRegularHead } from '../files.js';

export interface IO {
  out(text: string): void;
  err(text: string): void;
  env: NodeJS.ProcessEnv;
  /** stdin and stdout are a terminal, outside CI: Ink interfaces and prompts are allowed. */
  interactive: boolean;
  color: boolean;
  /** Asks on the terminal and returns the line typed (interactive only). */
  ask?(question: string): Promise<string>;
}

/** One line from the terminal: the question on stderr, so that stdout stays the plan. */
async function askTerminal(question: string): Promise<string> {
  const { createInterface } = await import('node:readline/promises');
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return await rl.question(question);
  } catch {
    return ''; // Ctrl-C or Ctrl-D: no answer, so no
  } finally {
    rl.close();
  }
}

export function processIO(noColor: boolean): IO {
  const env = process.env;
  // Ink draws only its last frame under CI (it reads the same is-in-ci), so a terminal there gets text.
  const interactive = Boolean(process.stdout.isTTY && process.stdin.isTTY) && !isInCi;
  return {
    out: (t) => void process.stdout.write(t),
    // Messages carry live and manifest text (titles, keys, addresses); whatever a message forgot to escape,
    // no control character reaches the terminal or a CI log through stderr (colour goes only to stdout).
    err: (t) => void process.stderr.write(multiline(t)),
    env,
    interactive,
    color: interactive && !noColor && !('NO_COLOR' in env && env.NO_COLOR !== ''),
    ...(interactive && process.stderr.isTTY ? { ask: askTerminal } : {}),
  };
}

/**
 * One warning line: the message escaped as plans escape live text (control characters, newlines), so that a
 * title cannot draw on the terminal or start a line of its own, such as a `::warning::` workflow command.
 */
export function warn(io: IO, message: string): void {
  io.err(`warning: ${inline(message)}\n`);
}

/**
 * A plan's diagnostics on stderr, one escaped line each (their messages may quote titles and vault names), led
 * by the manifest position when there is one, as validate's are. A message never repeats its address.
 */
export function printDiagnostics(io: IO, diagnostics: readonly PlanDiagnostic[]): void {
  for (const d of diagnostics) {
    const message = d.address ? `${d.address}: ${d.message}` : d.message;
    io.err(`${d.pos ? formatDiagnostic({ ...d.pos, severity: d.severity, message }) : `${d.severity}: ${inline(message)}`}\n`);
  }
}

/** Exit with this code after the message (if any) has been printed. */
export class ExitCode extends Error {
  constructor(readonly code: number) {
    super(`exit ${code}`);
  }
}

export function requirePaths(paths: string[]): string[] {
  if (paths.length === 0) {
    throw new UserError('no manifest paths given: pass files or folders (e.g. `opsync plan examples/quickstart`), or list them under `manifests:` in opsync.yaml');
  }
  return paths;
}

/** How loadOrFail loads (every option has the default of a plan). */
export interface LoadFlags {
  vaultDefaults?: Record<string, VaultDefaults>;
  /** Check that {env:} variables are set and read {file:} sources (default true). */
  checkEnv?: boolean;
  /** false: {env:} and {file:} sources not looked at at all (validate without --check-sources). Default true. */
  checkSources?: boolean;
  /** ${var.NAME} values (--var, --var-file, OPSYNC_VAR_NAME) and opsync.yaml's declarations. */
  variables?: VariableInputs;
  /** Told of every problem too, with what could be read (--json-stream's diagnostic events, validate's JSON). */
  onDiagnostics?: (diagnostics: readonly Diagnostic[], manifest: Manifest) => void;
}

/** Load and validate manifests; print every problem and stop (exit 1) when any is an error. */
export function loadOrFail(paths: string[], io: IO, opts: LoadFlags = {}): Manifest {
  const { vaultDefaults = {}, checkEnv = true, checkSources = true, onDiagnostics } = opts;
  const loaded = loadManifests(requirePaths(paths), { env: io.env, vaultDefaults, checkEnv, checkSources, ...(opts.variables ? { variables: opts.variables } : {}) });
  const { manifest } = loaded;
  // References between the manifests' items must not go round in a circle (plan checks again, with ids).
  const diagnostics = loaded.diagnostics.some((d) => d.severity === 'error') ? loaded.diagnostics : [...loaded.diagnostics, ...cycleDiagnostics(manifest.items)];
  for (const d of diagnostics) io.err(`${formatDiagnostic(d)}\n`);
  onDiagnostics?.(diagnostics, manifest);
  // On stderr, so that `--format json > plan.json` stays clean; the runner reads workflow commands there too.
  if (io.env.GITHUB_ACTIONS === 'true' && diagnostics.length > 0) io.err(githubAnnotations(diagnostics));
  if (diagnostics.some((d) => d.severity === 'error')) throw new ExitCode(1);
  return manifest;
}

export function checkBackend(state: StateFile, statePath: string, backend: string): void {
  if (state.connect && state.connect !== backend) {
    throw new UserError(
      `state ${statePath} was written against ${state.connect}, not ${backend}; if the server moved, run \`opsync state set-connect ${backend}\`; else keep one state per Connect server (--state PATH, or a backend per server)`,
    );
  }
}

/** A single argument that is a saved plan rather than a manifest. */
export function isPlanFileArg(paths: string[]): boolean {
  if (paths.length !== 1) return false;
  const p = paths[0];
  if (p.endsWith('.opsplan') || p.endsWith('.plan.json')) return true;
  // Only the head of a regular file: a FIFO or a device is a manifest path, refused as one.
  const head = readRegularHead(p, 200)?.toString('utf8');
  return head !== undefined && head.trimStart().startsWith('{') && head.includes('"formatVersion"');
}

export function parseDuration(text: string, flag: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(text.trim());
  if (!m) throw new UserError(`${flag}: "${text}" is not a duration (e.g. 30s, 2m, 500ms)`);
  const n = Number(m[1]);
  return Math.round(m[2] === 'ms' ? n : m[2] === 'm' ? n * 60_000 : n * 1000);
}
