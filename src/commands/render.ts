// `opsync render [PATHS]`: the manifests fully expanded (variables substituted, for_each instances and
// templates written out), as YAML a reviewer reads, or JSON. Value sources stay sources ({env:}, {file:},
// {ref:}); nothing but the manifests and OPSYNC_VAR_<NAME> is read. A secret field's literal (allowLiteral)
// is not shown either: a variable may have put it there, a value git never held.

import { isSecretField, type FieldPurpose, type FieldType } from '../connect/types.js';
import { renderManifests, type VariableInputs } from '../manifest/expand/index.js';
import { formatDiagnostic } from '../manifest/load.js';
import { toYaml } from '../export/manifest.js';
import { inline } from '../ui/sanitize.js';
import { ExitCode, requirePaths, type IO } from './common.js';

/** What a secret literal is shown as. */
export const SECRET_LITERAL = '(secret literal, not shown)';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The document with every secret field's literal (a secret type or purpose, or allowLiteral) replaced by SECRET_LITERAL. */
function hideSecretLiterals(doc: unknown): unknown {
  if (!isObj(doc) || !isObj(doc.items)) return doc;
  const items: Obj = {};
  for (const [key, item] of Object.entries(doc.items)) {
    if (!isObj(item) || !isObj(item.fields)) {
      items[key] = item;
      continue;
    }
    const fields: Obj = {};
    for (const [fk, f] of Object.entries(item.fields)) {
      // A literal only (a string or number): `value: {env: NAME}` is a source, shown as written.
      const literal = isObj(f) && (typeof f.value === 'string' || typeof f.value === 'number');
      const secret = literal && (f.allowLiteral === true || isSecretField(f.type as FieldType | undefined, f.purpose as FieldPurpose | undefined));
      fields[fk] = secret ? { ...f, value: SECRET_LITERAL } : f;
    }
    items[key] = { ...item, fields };
  }
  return { ...doc, items };
}

export function renderCommand(paths: string[], format: 'yaml' | 'json', variables: VariableInputs, io: IO): number {
  const rendered = renderManifests(requirePaths(paths), { env: io.env, variables });
  for (const d of rendered.diagnostics) io.err(`${formatDiagnostic(d)}\n`);
  if (rendered.diagnostics.some((d) => d.severity === 'error')) throw new ExitCode(1);
  const files = rendered.files.map((f) => ({ ...f, documents: f.documents.map(hideSecretLiterals) }));
  if (format === 'json') {
    io.out(`${JSON.stringify({ files }, null, 2)}\n`);
    return 0;
  }
  const parts: string[] = [];
  for (const f of files) {
    for (const doc of f.documents) parts.push(`# ${inline(f.file)}\n${toYaml(doc)}`);
  }
  io.out(parts.join('---\n'));
  return 0;
}
