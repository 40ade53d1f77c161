// The expansion stage of the manifest front end: variables, templates and for_each (issue 16). It works on
// the plain data of each document, whichever reader read it (the quick reader or the yaml library), and
// gives documents of the same shape (data + locate) to the rest of the loader (normalise, schema, build),
// which does not know that an expansion happened.
//
// Order, over the whole manifest set:
//   1. collect `variables:` declarations (and VariableInputs.declared, from opsync.yaml) and `templates:` from
//      every document: both are global; declared or defined twice is an error naming both places;
//   2. resolve each variable's value: default < OPSYNC_VAR_<NAME> < VariableInputs.values (--var-file, --var);
//      converted to its type (string, number, bool, list, map) and checked against validation (allowed, pattern);
//   3. per document: the document's for_each (one document per element), then per item: the item's for_each
//      (one item per element), its extends (templates merged under it), then interpolation of every string
//      value (and of item keys): ${var.NAME[.key...]}, ${each.key}, ${each.value[.key...]}, $${ for a literal ${.
// Inside an item for_each, `each` is the item's element (the innermost for_each); the item's for_each itself
// is evaluated with the document's. Field keys, section keys and the keys of variables/templates are never
// interpolated. Value sources are interpolated as written ({env: NAME}, {file: path}, {ref: op://...}): no
// source is ever resolved here, so an expansion holds no secret that the manifests did not already say.
//
// Positions: every output node maps back to where it was written (origins.ts); a position inside an
// expansion carries `instance` (SourcePos.instance, e.g. `for_each "production", extends "db"`), which
// formatDiagnostic prints after the line and column. Problems of a document come before its output; an item
// (or a document instance) that cannot be expanded is left out, its problems reported.
//
// Cost: a document that declares nothing, has no for_each or extends, in a file whose text has no `${`, is
// passed on as the same object (one look at each item's keys); expansion is linear in the size of its output.
//
// Boundary (for the CLI):
//   - LoadOptions.variables?: VariableInputs  (load.ts: values from --var-file then --var, env, opsync.yaml's
//     declarations with positions, and where each value came from, for messages);
//   - expandManifests(files, inputs)          (the stage itself, on documents as read);
//   - renderManifests(paths, opts)            (`opsync render`: the expanded documents per file, as plain data).

import { readManifestFiles, type LoadOptions } from '../load.js';
import type { Diagnostic } from '../types.js';
import { expandManifests } from './expand.js';

export { expandManifests, type ExpandResult } from './expand.js';
export type { Locate, ReadDoc, ReadFile, VariableDecl, VariableInputs, VariableType, VariableValidation } from './types.js';

export interface Rendered {
  /** Every file read, in order, with the documents its expansion gives (none for declarations only). */
  files: { file: string; documents: unknown[] }[];
  /** Reading and expansion problems (not the schema's or the loader's: validate reports those). */
  diagnostics: Diagnostic[];
}

/**
 * The manifests at `paths` fully expanded: variables substituted, for_each instances and templates written
 * out, declarations (variables:, templates:) and for_each/extends gone. Value sources stay as written
 * ({env:}, {file:}, {ref:}): nothing is read from the environment but OPSYNC_VAR_<NAME>, and no file but the
 * manifests. Options used: cwd, env (OPSYNC_VAR_ when variables is not given), variables.
 */
export function renderManifests(paths: string[], opts: Pick<LoadOptions, 'cwd' | 'env' | 'variables'> = {}): Rendered {
  const cwd = opts.cwd ?? process.cwd();
  const read = readManifestFiles(paths, cwd);
  const expanded = expandManifests(read.files, opts.variables ?? { values: {}, env: opts.env ?? process.env });
  const diagnostics = [...read.diagnostics, ...expanded.diagnostics];
  const files = expanded.files.map((f) => {
    const documents: unknown[] = [];
    for (const d of f.docs) {
      if ('problems' in d) diagnostics.push(...d.problems);
      else if (d.data !== null && d.data !== undefined) documents.push(d.data);
    }
    return { file: f.file, documents };
  });
  return { files, diagnostics };
}
