// Variable values from outside the manifests (issue 16): `--var-file FILE` (YAML, in the order given), then
// `--var NAME=VALUE` over them, with where each came from for messages; opsync.yaml's `variables:`
// declarations come with their positions (load.ts). The expansion stage (src/manifest/expand/) converts,
// checks and substitutes them; OPSYNC_VAR_<NAME> is read there, below these.

import { isMap, isPair, isScalar, LineCounter, parseDocument } from 'yaml';
import { UserError } from '../errors.js';
import { FileReadError, LIMITS, readRegularFile } from '../files.js';
import type { VariableDecl, VariableInputs } from '../manifest/expand/index.js';
import { MAX_ALIAS_COUNT } from '../manifest/load.js';

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** The inputs of a run: files first (in order), then flags, each later one over the earlier. */
export function variableInputs(opts: { varFlags: readonly string[]; varFiles: readonly string[]; env: NodeJS.ProcessEnv; declared?: Record<string, VariableDecl> }): VariableInputs {
  const values: Record<string, unknown> = {};
  const sources: NonNullable<VariableInputs['sources']> = {};
  for (const file of opts.varFiles) {
    let text: string;
    try {
      text = readRegularFile(file, { maxBytes: LIMITS.config });
    } catch (err) {
      throw new UserError(`--var-file ${file}: cannot read it: ${err instanceof FileReadError ? err.reason : (err as Error).message}`);
    }
    const lines = new LineCounter();
    const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false });
    const first = doc.errors[0];
    if (first) {
      const { line, col } = lines.linePos(first.pos[0]);
      throw new UserError(`${file}:${line}:${col}: YAML: ${first.message.split('\n')[0]}`);
    }
    if (doc.contents !== null && !isMap(doc.contents)) throw new UserError(`${file}:1:1: a --var-file is a mapping of variable names to values`);
    let data: Record<string, unknown>;
    try {
      data = (doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT }) ?? {}) as Record<string, unknown>;
    } catch {
      throw new UserError(`${file}:1:1: YAML: its aliases expand to more than ${MAX_ALIAS_COUNT} nodes`);
    }
    const at = new Map<string, { line: number; col: number }>();
    if (isMap(doc.contents)) {
      for (const p of doc.contents.items) {
        if (isPair(p) && isScalar(p.key) && p.key.range) at.set(String(p.key.value), lines.linePos(p.key.range[0]));
      }
    }
    for (const [name, value] of Object.entries(data)) {
      const pos = at.get(name) ?? { line: 1, col: 1 };
      if (!NAME.test(name)) throw new UserError(`${file}:${pos.line}:${pos.col}: "${name}" is not a variable name (letters, digits and _, not first a digit)`);
      values[name] = value;
      sources[name] = { from: `--var-file ${file}`, pos: { file, line: pos.line, col: pos.col } };
    }
  }
  for (const flag of opts.varFlags) {
    const eq = flag.indexOf('=');
    const name = eq > 0 ? flag.slice(0, eq) : '';
    // Never what follows "=": it is a value (a secret, maybe), and with no "=" the whole flag may be one.
    if (!NAME.test(name)) throw new UserError(`--var ${eq > 0 ? `"${flag.slice(0, eq)}=…"` : eq === 0 ? 'with no name before "="' : 'without "="'}: write NAME=VALUE with a variable name (letters, digits and _), e.g. --var environment=production`);
    values[name] = flag.slice(eq + 1);
    sources[name] = { from: '--var' };
  }
  return { values, env: opts.env, sources, ...(opts.declared && Object.keys(opts.declared).length ? { declared: opts.declared } : {}) };
}
