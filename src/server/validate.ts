// Request-body validation against schemas/connect-api.schema.json (the spec's component schemas as JSON
// Schema, shipped with the package so the server never reads anything outside it at runtime).
import { readFileSync } from 'node:fs';
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { HttpError } from './http.js';

const SCHEMA_URL = new URL('../../schemas/connect-api.schema.json', import.meta.url);

// ajv-formats is CommonJS; under NodeNext its default import is the module object on some setups.
export const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ?? addFormatsModule) as (ajv: Ajv2020) => void;

let validators: Record<string, ValidateFunction> | undefined;

function load(): Record<string, ValidateFunction> {
  if (validators) return validators;
  const schema = JSON.parse(readFileSync(SCHEMA_URL, 'utf8')) as { $id: string };
  const ajv = new Ajv2020({ allErrors: false, strict: false });
  addFormats(ajv);
  ajv.addSchema(schema);
  const get = (name: string) => ajv.getSchema(`${schema.$id}#/$defs/${name}`)!;
  validators = { FullItem: get('FullItem'), JsonPatch: get('JsonPatch') };
  return validators;
}

/** A message naming where the body is wrong and what was expected, never quoting the offending value. */
export function describeAjvError(e: ErrorObject): string {
  const where = e.instancePath === '' ? 'request body' : e.instancePath;
  if (e.keyword === 'enum') {
    const allowed = (e.params as { allowedValues: unknown[] }).allowedValues.join(', ');
    return `${where} must be one of: ${allowed}`;
  }
  if (e.keyword === 'additionalProperties') {
    return `${where} has an unknown property "${(e.params as { additionalProperty: string }).additionalProperty}"`;
  }
  return `${where} ${e.message ?? 'is invalid'}`;
}

/** Throws 400 when `body` does not match the named schema ("FullItem" or "JsonPatch"). */
export function validateBody(name: 'FullItem' | 'JsonPatch', body: unknown): void {
  const v = load()[name];
  if (!v(body)) {
    const err = v.errors?.[0];
    throw new HttpError(400, `Invalid ${name === 'FullItem' ? 'item' : 'JSON Patch'}: ${err ? describeAjvError(err) : 'does not match the schema'}`);
  }
}
