// Variables: their declarations (manifest `variables:` blocks and opsync.yaml's, global to the manifest
// set) and their values. A value is, lowest first: the default, OPSYNC_VAR_<NAME>, the values given (--var-file
// then --var). Raw text (the environment, --var) is converted to the declared type. Problems with a value are
// reported at the declaration, saying where the value came from; messages never show the value itself.

import { isDeepStrictEqual } from 'node:util';
import { parseDocument } from 'yaml';
import type { JsonPath } from '../positions.js';
import { validateDocument } from '../schema.js';
import type { SourcePos } from '../types.js';
import { isObj, type VarValue } from './interpolate.js';
import type { Locate, VariableDecl, VariableInputs, VariableType } from './types.js';

export const VARIABLE_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const TYPES: readonly VariableType[] = ['string', 'number', 'bool', 'list', 'map'];

export interface Declared {
  decl: VariableDecl;
  /** Its declaration has a problem (reported): it has no value, and its uses say nothing more. */
  broken: boolean;
  /** Where the rest of its declaration is (manifest declarations only): a pattern that does not compile. */
  locate?: (path: JsonPath, atKey?: boolean) => SourcePos;
  /** Where its problems go (its document's list, or the list of problems outside any document). */
  sink: (pos: SourcePos, message: string, severity?: 'error' | 'warning') => void;
}

const where = (p: SourcePos) => `${p.file}:${p.line}:${p.col}`;

/** Adds a declaration, or says it is declared twice. */
function declare(out: Map<string, Declared>, name: string, d: Declared): void {
  const first = out.get(name);
  if (first) {
    d.sink(d.decl.pos, `variable ${name} is declared twice (also at ${where(first.decl.pos)}); declare it once`);
    return;
  }
  out.set(name, d);
}

/** opsync.yaml's declarations, as the caller read them: checked as a manifest's are. */
export function declareOutside(out: Map<string, Declared>, declared: Record<string, VariableDecl>, sink: Declared['sink']): void {
  for (const [name, decl] of Object.entries(declared)) {
    let broken = false;
    if (!VARIABLE_NAME.test(name)) {
      sink(decl.pos, `variable "${name}": a variable name is letters, digits and _, not starting with a digit`);
      broken = true;
    } else if (!TYPES.includes(decl.type)) {
      sink(decl.pos, `variable ${name}: type must be one of ${TYPES.join(', ')}`);
      broken = true;
    }
    declare(out, name, { decl, broken, sink });
  }
}

/** A manifest document's `variables:` block: checked against the schema, each declaration at its place. */
export function declareInDocument(out: Map<string, Declared>, block: unknown, locate: Locate, sink: Declared['sink']): void {
  const problems = validateDocument({ variables: block });
  const brokenNames = new Set<string>();
  for (const p of problems) {
    sink(locate(p.path, p.atKey), p.message);
    if (p.path.length >= 2) brokenNames.add(String(p.path[1]));
  }
  if (!isObj(block)) return;
  for (const name of Object.keys(block)) {
    const raw = block[name];
    const at = ['variables', name];
    const body = isObj(raw) ? raw : {};
    const validation = isObj(body.validation) ? body.validation : undefined;
    const decl: VariableDecl = {
      type: body.type as VariableType,
      ...(typeof body.description === 'string' ? { description: body.description } : {}),
      ...(Object.hasOwn(body, 'default') ? { default: body.default, defaultPos: locate([...at, 'default'], false) } : {}),
      ...(validation
        ? {
            validation: {
              ...(Array.isArray(validation.allowed) ? { allowed: validation.allowed } : {}),
              ...(typeof validation.pattern === 'string' ? { pattern: validation.pattern } : {}),
            },
          }
        : {}),
      pos: locate(at),
    };
    declare(out, name, { decl, broken: brokenNames.has(name) || !VARIABLE_NAME.test(name), locate: (p, k) => locate([...at, ...p], k), sink });
  }
}

type Converted = { ok: true; value: unknown } | { ok: false; why: string };

function yamlText(text: string): { value: unknown } | undefined {
  const doc = parseDocument(text, { prettyErrors: false });
  if (doc.errors.length > 0) return undefined;
  try {
    // No aliases: a value on a command line has no use for them, and so no alias bomb either.
    return { value: doc.toJS({ maxAliasCount: 0 }) };
  } catch {
    return undefined;
  }
}

const NUMBER = /^\s*[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?\s*$/;

/** A value as the declared type: typed values as they are, text converted. */
export function convert(value: unknown, type: VariableType): Converted {
  switch (type) {
    case 'string':
      if (typeof value === 'string') return { ok: true, value };
      if ((typeof value === 'number' && Number.isFinite(value)) || typeof value === 'boolean') return { ok: true, value: String(value) };
      return { ok: false, why: 'is not text' };
    case 'number':
      if (typeof value === 'number' && Number.isFinite(value)) return { ok: true, value };
      if (typeof value === 'string' && NUMBER.test(value) && Number.isFinite(Number(value))) return { ok: true, value: Number(value) };
      return { ok: false, why: 'is not a number' };
    case 'bool':
      if (typeof value === 'boolean') return { ok: true, value };
      if (value === 'true' || value === 'false') return { ok: true, value: value === 'true' };
      return { ok: false, why: 'is not true or false' };
    case 'list': {
      const v = typeof value === 'string' ? yamlText(value)?.value : value;
      if (Array.isArray(v)) return { ok: true, value: v };
      return { ok: false, why: typeof value === 'string' ? 'is not a list (as YAML or JSON text: [a, b])' : 'is not a list' };
    }
    case 'map': {
      const v = typeof value === 'string' ? yamlText(value)?.value : value;
      if (isObj(v)) return { ok: true, value: v };
      return { ok: false, why: typeof value === 'string' ? 'is not a map (as YAML or JSON text: {a: 1})' : 'is not a map' };
    }
  }
}

const shownValue = (v: unknown) => (typeof v === 'string' ? v : JSON.stringify(v));

/**
 * Every declared variable's value (or that it has none, or a bad one: reported). Values given for variables
 * nobody declared are warned about: a misspelt --var would otherwise do nothing, silently.
 */
export function resolveVariables(declared: Map<string, Declared>, inputs: VariableInputs, outside: Declared['sink']): Map<string, VarValue> {
  const out = new Map<string, VarValue>();
  for (const [name, d] of declared) {
    if (d.broken) {
      out.set(name, { state: 'broken' });
      continue;
    }
    const { decl } = d;
    const defaultAt = decl.defaultPos ?? decl.pos;
    let bad = false;
    // A default must be of the type, even when a value is given over it (it is the declaration's own mistake).
    if (Object.hasOwn(decl, 'default')) {
      const c = convert(decl.default, decl.type);
      if (!c.ok) {
        d.sink(defaultAt, `variable ${name}: its default ${c.why} (type ${decl.type})`);
        bad = true;
      }
    }
    let pattern: RegExp | undefined;
    if (decl.validation?.pattern !== undefined) {
      const at = d.locate?.(['validation', 'pattern'], false) ?? decl.pos;
      if (decl.type !== 'string') {
        d.sink(at, `variable ${name}: validation.pattern applies to type string only`);
        bad = true;
      } else {
        try {
          pattern = new RegExp(decl.validation.pattern, 'u');
        } catch (err) {
          d.sink(at, `variable ${name}: validation.pattern is not a regular expression (${(err as Error).message.replace(/^Invalid regular expression: /, '')})`);
          bad = true;
        }
      }
    }
    const allowed = decl.validation?.allowed?.map((a) => convert(a, decl.type));
    if (allowed?.some((a) => !a.ok)) {
      d.sink(d.locate?.(['validation', 'allowed'], false) ?? decl.pos, `variable ${name}: every allowed value must be of type ${decl.type}`);
      bad = true;
    }
    if (bad) {
      out.set(name, { state: 'broken' });
      continue;
    }
    let raw: unknown;
    let from: string;
    const envName = `OPSYNC_VAR_${name}`;
    if (Object.hasOwn(inputs.values, name)) {
      raw = inputs.values[name];
      from = inputs.sources?.[name]?.from ?? '--var';
    } else if (inputs.env[envName] !== undefined && inputs.env[envName] !== '') {
      raw = inputs.env[envName];
      from = envName;
    } else if (Object.hasOwn(decl, 'default')) {
      raw = decl.default;
      from = 'default';
    } else {
      out.set(name, { state: 'unset' });
      continue;
    }
    const at = from === 'default' ? defaultAt : decl.pos;
    const what = from === 'default' ? 'its default' : `the value from ${from}`;
    const c = convert(raw, decl.type);
    if (!c.ok) {
      d.sink(at, `variable ${name}: ${what} ${c.why} (type ${decl.type})`);
      out.set(name, { state: 'broken' });
      continue;
    }
    if (allowed && !allowed.some((a) => a.ok && isDeepStrictEqual(a.value, c.value))) {
      const list = allowed.map((a) => shownValue((a as { value: unknown }).value)).join(', ');
      d.sink(at, `variable ${name}: ${what} is not one of the allowed values (${list})`);
      out.set(name, { state: 'broken' });
      continue;
    }
    if (pattern && !pattern.test(c.value as string)) {
      d.sink(at, `variable ${name}: ${what} does not match its pattern ${decl.validation!.pattern}`);
      out.set(name, { state: 'broken' });
      continue;
    }
    out.set(name, { state: 'ok', value: c.value });
  }
  for (const name of Object.keys(inputs.values)) {
    if (declared.has(name)) continue;
    const source = inputs.sources?.[name];
    const from = source?.from ?? '--var';
    outside(source?.pos ?? { file: from, line: 1, col: 1 }, `variable ${name} is given a value (${from}), but no manifest or opsync.yaml declares it: it is not used`, 'warning');
  }
  return out;
}
