// Item bodies as real Connect reads them, before and after schema validation (ledger rows 1-6, 13-15):
//
// before validation, normalizeItemInput():
// - JSON `null` is an absent member, at any depth (Connect is a Go server; 1Password's Ansible collection sends
//   `section: null`, `value: null`, `recipe: null` on every write);
// - the Go SDK's zero values are absent too: `"id": ""` on the item, its sections and fields, `"vault": {"id": ""}`,
//   `"type": ""`, `"purpose": ""`, `"section": {"id": ""}`, `"lastEditedBy": ""` and zero timestamps
//   (`0001-01-01T00:00:00Z`), which connect-sdk-go marshals for every item it sends;
// - field types are matched case-insensitively (`otp`, `string`): they are upper-cased;
// - `TOTP` (the spec's name) and any other type Connect does not know are refused with Connect's validator text,
//   every offending field listed at Connect's own address of it (`details.sections[S].fields[F]`), followed by
//   opsync's JSON pointer to the first;
// - on API writes, `SSHKEY` is stored as `STRING`, as Connect does (row 4); seeds keep it (items made in apps).
//
// after validation, finishItemBody():
// - CUSTOM and DOCUMENT items cannot be created (rows 5, 6) - nor can an item be turned into one; seeds and
//   items that already are one may hold them;
// - the category template's built-in fields (templates.ts) and DATE / MONTH_YEAR values (dates.ts).
import type { FullItem } from '../connect/types.js';
import { RESPONSE_FIELD_TYPES } from './fieldtypes.js';
import { itemValidatorError } from './compat.js';
import { DateValueError, normalizeDateFields } from './dates.js';
import { HttpError } from './http.js';
import { applyCategoryTemplate } from './templates.js';
import { ITEM_LIMITS } from './validate.js';

/** Where a body comes from: a POST, a PUT, the result of a PATCH, or a seed file. */
export type WriteMode = 'create' | 'replace' | 'patch' | 'seed';

const SPEC_FIELD_TYPES = ['STRING', 'EMAIL', 'CONCEALED', 'URL', 'DATE', 'MONTH_YEAR', 'MENU'];
/** Field types Connect takes on writes (TOTP is not one: row 1). */
export const ACCEPTED_FIELD_TYPES: ReadonlySet<string> = new Set([...SPEC_FIELD_TYPES, ...RESPONSE_FIELD_TYPES]);

const GO_ZERO_TIME = /^0001-01-01T00:00:00(?:\.0+)?(?:Z|[+-]00:00)$/;

type Obj = Record<string, unknown>;

function isObject(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A copy of `v` without `null` object members, at any depth (array elements are kept, nulls included). */
export function stripNulls(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(stripNulls);
  if (!isObject(v)) return v;
  const out: Obj = {};
  for (const [k, x] of Object.entries(v)) if (x !== null) out[k] = stripNulls(x);
  return out;
}

function dropEmpty(o: Obj, key: string): void {
  if (o[key] === '') delete o[key];
}

/** Connect's address of field `i`: section 0 holds the fields without a section, section S the (S-1)th section. */
function connectPlace(fields: unknown[], i: number, sections: unknown): string {
  const sectionIds = Array.isArray(sections) ? sections.map((s) => (isObject(s) ? s.id : undefined)) : [];
  const sectionOf = (f: unknown): number => {
    const id = isObject(f) && isObject(f.section) ? f.section.id : undefined;
    const at = id === undefined ? -1 : sectionIds.indexOf(id);
    return at < 0 ? 0 : at + 1;
  };
  const s = sectionOf(fields[i]);
  const n = fields.slice(0, i).filter((f) => sectionOf(f) === s).length;
  return `details.sections[${s}].fields[${n}]`;
}

/** The body with Connect's reading of nulls, zero values and field types applied. Throws 400 for unknown types. */
export function normalizeItemInput(raw: unknown, mode: WriteMode): unknown {
  const body = stripNulls(raw);
  if (!isObject(body)) return body;
  dropEmpty(body, 'id');
  dropEmpty(body, 'lastEditedBy');
  for (const k of ['createdAt', 'updatedAt']) if (typeof body[k] === 'string' && GO_ZERO_TIME.test(body[k] as string)) delete body[k];
  if (isObject(body.vault)) {
    dropEmpty(body.vault, 'id');
    if (Object.keys(body.vault).length === 0) delete body.vault;
  }
  if (Array.isArray(body.sections)) for (const s of body.sections) if (isObject(s)) dropEmpty(s, 'id');
  if (Array.isArray(body.urls)) for (const u of body.urls) if (isObject(u)) dropEmpty(u, 'label');

  if (Array.isArray(body.fields)) {
    const problems: { place: string; pointer: string }[] = [];
    body.fields.forEach((f, i) => {
      if (!isObject(f)) return;
      dropEmpty(f, 'id');
      dropEmpty(f, 'type');
      dropEmpty(f, 'purpose');
      if (isObject(f.section)) {
        dropEmpty(f.section, 'id');
        if (f.section.id === undefined) delete f.section;
      }
      if (typeof f.type !== 'string') return;
      const type = f.type.toUpperCase();
      if (!ACCEPTED_FIELD_TYPES.has(type)) {
        problems.push({ place: `${connectPlace(body.fields as unknown[], i, body.sections)} has unsupported field type: ${type.toLowerCase().slice(0, 40)}`, pointer: `/fields/${i}/type` });
        return;
      }
      f.type = type === 'SSHKEY' && mode !== 'seed' ? 'STRING' : type;
      if (typeof f.purpose === 'string') f.purpose = f.purpose.toUpperCase();
    });
    if (problems.length > 0) {
      throw new HttpError(400, `${itemValidatorError(problems.map((p) => p.place))} (${problems[0].pointer})`);
    }
  }
  return body;
}

export interface FinishOptions {
  /** The category the item has now (PUT and PATCH), which it may keep even when it cannot be created. */
  existingCategory?: string;
}

/** Category, template and date rules on a body that passed schema validation; returns the body to build from. */
export function finishItemBody<T extends Partial<FullItem>>(body: T, mode: WriteMode, opts: FinishOptions = {}): T {
  const category = body.category;
  if (mode !== 'seed' && (category === 'CUSTOM' || category === 'DOCUMENT') && opts.existingCategory !== category) {
    throw new HttpError(
      400,
      category === 'CUSTOM'
        ? 'Invalid item category: items of category CUSTOM cannot be created through Connect (/category)'
        : 'Invalid item category: creating DOCUMENT items is not supported by Connect; upload documents with 1Password (/category)',
    );
  }
  if (!category) return body;
  const sent = (body.fields ?? []).map((f) => ({ ...f }));
  try {
    normalizeDateFields(sent);
  } catch (err) {
    if (err instanceof DateValueError) throw new HttpError(400, err.message);
    throw err;
  }
  const fields = applyCategoryTemplate(category, sent as never, { seed: mode === 'seed' });
  // The template's built-ins count towards the item's limit: a stored item never holds more than it allows.
  if (fields.length > ITEM_LIMITS.fields) {
    throw new HttpError(400, `Invalid item: /fields may hold at most ${ITEM_LIMITS.fields} elements; with the ${category} template's built-in fields this one has ${fields.length}`);
  }
  return { ...body, fields: fields as T['fields'] };
}
