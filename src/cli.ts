// The opsync command line: wiring only. Each command parses its flags and calls into the engine.
import { Command, CommanderError } from 'commander';
import { VERSION } from './version.js';

export async function main(argv: string[]): Promise<number> {
  const program = new Command('opsync').version(VERSION).exitOverride();
  try {
    await program.parseAsync(argv);
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 1;
    throw err;
  }
}
