// Manifests -> desired items: read files and folders, parse YAML with positions, validate against the
// schema, then check meaning across every document. All problems are reported at once.

import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { isAlias, isMap, isPair, isScalar, isSeq, LineCounter, parseAllDocuments, visit, type Alias, type Document, type Node } from 'yaml';
import { isSecretField, type FieldType, type GeneratorRecipe, type ItemCategory } from '../connect/types.js';
import { positionIn, positionOf, type JsonPath } from './positions.js';
import { flowNode, quickParse } from './quickYaml.js';
import { validateDocument } from './schema.js';
import type { DesiredField, DesiredItem, DesiredSection, Diagnostic, LoadResult, Manifest, RotationPolicy, SourcePos, ValueSource, VaultDefaults } from './types.js';
import { expandManifests, where } from './expand/expand.js';
import type { Locate, ReadDoc, ReadFile, VariableInputs } from './expand/types.js';
import { categoryProblem, fieldProblem, purposeProblems } from './connectRules.js';
import { parseRef, checkFileSource } from './values.js';
import { FileReadError, LIMITS, readRegularFile } from '../files.js';
import { inline } from '../ui/sanitize.js';

export interface LoadOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /**
   * Check that {env: NAME} variables are set and read {file:} sources as plan reads them (default true);
   * false: variables are not looked at and files only looked at (import and saved plans need no values).
   */
  checkEnv?: boolean;
  /**
   * false: {env:} and {file:} sources are not looked at at all, whatever checkEnv says (`validate` without
   * --check-sources: schema and meaning only, no secrets needed). Default true.
   */
  checkSources?: boolean;
  /** opsync.yaml's `vaults:` defaults, by the vault as manifests write it. */
  vaultDefaults?: Record<string, VaultDefaults>;
  /**
   * Values and outside declarations for the manifests' variables (src/manifest/expand). Default: no values
   * given, OPSYNC_VAR_<NAME> read from `env`.
   */
  variables?: VariableInputs;
}

/**
 * One line per diagnostic. File names and messages carry manifest text (keys, titles, paths): control
 * characters and newlines in them are escaped here, where every diagnostic is printed, so that no key can
 * move the cursor, colour the terminal or start a line of its own (a `::warning::` workflow command in CI).
 */
export function formatDiagnostic(d: Diagnostic, cwd = process.cwd()): string {
  const rel = d.file.startsWith('/') ? relative(cwd, d.file) : '';
  const file = rel && !rel.startsWith('..') ? rel : d.file;
  // An expansion's instance after the position: `m.yaml:12:7 (for_each "production"): error: ...`.
  const instance = d.instance === undefined ? '' : ` (${inline(d.instance)})`;
  return `${inline(file)}:${d.line}:${d.col}${instance}: ${d.severity}: ${inline(d.message)}`;
}

/** Alias expansions allowed per document (the yaml library's default, made explicit): stops alias bombs. */
export const MAX_ALIAS_COUNT = 100;

/**
 * The document as plain data, or a problem where it is: an alias without an anchor before it, too many alias
 * expansions (a "billion laughs" document), or nesting too deep to convert.
 */
function toData(doc: Document, lines: LineCounter, file: string): { data: unknown } | { problem: Diagnostic } {
  try {
    return { data: doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT }) };
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    const aliases: Alias[] = [];
    try {
      visit(doc, {
        Alias: (_key, node) => {
          aliases.push(node);
        },
      });
    } catch {
      /* a document too deep to walk: reported at its start */
    }
    const unresolved = /^Unresolved alias[^:]*: (.*)$/.exec(message);
    let at: Node | undefined;
    let what: string;
    if (unresolved) {
      at = aliases.find((a) => isAlias(a) && a.source === unresolved[1] && !safeResolve(a, doc)) ?? aliases[0];
      what = `alias *${unresolved[1]} has no anchor &${unresolved[1]} before it`;
    } else if (/^Merge sources/.test(message)) {
      at = mergeKeyOf(doc);
      what = 'a merge key (<<) takes a mapping, an alias of one, or a list of them';
    } else if (/alias/i.test(message)) {
      at = aliases[0];
      what = `aliases expand to more than ${MAX_ALIAS_COUNT} nodes; write the values out instead`;
    } else if (err instanceof RangeError) {
      what = 'the document is nested too deeply';
    } else {
      what = message.split('\n')[0];
    }
    const { line, col } = lines.linePos(at?.range?.[0] ?? doc.range?.[0] ?? 0);
    return { problem: { file, line, col, severity: 'error', message: `YAML: ${what}` } };
  }
}

/** The first merge key (<<) whose value is not a mapping or an alias of one, or of a list of them. */
function mergeKeyOf(doc: Document): Node | undefined {
  let found: Node | undefined;
  const isMergeSource = (v: unknown): boolean => isMap(v) || (isAlias(v) && isMap(safeResolve(v, doc)));
  try {
    visit(doc, {
      Pair: (_key, pair) => {
        if (!isScalar(pair.key) || typeof pair.key.value !== 'symbol') return undefined;
        const v = pair.value;
        const ok = isSeq(v) ? v.items.every(isMergeSource) : isMergeSource(v);
        if (ok) return undefined;
        found = pair.key as Node;
        return visit.BREAK;
      },
    });
  } catch {
    /* too deep to walk: reported at the document's start */
  }
  return found;
}

/**
 * Whether any mapping of the document repeats a key, as the yaml library compares keys (scalars by value).
 * The library's own check looks at every earlier key of the map for each key, quadratic in a map's size
 * (10,000 items in one document: 50 million comparisons); this is one pass with a Set per map. Iterative,
 * so that a deeply nested document cannot overflow the stack here.
 */
const NO_KEY = Symbol('no key');

function hasDuplicateKeys(doc: Document): boolean {
  const stack: unknown[] = [doc.contents];
  while (stack.length > 0) {
    const node = stack.pop();
    if (isMap(node)) {
      const seen = new Set<unknown>();
      for (const pair of node.items) {
        // Other keys (collections, aliases) equal only themselves; an empty key is one key of its own.
        const key = isScalar(pair.key) ? pair.key.value : pair.key === null || pair.key === undefined ? NO_KEY : undefined;
        if (key !== undefined || isScalar(pair.key)) {
          if (seen.has(key)) return true;
          seen.add(key);
        }
        stack.push(pair.key, pair.value);
      }
    } else if (isSeq(node)) {
      for (const item of node.items) stack.push(item);
    } else if (isPair(node)) stack.push(node.key, node.value);
  }
  return false;
}

/**
 * Runs `fn` with process.env a plain copy of itself. The yaml library's parser reads process.env.LOG_TOKENS
 * (a debugging hook) once per token, and process.env is slow to read (each read calls into the C++
 * environment): a third of parsing time, a million reads for 10,000 items. Parsing is synchronous, so no
 * other code runs while the copy is in place; it is always put back.
 */
function withPlainEnv<T>(fn: () => T): T {
  const real = process.env;
  process.env = { ...real };
  try {
    return fn();
  } finally {
    process.env = real;
  }
}

/**
 * Every document of a file, with the yaml library's errors. Parsed without the library's quadratic
 * duplicate-key check; a file that does repeat a key (found in one linear pass) is parsed again with it, so
 * that its errors, their order and their positions are exactly the library's.
 */
function parseFile(text: string): { docs: Document.Parsed[]; lines: LineCounter } {
  let lines = new LineCounter();
  const parse = (uniqueKeys: boolean) => {
    // merge: `<<: *defaults` merge keys (YAML 1.1's, widely used to share a block); the quick reader leaves them here.
    const parsed = withPlainEnv(() => parseAllDocuments(text, { lineCounter: lines, prettyErrors: false, uniqueKeys, merge: true })) as Document.Parsed[] | Document.Parsed;
    return Array.isArray(parsed) ? parsed : [parsed];
  };
  let docs = parse(false);
  // A document with other errors is parsed again too: the library reports those and its duplicates in order.
  if (docs.some((d) => d.errors.length > 0 || hasDuplicateKeys(d))) {
    lines = new LineCounter();
    docs = parse(true);
  }
  return { docs, lines };
}

function safeResolve(a: Alias, doc: Document): unknown {
  try {
    return a.resolve(doc);
  } catch {
    return undefined;
  }
}

function listFiles(path: string, out: string[]): void {
  for (const entry of readdirSync(path, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    if (entry.name.startsWith('.') || entry.name === 'node_modules') continue;
    const full = join(path, entry.name);
    if (entry.isDirectory()) listFiles(full, out);
    else if (/\.ya?ml$/.test(entry.name)) out.push(full);
  }
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Shorthands become their long form before validation: `host: db` is `{value: db}`, `generate: true` is `{}`. */
function normalise(doc: Obj): void {
  if (doc.items === null) doc.items = {};
  if (!isObj(doc.items)) return;
  for (const item of Object.values(doc.items)) {
    if (!isObj(item)) continue;
    if (item.fields === null) item.fields = {};
    if (Array.isArray(item.urls)) item.urls = item.urls.map((u) => (typeof u === 'string' ? { href: u } : u));
    if (!isObj(item.fields)) continue;
    for (const [k, f] of Object.entries(item.fields)) {
      if (f === null) item.fields[k] = {};
      else if (typeof f === 'string' || typeof f === 'number' || typeof f === 'boolean') item.fields[k] = { value: String(f) };
      else if (isObj(f)) {
        if (typeof f.value === 'number' || typeof f.value === 'boolean') f.value = String(f.value);
        if (f.generate === true) f.generate = {};
        if (f.generate === false) delete f.generate;
      }
    }
  }
}

/**
 * Every document of a file. Plain manifests (nearly all) are read by the quick reader, about 10x faster
 * than the yaml library with the same data and positions; anything it does not take (see quickYaml.ts),
 * and every file with a YAML problem, is read by the library, whose errors are reported.
 */
function readDocuments(text: string, file: string): ReadDoc[] {
  const quick = quickParse(text);
  if (quick) {
    const expand = (at: number) => flowNode(text, at);
    return quick.docs.map((d) => ({ data: d.data, locate: (path, atKey = true) => positionIn(d.root, quick.lines, file, path, atKey, expand) }));
  }
  const { docs, lines } = parseFile(text);
  return docs.map((doc): ReadDoc => {
    if (doc.errors.length > 0) {
      return {
        problems: doc.errors.map((e) => {
          const { line, col } = lines.linePos(e.pos[0]);
          return { file, line, col, severity: 'error', message: `YAML: ${e.message.split('\n')[0]}` };
        }),
      };
    }
    const converted = toData(doc, lines, file);
    if ('problem' in converted) return { problems: [converted.problem] };
    return { data: converted.data, locate: (path, atKey = true) => positionOf(doc, lines, file, path, atKey) };
  });
}

interface ParsedDoc {
  file: string;
  locate: Locate;
  data: Obj;
  cwd: string;
  /** Paths with schema problems: what is under them is not built. */
  invalid: JsonPath[];
}

const pathKey = (path: JsonPath) => JSON.stringify(path.map(String));

/** Every prefix of every invalid path, so that "is anything under this path invalid?" is one lookup. */
function invalidPrefixes(invalid: JsonPath[]): Set<string> {
  const out = new Set<string>();
  for (const p of invalid) for (let i = 0; i <= p.length; i++) out.add(pathKey(p.slice(0, i)));
  return out;
}

/** A manifest file as read: its absolute path beside the name positions use. */
export interface ManifestFile extends ReadFile {
  absolute: string;
}

/** Strings in this text may hold `${` (written, or escaped in a double-quoted scalar as \x24 or \u0024). */
// A `${` may also be written with an escape (\x24, \u0024) or split by an escaped line break ("$\<newline>{").
const mayInterpolate = (text: string) => text.includes('${') || /\\(x|u00|U000000)24/.test(text) || /\$\\\r?\n/.test(text);

/**
 * The files that `paths` name (folders: their .yaml and .yml files, sorted, hidden ones skipped), each with its
 * documents as read. A path that names nothing, a folder without manifests, and a file that cannot be read
 * or parsed at all are problems: the first two in `diagnostics`, the last as its file's only document.
 */
export function readManifestFiles(paths: string[], cwd: string): { files: ManifestFile[]; diagnostics: Diagnostic[] } {
  const diagnostics: Diagnostic[] = [];
  const problem = (file: string, message: string): Diagnostic => ({ file, line: 1, col: 1, severity: 'error', message });
  const found: string[] = [];
  for (const p of paths) {
    const full = resolve(cwd, p);
    if (!existsSync(full)) {
      diagnostics.push(problem(p, 'no such file or folder'));
      continue;
    }
    if (statSync(full).isDirectory()) {
      const inFolder: string[] = [];
      try {
        listFiles(full, inFolder);
      } catch (err) {
        diagnostics.push(problem(p, `cannot list folder: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`));
        continue;
      }
      if (inFolder.length === 0) diagnostics.push(problem(p, 'no .yaml or .yml manifests in this folder'));
      found.push(...inFolder);
    } else found.push(full);
  }
  const files: ManifestFile[] = [];
  for (const absolute of [...new Set(found)]) {
    // Positions name the file as the user would: relative to the working folder.
    const rel = relative(cwd, absolute);
    const file = rel && !rel.startsWith('..') ? rel : absolute;
    let text: string;
    try {
      text = readRegularFile(absolute, { maxBytes: LIMITS.manifest });
    } catch (err) {
      files.push({ absolute, file, docs: [{ problems: [problem(file, `cannot read: ${err instanceof FileReadError ? err.reason : (err as Error).message}`)] }] });
      continue;
    }
    try {
      files.push({ absolute, file, docs: readDocuments(text, file), mayInterpolate: mayInterpolate(text) });
    } catch (err) {
      files.push({ absolute, file, docs: [{ problems: [problem(file, `YAML: ${err instanceof RangeError ? 'the document is nested too deeply' : (err as Error).message.split('\n')[0]}`)] }] });
    }
  }
  return { files, diagnostics };
}

export function loadManifests(paths: string[], opts: LoadOptions = {}): LoadResult {
  const env = opts.env ?? process.env;
  const cwd = opts.cwd ?? process.cwd();
  const read = readManifestFiles(paths, cwd);
  const diagnostics: Diagnostic[] = read.diagnostics;
  const error = (pos: SourcePos, message: string) => diagnostics.push({ ...pos, severity: 'error', message });
  const manifest: Manifest = { files: read.files.map((f) => f.absolute), items: [], moved: [], removed: [] };

  // Variables, templates and for_each: documents that use none of them come back as they are.
  const expanded = expandManifests(read.files, opts.variables ?? { values: {}, env });
  diagnostics.push(...expanded.diagnostics);

  const docs: ParsedDoc[] = [];
  for (const { file, docs: read } of expanded.files) {
    for (const doc of read) {
      if ('problems' in doc) {
        diagnostics.push(...doc.problems);
        continue;
      }
      const { data, locate } = doc;
      if (data === null || data === undefined) continue;
      if (!isObj(data)) {
        error(locate([]), 'a manifest is a mapping with vault and items');
        continue;
      }
      normalise(data);
      const problems = validateDocument(data);
      for (const p of problems) error(locate(p.path, p.atKey), p.message);
      // The valid parts of an invalid document are still checked, so every problem shows at once.
      if (typeof data.vault === 'string' && (data.items === undefined || isObj(data.items))) {
        docs.push({ file, cwd, locate, data, invalid: problems.map((p) => p.path) });
      }
    }
  }

  const sources: SourceChecks = opts.checkSources === false ? 'none' : opts.checkEnv === false ? 'files' : 'values';
  for (const d of docs) buildDocument(d, sources, env, error, manifest, opts.vaultDefaults?.[d.data.vault as string] ?? {});
  checkAcrossDocuments(manifest, error);
  return { manifest, diagnostics };
}

/** values: variables set, files read; files: files only looked at (exists, regular, size); none: neither. */
type SourceChecks = 'values' | 'files' | 'none';

function buildDocument(
  d: ParsedDoc,
  sources: SourceChecks,
  env: NodeJS.ProcessEnv,
  error: (pos: SourcePos, message: string) => void,
  manifest: Manifest,
  defaults: VaultDefaults,
): void {
  const pos = d.locate;
  const vault = d.data.vault as string;
  const invalidUnder = invalidPrefixes(d.invalid);
  const invalidAt = new Set(d.invalid.map(pathKey));
  const bad = (prefix: JsonPath) => invalidUnder.size > 0 && invalidUnder.has(pathKey(prefix));
  // Nearly every document is valid: then no path is built to be looked up.
  const anyInvalid = invalidUnder.size > 0;
  // An entry the schema refused (not a list, no from, a malformed address, destroy: true) is reported there, not
  // built. Positions by the entry's index in this document (a second document's first entry is its [0]).
  const list = <T>(key: string) => (Array.isArray(d.data[key]) ? (d.data[key] as T[]) : []);
  list<{ from: string; to: string }>('moved').forEach((m, i) => {
    if (!bad(['moved', i])) manifest.moved.push({ from: m.from, to: m.to, pos: pos(['moved', i], false) });
  });
  list<{ from: string }>('removed').forEach((r, i) => {
    if (!bad(['removed', i])) manifest.removed.push({ from: r.from, pos: pos(['removed', i], false) });
  });
  if (d.invalid.some((p) => p.length === 0 || p[0] === 'vault' || p[0] === 'moved')) return;
  const vaultPos = pos(['vault'], false);
  for (const [key, raw] of Object.entries((d.data.items as Obj | undefined) ?? {})) {
    if (!isObj(raw)) continue;
    const item = raw;
    const at = ['items', key];
    const itemValid = !anyInvalid || !bad(at);
    const sections: DesiredSection[] = [];
    if (isObj(item.sections)) for (const k in item.sections) sections.push({ key: k, label: item.sections[k] as string });
    const fields: DesiredField[] = [];
    const labels = new Map<string, string>();
    // Rotation policies of the generated fields: the field's own, else the item's, else the vault's default.
    const itemPolicy = isObj(item.rotate) && typeof item.rotate.every === 'string' ? { every: item.rotate.every } : undefined;
    let policies: Record<string, RotationPolicy> | undefined;
    const fieldsOk = isObj(item.fields) && !(invalidAt.size > 0 && invalidAt.has(pathKey([...at, 'fields'])));
    const rawFields = fieldsOk ? (item.fields as Obj) : {};
    for (const fkey in rawFields) {
      const rawField = rawFields[fkey];
      if (!isObj(rawField) || (anyInvalid && bad([...at, 'fields', fkey]))) continue;
      const f = rawField;
      const fpos = pos(['items', key, 'fields', fkey]);
      const label = (f.label as string | undefined) ?? fkey;
      const section = f.section as string | undefined;
      if (section !== undefined && !sections.some((s) => s.key === section)) {
        error(pos([...at, 'fields', fkey, 'section'], false), `field "${fkey}": section "${section}" is not declared in sections`);
      }
      const ident = `${section ?? ''}\u0000${label}`;
      if (labels.has(ident)) error(fpos, `field "${fkey}": label "${label}" is already used by field "${labels.get(ident)}" in the same section`);
      labels.set(ident, fkey);

      const purpose = f.purpose as DesiredField['purpose'];
      const gen = f.generate as (GeneratorRecipe & { rotate?: string | { every: string } }) | undefined;
      let source: ValueSource;
      const value = f.value as string | Obj | undefined;
      if (gen) {
        // `rotate: "2026-11"` is a manual key (a new one regenerates once); `rotate: {every: 90d}` a policy.
        const { rotate, ...recipe } = gen;
        source = { kind: 'generate', recipe, ...(typeof rotate === 'string' ? { rotate } : {}) };
        const every = isObj(rotate) ? rotate.every : itemPolicy?.every ?? defaults.rotate?.every;
        if (typeof every === 'string') {
          (policies ??= {})[fkey] = { every, from: isObj(rotate) ? 'field' : itemPolicy ? 'item' : 'vault' };
        }
      } else if (value === undefined) source = { kind: 'unmanaged' };
      else if (typeof value === 'string') source = { kind: 'literal', value };
      else if (typeof value.env === 'string') source = { kind: 'env', name: value.env };
      else if (typeof value.file === 'string') {
        source = { kind: 'file', path: resolve(d.cwd, dirname(d.file), value.file), as: value.file, ...(value.encoding === 'base64' ? { encoding: 'base64' as const } : {}) };
      }
      else source = { kind: 'ref', ref: value.ref as string };

      const type = (f.type as FieldType | undefined) ?? (purpose === 'PASSWORD' || gen ? 'CONCEALED' : 'STRING');
      const secretField = isSecretField(type, purpose);
      if (source.kind === 'literal' && secretField && f.allowLiteral !== true) {
        error(pos([...at, 'fields', fkey, 'value'], false), `field "${fkey}" is secret (${purpose === 'PASSWORD' ? 'purpose PASSWORD' : type}): a literal value would put it in git; use {env: NAME}, {file: path}, {ref: op://...} or generate, or say allowLiteral: true`);
      }
      if (sources === 'values' && source.kind === 'env' && (env[source.name] === undefined || env[source.name] === '')) {
        error(pos([...at, 'fields', fkey, 'value', 'env'], false), `field "${fkey}": environment variable ${source.name} is not set (or is empty)`);
      }
      if (source.kind === 'file' && sources !== 'none') {
        // Read as plan reads it when values are checked (binary content, size, FIFOs); else only looked at.
        const problem = checkFileSource(source, sources === 'values');
        if (problem) error(pos([...at, 'fields', fkey, 'value', 'file'], false), `field "${fkey}": ${problem}`);
      }
      if (source.kind === 'ref' && !parseRef(source.ref)) {
        error(pos([...at, 'fields', fkey, 'value', 'ref'], false), `field "${fkey}": reference must be op://<vault>/<item>/[<section>/]<field>`);
      }
      const refused = fieldProblem({ key: fkey, type, source });
      if (refused) error(pos([...at, 'fields', fkey, refused.includes('TOTP') ? 'type' : 'value'], false), refused);
      // Built in this order (not by spreads, slow when done 100,000 times): key, label, section, type, purpose, source.
      const field = { key: fkey, label } as DesiredField;
      if (section !== undefined) field.section = section;
      field.type = type;
      if (purpose) field.purpose = purpose;
      field.source = source;
      field.sensitive = secretField || (source.kind !== 'literal' && source.kind !== 'unmanaged');
      field.pos = fpos;
      fields.push(field);
    }
    for (const p of purposeProblems(fields)) error(pos([...at, 'fields', p.key, 'purpose'], false), p.message);
    const categoryRefused = categoryProblem(String(item.category ?? defaults.category ?? 'LOGIN'), fields);
    if (categoryRefused) error(pos([...at, ...(item.category !== undefined ? ['category'] : [])], false), categoryRefused);
    if (!itemValid) continue;
    if (policies) (manifest.rotation ??= {})[`${vault}/${key}`] = policies;
    manifest.items.push({
      address: `${vault}/${key}`,
      vault,
      vaultPos,
      key,
      title: (item.title as string | undefined) ?? key,
      category: (item.category as ItemCategory | undefined) ?? defaults.category ?? 'LOGIN',
      tags: (item.tags as string[] | undefined) ?? defaults.tags ?? [],
      urls: (item.urls as DesiredItem['urls'] | undefined) ?? [],
      sections,
      fields,
      ignore: (item.ignore as string[] | undefined) ?? [],
      protect: (item.protect as boolean | undefined) ?? defaults.protect ?? false,
      adopt: item.adopt === true,
      pos: pos(at),
    });
  }
}


function checkAcrossDocuments(manifest: Manifest, error: (pos: SourcePos, message: string) => void): void {
  const byAddress = new Map<string, DesiredItem>();
  const byTitle = new Map<string, DesiredItem>();
  // What a reference's item names, by vault and title and by vault and key: the first item in manifest order.
  const firstByTitle = new Map<string, number>();
  const firstByKey = new Map<string, number>();
  manifest.items.forEach((item, i) => {
    const t = `${item.vault}\u0000${item.title}`;
    const k = `${item.vault}\u0000${item.key}`;
    if (!firstByTitle.has(t)) firstByTitle.set(t, i);
    if (!firstByKey.has(k)) firstByKey.set(k, i);
  });
  for (const item of manifest.items) {
    const dup = byAddress.get(item.address);
    if (dup) error(item.pos, `duplicate address ${item.address} (also at ${where(dup.pos)})`);
    else byAddress.set(item.address, item);
    const titleKey = `${item.vault}\u0000${item.title}`;
    const same = byTitle.get(titleKey);
    if (same && same !== dup) error(item.pos, `duplicate title "${item.title}" in vault ${item.vault} (also ${same.address} at ${where(same.pos)})`);
    else byTitle.set(titleKey, item);
  }
  for (const item of manifest.items) {
    for (const f of item.fields) {
      if (f.source.kind !== 'ref') continue;
      const ref = parseRef(f.source.ref);
      if (!ref) continue;
      const byT = firstByTitle.get(`${ref.vault}\u0000${ref.item}`);
      const byK = firstByKey.get(`${ref.vault}\u0000${ref.item}`);
      const first = byT === undefined ? byK : byK === undefined ? byT : Math.min(byT, byK);
      const target = first === undefined ? undefined : manifest.items[first];
      if (!target) continue; // not managed here: checked against Connect at plan time
      const section = ref.section === undefined ? undefined : target.sections.find((s) => s.key === ref.section || s.label === ref.section);
      const exists = target.fields.some((tf) => (tf.label === ref.field || tf.key === ref.field) && (ref.section === undefined || tf.section === section?.key));
      if (!exists) error(f.pos, `field "${f.key}": reference ${f.source.ref} names no field of ${target.address}`);
    }
  }
  const movedFrom = new Map<string, SourcePos>();
  for (const m of manifest.moved) {
    if (!byAddress.has(m.to)) error(m.pos, `moved: ${m.to} is not declared in the manifests`);
    if (byAddress.has(m.from)) error(m.pos, `moved: ${m.from} is still declared; a moved resource keeps only its new address`);
    if (!movedFrom.has(m.from)) movedFrom.set(m.from, m.pos);
  }
  const removedAt = new Map<string, SourcePos>();
  for (const r of manifest.removed) {
    const item = byAddress.get(r.from);
    if (item) error(r.pos, `removed: ${r.from} is still declared (at ${where(item.pos)}); remove its item from the manifests, or drop this removed block`);
    const first = removedAt.get(r.from);
    if (first) error(r.pos, `removed: ${r.from} is already removed (at ${where(first)})`);
    else removedAt.set(r.from, r.pos);
    const moved = movedFrom.get(r.from);
    if (moved) error(r.pos, `removed: ${r.from} is also moved (at ${where(moved)}); a resource is either moved or removed`);
  }
}
