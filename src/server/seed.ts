// Seed files: vaults (which the Connect API cannot create) with items and files, in YAML or JSON. Seeding is
// idempotent by vault name (a vault that exists is left alone, items and all) and all-or-nothing per file.
// Errors say file:line:col and what is wrong; they never quote values.
import { readFileSync } from 'node:fs';
import { Ajv2020, type ErrorObject } from 'ajv/dist/2020.js';
import { LineCounter, parseDocument, type Document } from 'yaml';
import { VAULT_TYPES, type FullItem, type VaultType } from '../connect/types.js';
import { HttpError } from './http.js';
import { newId } from './ids.js';
import { buildItem } from './items.js';
import { finishItemBody, normalizeItemInput } from './normalize.js';
import type { Store } from './store.js';
import { addFormats, describeAjvError } from './validate.js';

export class SeedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SeedError';
  }
}

export interface SeedFile {
  name: string;
  content?: string;
  contentBase64?: string;
  section?: string | { id: string };
}

export interface SeedVault {
  name: string;
  description?: string;
  type?: VaultType;
  items?: (Omit<Partial<FullItem>, 'files'> & { files?: SeedFile[] })[];
}

export interface SeedDoc {
  vaults: SeedVault[];
}

const CONNECT_SCHEMA_URL = new URL('../../schemas/connect-api.schema.json', import.meta.url);
const FULL_ITEM = 'https://opsync.dev/schemas/connect-api.schema.json#/$defs/FullItem';

const SEED_SCHEMA = {
  $id: 'https://opsync.dev/schemas/server-seed.schema.json',
  type: 'object',
  required: ['vaults'],
  additionalProperties: false,
  properties: {
    vaults: {
      type: 'array',
      items: {
        type: 'object',
        required: ['name'],
        additionalProperties: false,
        properties: {
          name: { type: 'string', minLength: 1 },
          description: { type: 'string' },
          type: { enum: [...VAULT_TYPES] },
          items: {
            type: 'array',
            items: {
              allOf: [
                { $ref: FULL_ITEM },
                {
                  type: 'object',
                  required: ['category'],
                  properties: {
                    files: {
                      type: 'array',
                      items: {
                        type: 'object',
                        required: ['name'],
                        additionalProperties: false,
                        properties: {
                          name: { type: 'string', minLength: 1 },
                          content: { type: 'string' },
                          contentBase64: { type: 'string', contentEncoding: 'base64' },
                          section: {
                            anyOf: [{ type: 'string' }, { type: 'object', required: ['id'], properties: { id: { type: 'string' } } }],
                          },
                        },
                      },
                    },
                  },
                },
              ],
            },
          },
        },
      },
    },
  },
} as const;

let validate: ReturnType<Ajv2020['compile']> | undefined;

function validator() {
  if (!validate) {
    const ajv = new Ajv2020({ allErrors: false, strict: false });
    addFormats(ajv); // date-time and friends: known formats, not ignored with a warning on stderr
    ajv.addSchema(JSON.parse(readFileSync(CONNECT_SCHEMA_URL, 'utf8')) as object);
    validate = ajv.compile(SEED_SCHEMA);
  }
  return validate;
}

function pathSegments(pointer: string): (string | number)[] {
  return pointer
    .split('/')
    .slice(1)
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((s) => (/^\d+$/.test(s) ? Number(s) : s));
}

function locate(doc: Document, lc: LineCounter, pointer: string): string {
  let segs = pathSegments(pointer);
  while (segs.length > 0) {
    const node = doc.getIn(segs, true) as { range?: [number, number, number] } | undefined;
    if (node && typeof node === 'object' && node.range) {
      const { line, col } = lc.linePos(node.range[0]);
      return `${line}:${col}`;
    }
    segs = segs.slice(0, -1);
  }
  return '1:1';
}

function readable(pointer: string): string {
  return pathSegments(pointer)
    .map((s, i) => (typeof s === 'number' ? `[${s}]` : i === 0 ? s : `.${s}`))
    .join('');
}

/** Parses and validates a seed file; throws SeedError with file:line:col. */
export function loadSeed(file: string): { doc: SeedDoc; where: (pointer: string) => string } {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new SeedError(`${file}: cannot read seed file (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false });
  if (doc.errors.length > 0) {
    const e = doc.errors[0];
    const { line, col } = lc.linePos(e.pos[0]);
    throw new SeedError(`${file}:${line}:${col}: not valid YAML or JSON (${e.code})`);
  }
  const data = doc.toJS() as unknown;
  // Items are read as real Connect reads bodies (nulls absent, field types in any case, TOTP refused), before the schema.
  const vaults = (data as { vaults?: unknown } | null)?.vaults;
  if (Array.isArray(vaults)) {
    vaults.forEach((v: { items?: unknown }, vi) => {
      if (!v || !Array.isArray(v.items)) return;
      v.items = v.items.map((item: unknown, ii: number) => {
        try {
          return normalizeItemInput(item, 'seed');
        } catch (err) {
          if (!(err instanceof HttpError)) throw err;
          const at = /\((\/\S+)\)$/.exec(err.message);
          throw new SeedError(`${file}:${locate(doc, lc, `/vaults/${vi}/items/${ii}${at ? at[1] : ''}`)}: vaults[${vi}].items[${ii}]: ${err.message}`);
        }
      });
    });
  }
  const v = validator();
  if (!v(data)) {
    const err = deepest(v.errors ?? []);
    const at = locate(doc, lc, err?.instancePath ?? '');
    const msg = err ? describeAjvError({ ...err, instancePath: readable(err.instancePath) }) : 'does not match the seed format';
    throw new SeedError(`${file}:${at}: ${msg.replace(/^request body/, 'seed file')}`);
  }
  return { doc: data as SeedDoc, where: (pointer) => `${file}:${locate(doc, lc, pointer)}` };
}

function deepest(errors: ErrorObject[]): ErrorObject | undefined {
  return [...errors].sort((a, b) => b.instancePath.split('/').length - a.instancePath.split('/').length)[0];
}

export interface SeedResult {
  created: string[];
  skipped: string[];
}

/** Applies a seed file to the store in one transaction; vaults that exist by name are skipped. */
export function applySeed(store: Store, file: string, actorId: string): SeedResult {
  const { doc, where } = loadSeed(file);
  const result: SeedResult = { created: [], skipped: [] };
  const seen = new Set<string>();
  doc.vaults.forEach((v, i) => {
    if (seen.has(v.name)) throw new SeedError(`${where(`/vaults/${i}/name`)}: vault "${v.name}" appears more than once`);
    seen.add(v.name);
  });
  store.transaction(() => {
    doc.vaults.forEach((v, vi) => {
      if (store.vaultsByName(v.name).length > 0) {
        result.skipped.push(v.name);
        return;
      }
      const now = new Date().toISOString();
      const vaultId = newId();
      store.insertVault({ id: vaultId, name: v.name, description: v.description, type: v.type ?? 'USER_CREATED', now });
      (v.items ?? []).forEach((raw, ii) => {
        const { files, ...body } = raw;
        let item;
        try {
          item = buildItem(finishItemBody(body, 'seed'), { vaultId, actorId, now });
        } catch (err) {
          if (err instanceof HttpError) {
            const detail = err.message.replace(/^Invalid item: /, '');
            const m = /^(\/\S+)/.exec(detail);
            const pointer = `/vaults/${vi}/items/${ii}${m ? m[1] : ''}`;
            throw new SeedError(`${where(pointer)}: vaults[${vi}].items[${ii}]: ${detail}`);
          }
          throw err;
        }
        store.insertItem(item);
        (files ?? []).forEach((f, fi) => {
          const sectionId = typeof f.section === 'string' ? f.section : f.section?.id;
          if (sectionId !== undefined && !(item.sections ?? []).some((s) => s.id === sectionId)) {
            throw new SeedError(`${where(`/vaults/${vi}/items/${ii}/files/${fi}/section`)}: file section does not name a section of the item`);
          }
          if ((f.content === undefined) === (f.contentBase64 === undefined)) {
            throw new SeedError(`${where(`/vaults/${vi}/items/${ii}/files/${fi}`)}: a file needs exactly one of content (UTF-8 text) or contentBase64`);
          }
          if (f.contentBase64 !== undefined && !/^[A-Za-z0-9+/=\s]*$/.test(f.contentBase64)) {
            throw new SeedError(`${where(`/vaults/${vi}/items/${ii}/files/${fi}/contentBase64`)}: contentBase64 is not base64`);
          }
          const content = f.content !== undefined ? Buffer.from(f.content, 'utf8') : Buffer.from(f.contentBase64 ?? '', 'base64');
          store.insertFile({ id: newId(), vaultId, itemId: item.id, name: f.name, sectionId, content });
        });
      });
      result.created.push(v.name);
    });
  });
  return result;
}
