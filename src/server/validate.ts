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

/**
 * Compiles the request-body validators (once per process). startServer calls it before listening: compiled
 * lazily, the first write after start-up held the event loop for the ~250 ms ajv takes to compile the schema.
 */
export function loadValidators(): void {
  load();
}

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

/**
 * Most elements an item's lists may hold. Each element costs work on every read (a TOTP code per OTP field,
 * a copy per answer) and on every patch operation (ids are looked up in the list): unbounded, one 1 MiB body
 * of empty fields made an item of 350,000 that held the server for seconds.
 */
export const ITEM_LIMITS = { fields: 1000, sections: 1000, urls: 1000, tags: 1000 } as const;

/** Why an item body's lists are too long for ITEM_LIMITS, or undefined. Checked before anything walks them. */
export function itemSizeProblem(body: unknown): string | undefined {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return undefined;
  for (const [key, max] of Object.entries(ITEM_LIMITS)) {
    const list = (body as Record<string, unknown>)[key];
    if (Array.isArray(list) && list.length > max) return `/${key} may hold at most ${max} elements; this one has ${list.length}`;
  }
  return undefined;
}

/** Throws 400 when `body` does not match the named schema ("FullItem" or "JsonPatch"). */
export function validateBody(name: 'FullItem' | 'JsonPatch', body: unknown): void {
  if (name === 'FullItem') {
    const problem = itemSizeProblem(body);
    if (problem) throw new HttpError(400, `Invalid item: ${problem}`);
  }
  const v = load()[name];
  if (!v(body)) {
    const err = v.errors?.[0];
    throw new HttpError(400, `Invalid ${name === 'FullItem' ? 'item' : 'JSON Patch'}: ${err ? describeAjvError(err) : 'does not match the schema'}`);
  }
}
