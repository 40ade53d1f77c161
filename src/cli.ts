// The opsync command line: wiring only. Each command parses its flags and hands over to src/commands/.

import { Command, CommanderError, Option } from 'commander';
import { StalePlanError } from './apply/execute.js';
import { applyCommand, refreshCommand, type ApplyFlags } from './commands/apply.js';
import { ExitCode, parseDuration, parsePositiveInt, processIO, type IO } from './commands/common.js';
import { readPlanFile } from './plan/planFile.js';
import { parseFormat, planCommand, showCommand, validateCommand, type PlanFlags } from './commands/plan.js';
import { ConnectError } from './connect/errors.js';
import { UserError } from './errors.js';
import { ResolveError } from './plan/resolve.js';
import { registerServerCommand } from './server/command.js';
import { LockError } from './state/lock.js';
import { StateError } from './state/file.js';
import { VERSION } from './version.js';

/** Terraform habits: `-out FILE` and `-out=FILE` mean `--out`. */
function normaliseArgv(argv: string[]): string[] {
  return argv.map((a) => (a === '-out' ? '--out' : a.startsWith('-out=') ? `--${a.slice(1)}` : a));
}

const collect = (value: string, previous: string[]) => [...previous, value];

interface RawFlags {
  state: string;
  connectHost?: string;
  connectToken?: string;
  local?: boolean;
  color: boolean;
  out?: string;
  format?: string;
  detailedExitcode?: boolean;
  target: string[];
  rotate: string[];
  autoApprove?: boolean;
  parallelism: string;
  lockTimeout: string;
}

function withConnection(cmd: Command): Command {
  return cmd
    .option('--connect-host <url>', 'Connect server URL (default: $OP_CONNECT_HOST)')
    .option('--connect-token <token>', 'Connect token (default: $OP_CONNECT_TOKEN)')
    .option('--local', `use the embedded server, its store in .opsync/server`)
    .option('--state <path>', 'state file', '.opsync/state.json')
    .option('--no-color', 'no colour (NO_COLOR is honoured too)')
    .option('--target <address>', 'limit to a resource address or a vault (repeatable)', collect, [])
    .option('--parallelism <n>', 'concurrent requests and operations', '8');
}

function withApply(cmd: Command): Command {
  return cmd
    .option('--auto-approve', 'apply without asking (required when not on a terminal)')
    .option('--lock-timeout <duration>', 'wait this long for the state lock (e.g. 30s)', '0s');
}

function planFlags(raw: RawFlags): PlanFlags {
  return {
    state: raw.state,
    connectHost: raw.connectHost,
    connectToken: raw.connectToken,
    local: raw.local,
    out: raw.out,
    format: parseFormat(raw.format),
    detailedExitcode: raw.detailedExitcode,
    target: raw.target ?? [],
    rotate: raw.rotate ?? [],
    parallelism: parsePositiveInt(raw.parallelism ?? '8', '--parallelism'),
  };
}

function applyFlags(raw: RawFlags): ApplyFlags {
  return {
    ...planFlags(raw),
    parallelism: parsePositiveInt(raw.parallelism ?? '8', '--parallelism'),
    autoApprove: raw.autoApprove,
    lockTimeoutMs: parseDuration(raw.lockTimeout ?? '0s', '--lock-timeout'),
  };
}

export function buildProgram(run: (work: (io: IO) => Promise<number> | number, color?: boolean) => Promise<void>): Command {
  const program = new Command('opsync')
    .description('Secrets as code for 1Password Connect: validate, plan and apply YAML manifests.')
    .version(VERSION)
    .exitOverride()
    .showHelpAfterError('(run with --help for usage)');

  program
    .command('validate')
    .description('check manifests against the schema and for meaning; every problem as file:line:col')
    .argument('[paths...]', 'manifest files or folders')
    .action((paths: string[]) => run((io) => validateCommand(paths, io)));

  withConnection(program.command('plan'))
    .description('show what apply would change, without changing anything')
    .argument('[paths...]', 'manifest files or folders')
    .option('--out <file>', 'save the plan for `opsync apply FILE` (also -out)')
    .addOption(new Option('--format <format>', 'text, json or markdown (default: Ink interface on a terminal, else text)'))
    .option('--detailed-exitcode', 'exit 0 without changes, 2 with changes, 1 on error')
    .option('--rotate <address[:field]>', 'regenerate generated fields of a resource (repeatable)', collect, [])
    .action((paths: string[], raw: RawFlags) => run((io) => planCommand(paths, planFlags(raw), io), raw.color));

  withApply(withConnection(program.command('apply')))
    .description('apply manifests (plan, confirm, execute) or exactly a saved plan file')
    .argument('[paths...]', 'manifest files or folders, or one saved plan file')
    .addOption(new Option('--format <format>', 'print the plan as text, json or markdown instead of the Ink interface'))
    .option('--rotate <address[:field]>', 'regenerate generated fields of a resource (repeatable)', collect, [])
    .action((paths: string[], raw: RawFlags) => run((io) => applyCommand(paths, applyFlags(raw), io), raw.color));

  withApply(withConnection(program.command('destroy')))
    .description('delete every managed item (protected ones refuse), then forget them')
    .argument('[paths...]', 'manifest files or folders (optional: the state lists what is managed)')
    .addOption(new Option('--format <format>', 'text, json or markdown'))
    .action((paths: string[], raw: RawFlags) => run((io) => applyCommand(paths, applyFlags(raw), io, 'destroy'), raw.color));

  withApply(withConnection(program.command('refresh')))
    .description('update state versions from live where live matches the manifests; report drift')
    .argument('[paths...]', 'manifest files or folders')
    .action((paths: string[], raw: RawFlags) => run((io) => refreshCommand(paths, { ...applyFlags(raw), rotate: [] }, io), raw.color));

  program
    .command('show')
    .description('render a saved plan')
    .argument('<planfile>')
    .option('--json', 'the JSON machine format')
    .option('--no-color', 'no colour')
    .action((file: string, raw: { json?: boolean; color: boolean }) => run((io) => showCommand(readPlanFile(file, io.env), Boolean(raw.json), io), raw.color));

  registerServerCommand(program);
  return program;
}

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
    if (err instanceof ExitCode) return err.code;
    if (
      err instanceof UserError ||
      err instanceof ConnectError ||
      err instanceof StateError ||
      err instanceof LockError ||
      err instanceof StalePlanError ||
      err instanceof ResolveError
    ) {
      process.stderr.write(`opsync: error: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
}
