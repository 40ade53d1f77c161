// The opsync command line: wiring only. Each command parses its flags and hands over to src/commands/.

import { Argument, Command, CommanderError, Option } from 'commander';
import { applyCommand, refreshCommand, type ApplyFlags } from './commands/apply.js';
import { completionCommand, SHELLS } from './commands/completion.js';
import { ExitCode, loadOrFail, parseDuration, processIO, type IO } from './commands/common.js';
import { exportCommand } from './commands/export.js';
import { renderCommand } from './commands/render.js';
import { rotationsCommand, type RotationsFormat } from './commands/rotations.js';
import { errorMessage } from './commands/machine.js';
import { importCommand } from './commands/import.js';
import { initCommand } from './commands/init.js';
import {
  forceUnlockCommand,
  stateListCommand,
  stateMigrateCommand,
  stateMvCommand,
  statePullCommand,
  statePushCommand,
  stateRmCommand,
  stateSetConnectCommand,
  stateShowCommand,
} from './commands/state.js';
import { backendName, parseBackendFlags, resolveBackend } from './state/config.js';
import type { StateTarget } from './state/open.js';
import { ConfigError } from './config/load.js';
import { manifestPaths, resolveSettings, type CommonFlags, type Settings } from './config/settings.js';
import { readPlanFile } from './plan/planFile.js';
import { parseFormat, planCommand, showCommand, validateCommand, withSplitDir, type PlanFlags } from './commands/plan.js';
import { registerServerCommand } from './server/command.js';
import { parseProgressMode } from './ui/progress.js';
import { inline } from './ui/sanitize.js';
import { VERSION } from './version.js';
import { UserError } from './errors.js';

/** Terraform habits: `-out FILE` and `-out=FILE` mean `--out`; `opsync -v` is `opsync --version`. */
function normaliseArgv(argv: string[]): string[] {
  return argv.map((a, i) => (a === '-out' ? '--out' : a.startsWith('-out=') ? `--${a.slice(1)}` : i === 2 && a === '-v' ? '--version' : a));
}

const collect = (value: string, previous: string[]) => [...previous, value];

/**
 * The environment the other backend of `state migrate` reads its secrets from: OPSYNC_MIGRATE_HTTP_PASSWORD,
 * OPSYNC_MIGRATE_HTTP_USERNAME and OPSYNC_MIGRATE_PG_CONN_STR, and the usual ones only when the configured
 * backend is not of that type (one backend's credentials are never sent to the other).
 */
function migrateEnv(env: NodeJS.ProcessEnv, configured: string | undefined): NodeJS.ProcessEnv {
  const pick = (name: string, type: string) => env[`OPSYNC_MIGRATE_${name}`] ?? (configured === type ? undefined : env[`OPSYNC_${name}`]);
  const out: NodeJS.ProcessEnv = { ...env };
  for (const [name, type] of [['HTTP_PASSWORD', 'http'], ['HTTP_USERNAME', 'http'], ['PG_CONN_STR', 'postgres']] as const) {
    const v = pick(name, type);
    if (v === undefined) delete out[`OPSYNC_${name}`];
    else out[`OPSYNC_${name}`] = v;
  }
  return out;
}

/** Where the state is, as commands take it. */
function stateTarget(settings: Settings): { state: string; backend?: Settings['backend']; erroredPath: string } {
  return { state: settings.state, ...(settings.backend ? { backend: settings.backend } : {}), erroredPath: settings.erroredPath };
}

const BACKEND_CONFIG_HELP = 'a state backend setting KEY=VALUE over opsync.yaml\'s backend: (repeatable), e.g. address=https://opsync.example/state/prod';

const ROTATE_DUE_HELP = 'leave out, for this run, the rotations whose policy (rotate: {every: ...}) is due';

const SPLIT_DIR_HELP = 'also write the Markdown plan as DIR/plan.1.md, plan.2.md, ..., one pull-request comment each (implies --format markdown)';

interface RawFlags extends CommonFlags {
  color: boolean;
  out?: string;
  format?: string;
  detailedExitcode?: boolean;
  target: string[];
  rotate: string[];
  replace?: string[];
  refreshOnly?: boolean;
  /** false: --no-rotate-due. */
  rotateDue?: boolean;
  autoApprove?: boolean;
  force?: boolean;
  lockTimeout: string;
  progress?: string;
  jsonStream?: boolean;
  splitDir?: string;
  maxWritesPerSecond?: string;
}

/** Flags, then environment, then opsync.yaml (`--config` is the program's, so read with the globals). */
function settingsOf(cmd: Command, io: IO): Settings {
  return resolveSettings(cmd.optsWithGlobals<CommonFlags>(), io.env);
}

function withConnection(cmd: Command): Command {
  return cmd
    .option('--connect-host <url>', 'Connect server URL (default: $OP_CONNECT_HOST, then connect.host in opsync.yaml)')
    .option('--connect-token <token>', 'Connect token (default: $OP_CONNECT_TOKEN)')
    .option('--local', 'use the embedded server (its store in .opsync/server beside opsync.yaml)')
    .option('--state <path>', 'state file (default: $OPSYNC_STATE, then opsync.yaml, then .opsync/state.json beside opsync.yaml)')
    .option('--backend-config <key=value>', BACKEND_CONFIG_HELP, collect, []);
}

/** Commands that read manifests: values for their ${var.NAME}. */
function withVariables(cmd: Command): Command {
  return cmd
    .option('--var <name=value>', 'a value for a manifest variable, ${var.NAME} (repeatable; beats --var-file and OPSYNC_VAR_NAME)', collect, [])
    .option('--var-file <file>', 'variable values from a YAML file of NAME: value (repeatable, later files beat earlier ones)', collect, []);
}

function withPlanning(cmd: Command): Command {
  return withVariables(withConnection(cmd))
    .option('--no-color', 'no colour (NO_COLOR is honoured too)')
    .option('--target <address>', 'limit to a resource address or a vault (repeatable)', collect, [])
    .option('--parallelism <n>', 'concurrent requests and operations (default: $OPSYNC_PARALLELISM, then opsync.yaml, then 8)');
}

/** plan, apply, destroy: the run as newline-delimited JSON events on stdout (schemas/events.schema.json). */
function withJsonStream(cmd: Command): Command {
  return cmd.option('--json-stream', 'write newline-delimited JSON events to stdout as the run goes (schemas/events.schema.json)');
}

function withLock(cmd: Command): Command {
  return cmd.option('--lock-timeout <duration>', 'wait this long for the state lock (e.g. 30s)', '0s');
}

function withApply(cmd: Command): Command {
  return withLock(cmd)
    .option('--auto-approve', 'apply without asking (required when not on a terminal)')
    .option(
      '--progress <mode>',
      'text output while applying: auto (a line per operation up to 50, else a progress line every 5s), items, interval or none',
    )
    .option('--max-writes-per-second <n>', 'pace writes to Connect at most N a second for this run, retries included (default: budget.writesPerHour in opsync.yaml, else unpaced)');
}

function planFlags(raw: RawFlags, settings: Settings): PlanFlags {
  return {
    ...settings.connection,
    ...stateTarget(settings),
    safety: settings.safety,
    ...(settings.budget ? { budget: settings.budget } : {}),
    vaultDefaults: settings.vaultDefaults,
    variables: settings.variables,
    out: raw.out,
    format: withSplitDir(parseFormat(raw.format), raw.splitDir),
    splitDir: raw.splitDir,
    detailedExitcode: raw.detailedExitcode,
    target: raw.target ?? [],
    rotate: raw.rotate ?? [],
    replace: raw.replace ?? [],
    ...(raw.refreshOnly ? { refreshOnly: true } : {}),
    ...(raw.rotateDue === false ? { rotateDue: false } : {}),
    jsonStream: raw.jsonStream,
  };
}

function applyFlags(raw: RawFlags, settings: Settings): ApplyFlags {
  return {
    ...planFlags(raw, settings),
    parallelism: settings.parallelism,
    autoApprove: raw.autoApprove,
    force: raw.force,
    lockTimeoutMs: parseDuration(raw.lockTimeout ?? '0s', '--lock-timeout'),
    progress: parseProgressMode(raw.progress),
    ...(raw.maxWritesPerSecond !== undefined ? { maxWritesPerSecond: parseWritesPerSecond(raw.maxWritesPerSecond) } : {}),
  };
}

/** --max-writes-per-second: a positive number (0.5 is one write every 2 s). */
function parseWritesPerSecond(text: string): number {
  const n = Number(text);
  if (text.trim() === '' || !Number.isFinite(n) || n <= 0) {
    throw new UserError(`--max-writes-per-second: "${inline(text)}" must be a number of writes a second above 0, e.g. 5 or 0.5`);
  }
  return n;
}

export function buildProgram(run: (work: (io: IO) => Promise<number> | number, color?: boolean) => Promise<void>): Command {
  const program = new Command('opsync')
    .description('Secrets as code for 1Password Connect: validate, plan and apply YAML manifests.')
    .version(VERSION)
    .option('--config <file>', 'project settings (default: $OPSYNC_CONFIG, then ./opsync.yaml when it exists)')
    .exitOverride();

  program
    .command('init')
    .description('scaffold opsync.yaml, a first manifest and .gitignore lines (never overwrites a file)')
    .option('--dir <dir>', 'project folder', '.')
    .option('--vault <vault>', 'vault of the first manifest', 'Private')
    .option('--connect-host <url>', 'Connect URL to write in opsync.yaml (default: local, the embedded server)')
    .action((raw: { dir: string; vault: string; connectHost?: string }) =>
      run((io) => initCommand({ dir: raw.dir, vault: raw.vault, host: raw.connectHost }, io)),
    );

  withVariables(program.command('render'))
    .description('print the manifests fully expanded (variables, for_each, templates), value sources as written, never values')
    .argument('[paths...]', 'manifest files or folders (default: manifests in opsync.yaml)')
    .addOption(new Option('--format <format>', 'yaml (default) or json').choices(['yaml', 'json']))
    .action((paths: string[], raw: { format?: 'yaml' | 'json' }, cmd: Command) =>
      run((io) => {
        const settings = settingsOf(cmd, io);
        return renderCommand(manifestPaths(paths, settings), raw.format ?? 'yaml', settings.variables, io);
      }),
    );

  withVariables(program.command('validate'))
    .description('check manifests against the schema and for meaning; every problem as file:line:col')
    .argument('[paths...]', 'manifest files or folders (default: manifests in opsync.yaml)')
    .option('--check-sources', 'also check that {env:} variables are set and {file:} sources are readable, as plan does')
    .addOption(new Option('--format <format>', 'text (default: lines on stderr) or json (one document on stdout, schemas/validate-output.schema.json)').choices(['text', 'json']))
    .action((paths: string[], raw: { checkSources?: boolean; format?: 'text' | 'json' }, cmd: Command) =>
      run((io) => {
        const settings = settingsOf(cmd, io);
        return validateCommand(manifestPaths(paths, settings), io, settings.vaultDefaults, raw.checkSources === true, raw.format ?? 'text', settings.variables);
      }),
    );

  withJsonStream(withPlanning(program.command('plan')))
    .description('show what apply would change, without changing anything')
    .argument('[paths...]', 'manifest files or folders (default: manifests in opsync.yaml)')
    .option('--out <file>', 'save the plan for `opsync apply FILE` (also -out)')
    .addOption(new Option('--format <format>', 'text, json or markdown (default: Ink interface on a terminal, else text)'))
    .option('--split-dir <dir>', SPLIT_DIR_HELP)
    .option('--detailed-exitcode', 'exit 0 without changes, 2 with changes, 1 on error')
    .option('--rotate <address[:field]>', 'regenerate generated fields of a resource (repeatable)', collect, [])
    .option('--replace <address>', 'replace a managed resource: create a new item, then delete the old one, carrying values over (repeatable)', collect, [])
    .option('--no-rotate-due', ROTATE_DUE_HELP)
    .option(
      '--refresh-only',
      'report only drift: live items changed outside opsync since the state recorded them (manifest edits not shown, nothing saved or applied); with --detailed-exitcode, 2 on drift',
    )
    .action((paths: string[], raw: RawFlags, cmd: Command) =>
      run((io) => {
        const settings = settingsOf(cmd, io);
        return planCommand(manifestPaths(paths, settings), planFlags(raw, settings), io);
      }, raw.color),
    );

  withJsonStream(withApply(withPlanning(program.command('apply'))))
    .description('apply manifests (plan, confirm, execute) or exactly a saved plan file')
    .argument('[paths...]', 'manifest files or folders (default: manifests in opsync.yaml), or one saved plan file')
    .addOption(new Option('--format <format>', 'text or markdown: the plan in that format instead of the Ink interface; json: one JSON result of the run on stdout (schemas/apply-result.schema.json)'))
    .option('--split-dir <dir>', SPLIT_DIR_HELP)
    .option('--rotate <address[:field]>', 'regenerate generated fields of a resource (repeatable)', collect, [])
    .option('--replace <address>', 'replace a managed resource: create a new item, then delete the old one, carrying values over (repeatable)', collect, [])
    .option('--no-rotate-due', ROTATE_DUE_HELP)
    .option('--force', 'apply even when the plan deletes or replaces more than the safety limits allow')
    .action((paths: string[], raw: RawFlags, cmd: Command) =>
      run((io) => {
        const settings = settingsOf(cmd, io);
        return applyCommand(manifestPaths(paths, settings), applyFlags(raw, settings), io);
      }, raw.color),
    );

  withJsonStream(withApply(withPlanning(program.command('destroy'))))
    .description('delete every managed item (protected ones refuse), then forget them')
    .argument('[paths...]', 'manifest files or folders (optional: the state lists what is managed)')
    .addOption(new Option('--format <format>', 'text or markdown (the plan), or json (one JSON result of the run)'))
    .action((paths: string[], raw: RawFlags, cmd: Command) =>
      run((io) => applyCommand(paths, applyFlags(raw, settingsOf(cmd, io)), io, 'destroy'), raw.color),
    );

  withJsonStream(withLock(withPlanning(program.command('refresh'))))
    .description('update state versions from live where live matches the manifests; report drift')
    .argument('[paths...]', 'manifest files or folders (default: manifests in opsync.yaml)')
    .action((paths: string[], raw: RawFlags, cmd: Command) =>
      run((io) => {
        const settings = settingsOf(cmd, io);
        return refreshCommand(manifestPaths(paths, settings), { ...applyFlags(raw, settings), rotate: [] }, io);
      }, raw.color),
    );

  withVariables(program.command('rotations'))
    .description('every managed generated value with its rotation policy, last generation and next due date (no Connect needed); exit 2 when one is overdue')
    .argument('[paths...]', 'manifest files or folders (default: manifests in opsync.yaml)')
    .option('--within <duration>', 'only values due within this long (e.g. 30d, 2w, 1m), overdue ones included')
    .addOption(new Option('--format <format>', 'text (default), json (schemas/rotations-output.schema.json) or markdown').choices(['text', 'json', 'markdown']))
    .option('--state <path>', 'state file (default: $OPSYNC_STATE, then opsync.yaml, then .opsync/state.json beside opsync.yaml)')
    .option('--backend-config <key=value>', BACKEND_CONFIG_HELP, collect, [])
    .action((paths: string[], raw: { within?: string; format?: RotationsFormat }, cmd: Command) =>
      run((io) => {
        const settings = settingsOf(cmd, io);
        const flags = { ...stateTarget(settings), vaultDefaults: settings.vaultDefaults, variables: settings.variables, within: raw.within, format: raw.format };
        return rotationsCommand(manifestPaths(paths, settings), flags, io);
      }),
    );

  program
    .command('show')
    .description('render a saved plan')
    .argument('<planfile>')
    .option('--json', 'the JSON machine format')
    .option('--no-color', 'no colour')
    .action((file: string, raw: { json?: boolean; color: boolean }) => run((io) => showCommand(readPlanFile(file, io.env), Boolean(raw.json), io), raw.color));

  withVariables(withLock(withConnection(program.command('import'))))
    .description('adopt an existing item into state under ADDRESS, without changing it; the next plan shows the way to the manifest')
    .argument('<address>', 'resource address declared in the manifests, e.g. Production/db-primary')
    .argument('<item>', 'VAULT/ITEM, each by name (exact title) or id')
    .argument('[paths...]', 'manifest files or folders (default: manifests in opsync.yaml)')
    .action((address: string, item: string, paths: string[], raw: RawFlags, cmd: Command) =>
      run((io) => {
        const settings = settingsOf(cmd, io);
        // Import reads no values: the manifests' environment variables need not be set yet.
        const manifest = loadOrFail(manifestPaths(paths, settings), io, { vaultDefaults: settings.vaultDefaults, checkEnv: false, variables: settings.variables });
        const flags = { ...settings.connection, ...stateTarget(settings), lockTimeoutMs: parseDuration(raw.lockTimeout, '--lock-timeout') };
        return importCommand(address, item, manifest, flags, io);
      }),
    );

  withLock(withConnection(program.command('export')))
    .description('write a manifest describing the live items of a vault; secrets become {env: NAME}, never values')
    .requiredOption('--vault <vault>', 'vault name or id')
    .option('--out <dir>', 'folder to write the manifest to', 'manifests')
    .option('--filter <filter>', 'only items matching a Connect filter, e.g. \'title sw "db"\' or \'tag eq "prod"\'')
    .option('--values-file <file>', 'also write NAME=value lines for the secret variables to this file (mode 0600; never commit it)')
    .option('--import', 'record the exported items in state, so that they are managed at once')
    .action((raw: RawFlags & { vault: string; out: string; filter?: string; valuesFile?: string; import?: boolean }, cmd: Command) =>
      run((io) => {
        const settings = settingsOf(cmd, io);
        return exportCommand(
          {
            ...settings.connection,
            ...stateTarget(settings),
            vault: raw.vault,
            out: raw.out,
            filter: raw.filter,
            valuesFile: raw.valuesFile,
            import: raw.import,
            vaultDefaults: settings.vaultDefaults,
            lockTimeoutMs: parseDuration(raw.lockTimeout, '--lock-timeout'),
          },
          io,
        );
      }),
    );

  const state = program
    .command('state')
    .description('list, show, forget, rename, pull, push or migrate the state, whatever its backend (never touches Connect)');
  const stateFlags = (raw: { state?: string; lockTimeout?: string }, cmd: Command, io: IO) => ({
    ...stateTarget(settingsOf(cmd, io)),
    lockTimeoutMs: parseDuration(raw.lockTimeout ?? '0s', '--lock-timeout'),
  });
  const stateOption = '--state <path>';
  const stateHelp = 'state file (default: $OPSYNC_STATE, then opsync.yaml, then .opsync/state.json beside opsync.yaml)';
  /** A state subcommand: --state and --backend-config. */
  const stateCommand = (name: string) => state.command(name).option(stateOption, stateHelp).option('--backend-config <key=value>', BACKEND_CONFIG_HELP, collect, []);
  stateCommand('list')
    .description('every managed address: vault, item id, version')
    .action((raw: { state?: string }, cmd: Command) => run((io) => stateListCommand(stateFlags(raw, cmd, io), io)));
  stateCommand('show')
    .description('what the state records for one address (no secret values: it holds none)')
    .argument('<address>')
    .option('--json', 'as JSON')
    .action((address: string, raw: { state?: string; json?: boolean }, cmd: Command) =>
      run((io) => stateShowCommand(address, Boolean(raw.json), stateFlags(raw, cmd, io), io)),
    );
  withLock(stateCommand('rm'))
    .description('forget addresses without deleting their items')
    .argument('<addresses...>')
    .action((addresses: string[], raw: { state?: string; lockTimeout: string }, cmd: Command) =>
      run((io) => stateRmCommand(addresses, stateFlags(raw, cmd, io), io)),
    );
  withLock(stateCommand('mv'))
    .description('rename an address without touching its item')
    .argument('<from>')
    .argument('<to>')
    .action((from: string, to: string, raw: { state?: string; lockTimeout: string }, cmd: Command) =>
      run((io) => stateMvCommand(from, to, stateFlags(raw, cmd, io), io)),
    );
  stateCommand('pull')
    .description('print the state document (JSON; it holds no secret values)')
    .action((raw: { state?: string }, cmd: Command) => run((io) => statePullCommand(stateFlags(raw, cmd, io), io)));
  withLock(stateCommand('push'))
    .description('replace the stored state with FILE (e.g. opsync.errored.json); refused on another lineage or an older serial')
    .argument('<file>')
    .option('--force', 'replace it whatever its lineage and serial')
    .action((file: string, raw: { state?: string; lockTimeout: string; force?: boolean }, cmd: Command) =>
      run((io) => statePushCommand(file, Boolean(raw.force), stateFlags(raw, cmd, io), io)),
    );
  withLock(stateCommand('migrate'))
    .description('copy the state to another backend (--to KEY=VALUE...) or from one (--from KEY=VALUE...), both locked')
    .option('--to <key=value>', 'the destination backend, as --backend-config takes it, e.g. --to type=http --to address=URL (repeatable)', collect, [])
    .option('--from <key=value>', 'the source backend, when opsync.yaml already names the new one (repeatable)', collect, [])
    .option('--force', 'replace a state the destination holds whatever its lineage and serial')
    .action((raw: { state?: string; lockTimeout: string; force?: boolean; to: string[]; from: string[] }, cmd: Command) =>
      run((io) => {
        if ((raw.to.length > 0) === (raw.from.length > 0)) throw new UserError('state migrate: give the other backend with --to KEY=VALUE... or with --from KEY=VALUE... (one of them)');
        const here: StateTarget = stateFlags(raw, cmd, io);
        const other = parseBackendFlags(raw.to.length ? raw.to : raw.from);
        const secret = other.type === 'http' ? 'HTTP_PASSWORD' : other.type === 'postgres' ? 'PG_CONN_STR' : undefined;
        if (secret && other.type === here.backend?.type && io.env[`OPSYNC_MIGRATE_${secret}`] === undefined && io.env[`OPSYNC_${secret}`] !== undefined) {
          throw new UserError(`state migrate: both backends are ${other.type}; the other one's secret comes from OPSYNC_MIGRATE_${secret} (OPSYNC_${secret} is the configured one's, and is never sent to another)`);
        }
        const cfg = resolveBackend(undefined, other, migrateEnv(io.env, here.backend?.type), process.cwd());
        const there: StateTarget = cfg && cfg.type !== 'local' ? { state: backendName(cfg), backend: cfg } : { state: cfg?.path ?? '' };
        const opts = { force: Boolean(raw.force), lockTimeoutMs: parseDuration(raw.lockTimeout, '--lock-timeout') };
        return raw.to.length ? stateMigrateCommand(here, there, opts, io) : stateMigrateCommand(there, here, { ...opts, toConfigured: true }, io);
      }),
    );
  withLock(stateCommand('set-connect'))
    .description('re-point the state at a Connect server that moved (its items are matched by id, as before); the next plan says so')
    .argument('<url>', 'the Connect server URL, or local')
    .action((url: string, raw: { state?: string; lockTimeout: string }, cmd: Command) =>
      run((io) => stateSetConnectCommand(url, stateFlags(raw, cmd, io), io)),
    );

  program
    .command('force-unlock')
    .description('release the state lock of a run that is gone, by the lock id its error named (asks unless --auto-approve)')
    .argument('<lock-id>')
    .option(stateOption, stateHelp)
    .option('--backend-config <key=value>', BACKEND_CONFIG_HELP, collect, [])
    .option('--auto-approve', 'unlock without asking')
    .action((id: string, raw: { state?: string; autoApprove?: boolean }, cmd: Command) =>
      run((io) => forceUnlockCommand(id, Boolean(raw.autoApprove), stateFlags(raw, cmd, io), io)),
    );

  registerServerCommand(program);

  program
    .command('version')
    .description('print the version (also -v, -V, --version)')
    .option('--json', 'as JSON: {"version": "..."}')
    .action((raw: { json?: boolean }) => run((io) => (io.out(raw.json ? `${JSON.stringify({ version: VERSION })}\n` : `${VERSION}\n`), 0)));

  program
    .command('completion')
    .description(`print a shell completion script: source <(opsync completion bash), or zsh, fish`)
    .addArgument(new Argument('<shell>', 'the shell').choices(SHELLS))
    .action((shell: string) => run((io) => completionCommand(program, shell, io)));
  oneLineErrors(program, 'opsync');
  return program;
}

/**
 * Commander's usage mistakes as opsync's other mistakes: one line on stderr, with its suggestion and where the
 * usage is, e.g. `opsync: error: unknown option '--frmat'; did you mean --format? (see \`opsync plan --help\`)`.
 */
function oneLineErrors(cmd: Command, path: string): void {
  cmd.configureOutput({
    outputError: (text, write) => {
      const line = text.trim().replace(/\s*\n\(Did you mean (.*)\?\)/, '; did you mean $1?').replace(/\s*\n\s*/g, ' ');
      write(`opsync: ${inline(line)} (see \`${path} --help\`)\n`);
    },
  });
  for (const sub of cmd.commands) oneLineErrors(sub, `${path} ${sub.name()}`);
}

const FS_REASONS: Record<string, string> = {
  ENOENT: 'no such file or folder',
  ENOTDIR: 'a part of the path is a file, not a folder',
  EEXIST: 'a file is in the way',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  EROFS: 'read-only file system',
  ENOSPC: 'no space left on the device',
  EISDIR: 'is a folder',
};

/** Run the CLI; resolves to the exit code. User mistakes print one line, never a stack. */
export async function main(argv: string[]): Promise<number> {
  let code = 0;
  const run = async (work: (io: IO) => Promise<number> | number, color = true) => {
    code = await work(processIO(!color));
  };
  const program = buildProgram(run);
  try {
    await program.parseAsync(normaliseArgv(argv));
    return code;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 1;
    // Messages carry user and live text (paths, keys, titles): each line is escaped as plans escape values.
    if (err instanceof ConfigError) {
      for (const line of err.lines) process.stderr.write(`${inline(line)}\n`); // already file:line:col: error: ... lines
      return 1;
    }
    if (err instanceof ExitCode) return err.code;
    const message = errorMessage(err);
    if (message !== undefined) {
      process.stderr.write(`opsync: error: ${inline(message)}\n`);
      return 1;
    }
    // The file system refused something opsync was asked to do there (a state folder that is a file, a
    // folder that cannot be written): the user's to fix, so one line, not an internal error with a trace.
    const sys = err as NodeJS.ErrnoException;
    if (sys instanceof Error && typeof sys.code === 'string' && typeof sys.syscall === 'string' && typeof sys.path === 'string') {
      process.stderr.write(`opsync: error: cannot ${sys.syscall} ${inline(sys.path)}: ${FS_REASONS[sys.code] ?? sys.code}\n`);
      return 1;
    }
    throw err;
  }
}
