// Documents against the schemas in schemas/ (ajv): manifests, and opsync.yaml and saved plans through the
// same machinery, with errors a person reads.

import { readFileSync } from 'node:fs';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import type { JsonPath } from './positions.js';

const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;

export type SchemaName = 'manifest' | 'config' | 'plan-file';

let ajv: Ajv | undefined;
const validators = new Map<SchemaName, ValidateFunction>();

const readSchema = (name: SchemaName) => JSON.parse(readFileSync(new URL(`../../schemas/${name}.schema.json`, import.meta.url), 'utf8')) as object;

function compile(name: SchemaName): ValidateFunction {
  let v = validators.get(name);
  if (!v) {
    if (!ajv) {
      ajv = new Ajv({ allErrors: true, strict: true, strictRequired: false, allowUnionTypes: true });
      addFormats(ajv);
      // config.schema.json refers to the manifest's definitions (categories, tags).
      ajv.addSchema(readSchema('manifest'));
    }
    v = name === 'manifest' ? ajv.getSchema('https://github.com/opsync/opsync/schemas/manifest.schema.json')! : ajv.compile(readSchema(name));
    validators.set(name, v);
  }
  return v;
}

export interface SchemaProblem {
  path: JsonPath;
  /** Point at the key (true) or at the value. */
  atKey: boolean;
  message: string;
}

function pathOf(instancePath: string): JsonPath {
  if (instancePath === '') return [];
  return instancePath
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

const human = (path: JsonPath) => (path.length ? path.join('.') : 'document');

function describe(e: ErrorObject): SchemaProblem | undefined {
  const path = pathOf(e.instancePath);
  const p = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'additionalProperties':
      return { path: [...path, String(p.additionalProperty)], atKey: true, message: `${human([...path, String(p.additionalProperty)])}: unknown property` };
    case 'required':
      return { path, atKey: true, message: `${human(path)}: missing required property "${String(p.missingProperty)}"` };
    case 'enum':
      return { path, atKey: false, message: `${human(path)} must be one of ${(p.allowedValues as unknown[]).join(', ')}` };
    case 'not':
      return { path, atKey: true, message: `${human(path)}: a field takes either value or generate, not both` };
    case 'propertyNames':
      return undefined; // reported through the pattern error on the name itself
    case 'pattern':
      if (e.propertyName !== undefined) return { path: [...path, e.propertyName], atKey: true, message: `${human([...path, e.propertyName])}: "${e.propertyName}" is not a valid key` };
      return { path, atKey: false, message: `${human(path)} ${patternMessage(path)}` };
    case 'type':
      return { path, atKey: false, message: `${human(path)} must be ${String(p.type).replace(',', ' or ')}` };
    case 'minProperties':
    case 'maxProperties':
      if (path[path.length - 1] !== 'value') return { path, atKey: false, message: `${human(path)} ${e.message ?? 'is invalid'}` };
      return { path, atKey: false, message: `${human(path)} must be text, or exactly one of env, file, ref (a file may add encoding)` };
    case 'if':
      return undefined; // the failing then/else branch says what is wrong
    case 'dependencies':
      return { path, atKey: true, message: `${human(path)}: ${String(p.property)} needs ${String(p.missingProperty)}` };
    case 'const':
      if (path[0] === 'removed' && path[path.length - 1] === 'destroy') {
        return { path, atKey: false, message: `${human(path)} must be false (the item stays in Connect); remove the resource from the manifests to delete it` };
      }
      return { path, atKey: false, message: `${human(path)} must be ${JSON.stringify(p.allowedValue)}` };
    default:
      return { path, atKey: false, message: `${human(path)} ${e.message ?? 'is invalid'}` };
  }
}

function patternMessage(path: JsonPath): string {
  const last = path[path.length - 1];
  if (last === 'vault') return 'must be a vault name or id without "/"';
  if (last === 'from' || last === 'to') return 'must be an address "<vault>/<key>"';
  if (last === 'env') return 'must be an environment variable name';
  if (last === 'ref') return 'must be a reference op://<vault>/<item>/[<section>/]<field>';
  if (last === 'every') return 'must be a duration of days, weeks or months (e.g. 90d, 12w, 3m) or never';
  if (path.includes('ignore')) return 'must be one of title, category, tags, urls, sections, fields, fields.<key>';
  return 'has an invalid form';
}

/** Every problem of one document, in document order. */
export function validateDocument(doc: unknown, schema: SchemaName = 'manifest'): SchemaProblem[] {
  const validate = compile(schema);
  if (validate(doc)) return [];
  const seen = new Set<string>();
  const out: SchemaProblem[] = [];
  for (const e of validate.errors ?? []) {
    const problem = describe(e);
    if (!problem) continue;
    const key = `${problem.path.join('\u0000')}\u0001${problem.message}`;
    if (!seen.has(key)) {
      seen.add(key);
      out.push(problem);
    }
  }
  return out;
}
