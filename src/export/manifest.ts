// Live items of one vault -> the manifest that describes them (YAML text), and the environment variables
// that must hold the secret values. Pure: no I/O, no printing. The manifest never holds a secret value:
// a secret field with a value reads it from `{env: NAME}`; the values are only in `variables`, for the
// caller to hand over (or not) as it sees fit.
//
// The aim is a round trip: with the variables set, `opsync plan` shows no changes. Where the manifest
// format cannot say what live holds, the item says so in `warnings`, and what cannot be said is left out
// and kept as it is with `ignore:` where that keeps the plan quiet (repeated or empty tags, URLs that are
// not URIs, repeated labels, unmatchable sections); items the format cannot hold at all (a category the
// schema does not know, no title, a title another item already has) are left out.

import { isDeepStrictEqual } from 'node:util';
import { fullFormats } from 'ajv-formats/dist/formats.js';
import { Document, isCollection, isMap, isNode, isPair, parse, Scalar, visit } from 'yaml';
import {
  FIELD_PURPOSES,
  FIELD_TYPES,
  ITEM_CATEGORIES,
  isSecretField,
  type Field,
  type FieldPurpose,
  type FieldType,
  type FullItem,
} from '../connect/types.js';
import type { VaultDefaults } from '../manifest/types.js';
import { EnvNames, itemKeyBase, slug, uniqueName } from './names.js';

export interface ExportVariable {
  /** The environment variable the manifest names. */
  name: string;
  /** The item's address, e.g. "Production/db-primary". */
  address: string;
  /** The field's key in the manifest. */
  fieldKey: string;
  /** The live value: a secret. Never printed, never written to the manifest. */
  value: string;
}

export interface ExportedItem {
  key: string;
  address: string;
  /** The live item it describes. */
  live: FullItem;
}

export interface ExportInput {
  vault: { id: string; name: string };
  items: FullItem[];
  /** opsync.yaml's defaults for this vault, if any: the manifest then says what differs from them. */
  defaults?: VaultDefaults;
}

export interface ExportResult {
  /** The manifest, YAML. */
  text: string;
  /** The vault as the manifest names it (its name, or its id when the name has a "/"). */
  vaultRef: string;
  items: ExportedItem[];
  variables: ExportVariable[];
  /** What could not be said, one line each, naming the item; never a value. */
  warnings: string[];
}

/** The schema's pattern for section keys (they become section ids). */
const SECTION_KEY = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;
const VAULT_REF = /^[^/]+$/;

const uriFormat = fullFormats.uri as (s: string) => boolean;
const isUri = (href: unknown): href is string => typeof href === 'string' && uriFormat(href);

type YamlField = string | Record<string, unknown>;

/** Sets an own property, even for keys such as "__proto__" (as the YAML parser reads them back). */
function put<T>(obj: Record<string, T>, key: string, value: T): void {
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
}

interface Candidate {
  live: Field;
  sectionKey?: string;
  label: string;
  type: FieldType;
  purpose?: FieldPurpose;
  key?: string;
}

const byTitle = (a: FullItem, b: FullItem): number =>
  a.title < b.title ? -1 : a.title > b.title ? 1 : a.createdAt < b.createdAt ? -1 : a.createdAt > b.createdAt ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0;

/** The vault as a manifest names it: its name, or its id when the name has a "/" (a manifest's cannot). */
export function manifestVaultRef(vault: { id: string; name: string }): string {
  return VAULT_REF.test(vault.name) ? vault.name : vault.id;
}

export function buildExport(input: ExportInput): ExportResult {
  const { vault, defaults } = input;
  const warnings: string[] = [];
  const vaultRef = manifestVaultRef(vault);
  if (vaultRef !== vault.name) {
    warnings.push(`vault ${vault.id}: its name has a "/", which a manifest cannot hold; the manifest names the vault by its id`);
  }

  const items: Record<string, Record<string, unknown>> = {};
  const exported: ExportedItem[] = [];
  const variables: ExportVariable[] = [];
  const envNames = new EnvNames();
  const usedKeys = new Set<string>();
  const titles = new Map<string, FullItem>();

  for (const live of [...input.items].sort(byTitle)) {
    if (!(ITEM_CATEGORIES as readonly string[]).includes(live.category)) {
      warnings.push(`item ${live.id} ("${live.title}") left out: its category ${String(live.category)} is not one a manifest can hold`);
      continue;
    }
    if (!live.title) {
      warnings.push(`item ${live.id} left out: it has no title, and a manifest item needs one`);
      continue;
    }
    const first = titles.get(live.title);
    if (first) {
      warnings.push(
        `item ${live.id} ("${live.title}") left out: item ${first.id} has the same title, and titles must be distinct within a vault's manifests; rename one in 1Password and export again`,
      );
      continue;
    }
    titles.set(live.title, live);
    const key = uniqueName(itemKeyBase(live.title), usedKeys);
    const address = `${vaultRef}/${key}`;
    const note = (message: string) => warnings.push(`${address} ("${live.title}"): ${message}`);
    put(items, key, buildItem(live, key, address, note));
    exported.push({ key, address, live });
  }

  function buildItem(live: FullItem, itemKey: string, address: string, note: (m: string) => void): Record<string, unknown> {
    const ignore = new Set<string>();
    const out: Record<string, unknown> = { title: live.title, category: live.category };

    // Tags: a manifest's are distinct and non-empty.
    const liveTags = live.tags ?? [];
    const tags = [...new Set(liveTags.filter((t) => typeof t === 'string' && t !== ''))];
    if (tags.length !== liveTags.length) {
      ignore.add('tags');
      note('its tags repeat a tag or hold an empty one, which a manifest cannot; the others are exported and tag drift is ignored (ignore: [tags])');
    }
    // `tags: []` only to override opsync.yaml's default tags for the vault.
    if (tags.length > 0 || (defaults?.tags?.length ?? 0) > 0) out.tags = tags;

    // URLs: a manifest's must be URIs.
    const urls: Record<string, unknown>[] = [];
    let badUrls = 0;
    for (const u of live.urls ?? []) {
      if (!isUri(u.href)) {
        badUrls++;
        continue;
      }
      urls.push({ href: u.href, ...(u.primary === true ? { primary: true } : {}), ...(u.label ? { label: u.label } : {}) });
    }
    if (badUrls > 0) {
      ignore.add('urls');
      note(`${badUrls} of its URLs are not URIs, which a manifest cannot hold; the others are exported and URL drift is ignored (ignore: [urls])`);
    }
    if (urls.length > 0) out.urls = urls;

    // Sections: the live id is the key when the schema takes it; else a slug of the label, which plan
    // matches by label. Id-keyed sections come first, so that a label match never takes one of theirs.
    const sectionKeys = new Map<string, string>();
    const usedSections = new Set<string>();
    const liveSections = live.sections ?? [];
    const sectionsOut: Record<string, string> = {};
    const unmatchable = new Set<string>();
    for (const s of liveSections) {
      if (typeof s.id === 'string' && SECTION_KEY.test(s.id) && !usedSections.has(s.id)) {
        sectionKeys.set(s.id, s.id);
        usedSections.add(s.id);
        put(sectionsOut, s.id, s.label ?? '');
      }
    }
    for (const s of liveSections) {
      if (sectionKeys.has(s.id) || unmatchable.has(s.id)) continue;
      if (s.label === undefined) {
        // Neither its id nor its label can match it: leave it (and its fields) as it is.
        unmatchable.add(s.id);
        ignore.add('sections');
        note(`section ${s.id} has no label and an id a manifest key cannot be, so it cannot be matched; it is left out and section drift is ignored (ignore: [sections])`);
        continue;
      }
      let base = slug(s.label) || 'section';
      if (/^\d+$/.test(base)) base = `section-${base}`; // integer-like keys would be read back first
      const key = uniqueName(base, usedSections);
      sectionKeys.set(s.id, key);
      put(sectionsOut, key, s.label);
    }
    if (Object.keys(sectionsOut).length > 0) out.sections = sectionsOut;

    // Fields: matched to live by (section, label), so those must be distinct in a manifest.
    const leaveOut = (f: Field, why: string) => {
      const kept = Boolean(f.value);
      if (kept) ignore.add('fields');
      note(`field "${f.label ?? f.id}" ${why}; it is left out${kept ? ' and kept as it is (ignore: [fields])' : ''}`);
    };
    const candidates: Candidate[] = [];
    for (const f of live.fields ?? []) {
      const sid = f.section?.id;
      let sectionKey: string | undefined;
      if (sid) {
        sectionKey = sectionKeys.get(sid);
        if (sectionKey === undefined) {
          if (unmatchable.has(sid)) leaveOut(f, `is in section ${sid}, which cannot be matched`);
          else leaveOut(f, `names section ${sid}, which the item does not have`);
          continue;
        }
      }
      // A TOTP field (the spec's name, kept by older servers) is written as OTP, the type real Connect takes.
      const type = (f.type === 'TOTP' ? 'OTP' : (f.type ?? 'STRING')) as FieldType;
      if (!(FIELD_TYPES as readonly string[]).includes(type)) {
        leaveOut(f, `has type ${String(type)}, which a manifest cannot hold`);
        continue;
      }
      const purpose = f.purpose ? f.purpose : undefined;
      if (purpose !== undefined && !(FIELD_PURPOSES as readonly string[]).includes(purpose)) {
        leaveOut(f, `has purpose ${String(purpose)}, which a manifest cannot hold`);
        continue;
      }
      candidates.push({ live: f, sectionKey, label: f.label ?? '', type, ...(purpose ? { purpose } : {}) });
    }
    // Repeated (section, label): plan matches the last one, so that one is exported.
    const lastOf = new Map<string, Candidate>();
    for (const c of candidates) lastOf.set(`${c.sectionKey ?? ''}\u0000${c.label}`, c);
    const fields = candidates.filter((c) => lastOf.get(`${c.sectionKey ?? ''}\u0000${c.label}`) === c);
    for (const c of candidates) {
      if (fields.includes(c)) continue;
      const where = c.sectionKey ? ` in section ${c.sectionKey}` : '';
      leaveOut(c.live, `repeats its label${where}, which a manifest cannot (the last such field is exported)`);
    }

    // Keys: the label when no other field of the item has it; else "<section>.<label>", made unique.
    const labelCount = new Map<string, number>();
    for (const c of fields) labelCount.set(c.label, (labelCount.get(c.label) ?? 0) + 1);
    const usedFieldKeys = new Set<string>();
    for (const c of fields) {
      if (c.label !== '' && labelCount.get(c.label) === 1) {
        c.key = c.label;
        usedFieldKeys.add(c.label);
      }
    }
    for (const c of fields) {
      if (c.key !== undefined) continue;
      const base = c.label || 'field';
      c.key = uniqueName(c.sectionKey ? `${c.sectionKey}.${base}` : base, usedFieldKeys);
    }

    const fieldsOut: Record<string, YamlField> = {};
    for (const c of fields) {
      const key = c.key!;
      const f: Record<string, unknown> = {};
      if (key !== c.label) f.label = c.label;
      if (c.sectionKey !== undefined) f.section = c.sectionKey;
      if (c.purpose) f.purpose = c.purpose;
      const defaultType: FieldType = c.purpose === 'PASSWORD' ? 'CONCEALED' : 'STRING';
      if (c.type !== defaultType) f.type = c.type;
      const value = c.live.value ?? '';
      if (isSecretField(c.type, c.purpose)) {
        // An empty secret stays unmanaged: an empty variable is refused by the manifest loader.
        if (value !== '') {
          const name = envNames.next(vault.name, itemKey, key);
          f.value = { env: name };
          variables.push({ name, address, fieldKey: key, value });
        }
      } else {
        f.value = value;
      }
      const keys = Object.keys(f);
      put(fieldsOut, key, keys.length === 1 && keys[0] === 'value' && typeof f.value === 'string' ? f.value : f);
    }
    if (Object.keys(fieldsOut).length > 0) out.fields = fieldsOut;

    if ((live.files ?? []).length > 0) {
      note(`${live.files!.length} file(s) attached, which a manifest cannot describe; they are left as they are`);
    }
    if (ignore.size > 0) out.ignore = [...ignore];
    return out;
  }

  const data = { vault: vaultRef, items };
  return { text: HEADER + toYaml(data), vaultRef, items: exported, variables, warnings };
}

const HEADER =
  '# Written by `opsync export`. No concealed value (password, concealed or one-time-password field) is in\n' +
  '# this file: each reads the environment variable its `{ env: NAME }` names (`opsync export` listed them;\n' +
  '# `--values-file` writes them out). Other fields, notes included, are as 1Password holds them: read this\n' +
  '# file before you commit it.\n';

/** Words and characters a plain scalar can hold in any place (keys, values, flow collections) and still read as itself. */
const PLAIN_SAFE = /^[A-Za-z][A-Za-z0-9 _./@+-]*$/;
const YAML_WORDS = /^(true|false|null|yes|no|on|off|y|n)$/i;

/** True when this string, as a value and as a key, reads back as itself. */
function roundTrips(text: string): boolean {
  // Most titles, labels and tags: decided without rendering three documents each.
  if (PLAIN_SAFE.test(text) && !text.endsWith(' ') && !YAML_WORDS.test(text)) return true;
  // A block scalar would keep trailing blanks that editors strip without a word: quote those instead.
  if (text.includes('\n') && /[ \t]$/m.test(text)) return false;
  const asKey: Record<string, string> = {};
  put(asKey, text, 'x');
  for (const sample of [{ a: { b: text } }, { a: asKey }, { a: [text] }]) {
    try {
      if (!isDeepStrictEqual(parse(new Document(sample).toString({ lineWidth: 0 }), { merge: true }), sample)) return false;
    } catch {
      return false;
    }
  }
  return true;
}

const FLOW_WIDTH = 100;

/** Short collections without multi-line text (tags, a url, sections, a field) read best on one line. */
function flowable(node: unknown): boolean {
  const json = JSON.stringify(isNode(node) ? node.toJSON() : node);
  return json !== undefined && json.length <= FLOW_WIDTH && !json.includes('\\n') && !json.includes('\\r');
}

function flowIn(node: unknown, what: 'items' | 'self'): void {
  if (!isCollection(node)) return;
  if (what === 'self') {
    if (flowable(node)) node.flow = true;
    return;
  }
  for (const child of node.items) {
    const value = isPair(child) ? child.value : child;
    flowIn(value, 'self');
  }
}

function render(data: unknown, quoteAll: boolean, flow: boolean): string {
  const doc = new Document(data);
  visit(doc, {
    Scalar(_key, node) {
      if (typeof node.value === 'string' && (quoteAll || !roundTrips(node.value))) node.type = Scalar.QUOTE_DOUBLE;
    },
  });
  const items = doc.get('items', true);
  if (flow && isMap(items)) {
    for (const pair of items.items) {
      const item = pair.value;
      if (!isMap(item)) continue;
      flowIn(item.get('tags', true), 'self');
      flowIn(item.get('urls', true), 'items');
      flowIn(item.get('sections', true), 'self');
      flowIn(item.get('fields', true), 'items');
      flowIn(item.get('ignore', true), 'self');
    }
  }
  return doc.toString({ lineWidth: 0, flowCollectionPadding: false });
}

function readsBack(text: string, data: unknown): boolean {
  try {
    // Read as the loader reads manifests: with merge keys, so that a key "<<" must be quoted.
    return isDeepStrictEqual(parse(text, { merge: true }), data);
  } catch {
    return false;
  }
}

/**
 * Values with `${` written `$${`, as a manifest must write them to mean them literally (the loader
 * interpolates `${...}` in every string value). Keys are left as they are: the loader interpolates none but
 * item keys, which export makes from titles without a `$`.
 */
function escapeInterpolation(v: unknown): unknown {
  // A function as the replacement: in a replacement string `$$` means one `$`.
  if (typeof v === 'string') return v.includes('${') ? v.replaceAll('${', () => '$${') : v;
  if (Array.isArray(v)) return v.map(escapeInterpolation);
  if (v === null || typeof v !== 'object') return v;
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) put(out, k, escapeInterpolation(x));
  return out;
}

/** YAML that reads back exactly as `data` (block scalars for multi-line text; double quotes where needed). */
export function toYaml(input: unknown): string {
  const data = escapeInterpolation(input);
  for (const [quoteAll, flow] of [
    [false, true],
    [false, false],
    [true, false],
  ] as const) {
    const text = render(data, quoteAll, flow);
    if (readsBack(text, data)) return text;
  }
  throw new Error('internal error: the exported manifest does not read back as written');
}
