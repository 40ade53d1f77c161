// Desired vs live for one item: what differs (for people), and how to send it (an RFC 6902 patch, or a
// full replace where a patch cannot express it). Pure: no I/O, no printing.

import type { Field, FullItem, ItemInput, JsonPatchOp, Section } from '../connect/types.js';
import type { DesiredField, DesiredItem } from '../manifest/types.js';
import { sameValue } from '../connect/dates.js';
import type { AttrChange } from './types.js';
import { fieldDigest, madeWithKey, type ResolvedValues } from './digest.js';
import {
  createBody,
  desiredSections,
  desiredUrls,
  fieldBody,
  fieldIdentity,
  liveFieldSensitive,
  liveSectionKey,
  matchSections,
} from './itemBody.js';

export const REDACTED = '(sensitive)';

export interface ItemDiff {
  /** What differs, ignored paths left out. Empty: nothing to do. */
  changes: AttrChange[];
  /** The category differs: Connect cannot change it in place, the item must be recreated. */
  recreate: boolean;
  /** A field must be (re)generated: only a full replace asks Connect to generate. */
  needsPut: boolean;
  /** The patch with real values: for apply only, never serialised. */
  ops: JsonPatchOp[];
  /** The same patch with sensitive values replaced, for review. */
  redactedOps: JsonPatchOp[];
  /** The full replacement body (real values). */
  put: ItemInput;
  /** The live field each desired field was matched to, by field key (undefined: it is to be added). */
  liveFields: Map<string, Field | undefined>;
}

export interface DiffOptions {
  /** Field keys to regenerate. */
  rotate: ReadonlySet<string>;
}

function ignored(item: DesiredItem, path: string): boolean {
  return item.ignore.includes(path);
}

function fieldPath(f: { section?: string; label: string }): string {
  return f.section ? `field ${f.section}.${f.label}` : `field ${f.label}`;
}

function sameList(a: readonly unknown[], b: readonly unknown[]): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

function normUrls(urls: FullItem['urls']): unknown[] {
  return (urls ?? []).map((u) => ({ href: u.href, primary: u.primary === true, label: u.label ?? '' }));
}

function valueNote(f: DesiredField, live: Field | undefined): string {
  if (f.source.kind === 'generate') return live ? 'regenerated' : 'generated on create';
  if (f.source.kind === 'unmanaged') return 'value not managed';
  return live ? 'sensitive value changed' : 'sensitive value';
}

/** Changes shown for a new item. */
export function createChanges(item: DesiredItem): AttrChange[] {
  const changes: AttrChange[] = [
    { path: 'title', kind: 'add', sensitive: false, after: item.title },
    { path: 'category', kind: 'add', sensitive: false, after: item.category },
  ];
  if (item.tags.length) changes.push({ path: 'tags', kind: 'add', sensitive: false, after: [...item.tags] });
  if (item.urls.length) changes.push({ path: 'urls', kind: 'add', sensitive: false, after: desiredUrls(item) });
  for (const s of item.sections) changes.push({ path: `section ${s.key}`, kind: 'add', sensitive: false, after: s.label });
  for (const f of item.fields) changes.push(addFieldChange(f));
  return changes;
}

function addFieldChange(f: DesiredField): AttrChange {
  if (f.sensitive || f.source.kind !== 'literal') {
    return { path: fieldPath(f), kind: 'add', sensitive: f.sensitive, note: valueNote(f, undefined) };
  }
  return { path: fieldPath(f), kind: 'add', sensitive: false, after: f.source.value };
}

/**
 * The live field each desired field is matched to, by field key (undefined: none, the field is to be added).
 * By (section, label); several live fields can share a section and label: a template's empty built-in (real
 * Connect adds `username` to every LOGIN) beside the field opsync made. A desired field takes the one of its own
 * purpose, else one that holds a value, else any; among equals the last (as export, which keeps the last of a
 * repeated label). A purpose field not found by label is the live field of that purpose (real Connect's built-in,
 * which may carry another label): never a second one, which real Connect refuses.
 */
function matchFields(item: DesiredItem, live: FullItem, sectionIds: Map<string, string>): Map<string, Field | undefined> {
  const liveFields = live.fields ?? [];
  const liveByIdentity = new Map<string, Field[]>();
  for (const lf of liveFields) {
    const key = fieldIdentity(liveSectionKey(lf, sectionIds), lf.label);
    liveByIdentity.set(key, [...(liveByIdentity.get(key) ?? []), lf]);
  }
  const pick = (candidates: Field[], f: DesiredField): Field =>
    candidates.findLast((lf) => (lf.purpose ?? '') === (f.purpose ?? '')) ?? candidates.findLast((lf) => !!lf.value) ?? candidates[candidates.length - 1];
  const liveById = new Map<string, Field>();
  for (const f of item.fields) {
    const key = fieldIdentity(f.section, f.label);
    const candidates = liveByIdentity.get(key);
    if (candidates && !liveById.has(key)) liveById.set(key, pick(candidates, f));
  }
  const matched = new Set<Field>();
  const claimedByLabel = new Set(item.fields.map((f) => liveById.get(fieldIdentity(f.section, f.label))));
  const byPurpose = (f: DesiredField) =>
    f.purpose ? liveFields.find((lf) => lf.purpose === f.purpose && !matched.has(lf) && !claimedByLabel.has(lf)) : undefined;
  const out = new Map<string, Field | undefined>();
  for (const f of item.fields) {
    const lf = liveById.get(fieldIdentity(f.section, f.label)) ?? byPurpose(f);
    if (lf) matched.add(lf);
    out.set(f.key, lf);
  }
  return out;
}

/** The live field each desired field is matched to, by field key, as diffItem matches them. */
export function liveFieldsOf(item: DesiredItem, live: FullItem): Map<string, Field | undefined> {
  return matchFields(item, live, matchSections(item, live));
}

export function diffItem(item: DesiredItem, values: ResolvedValues, live: FullItem, opts: DiffOptions): ItemDiff {
  const changes: AttrChange[] = [];
  const ops: JsonPatchOp[] = [];
  const redactedOps: JsonPatchOp[] = [];
  const op = (o: JsonPatchOp, sensitive = false) => {
    ops.push(o);
    redactedOps.push(sensitive && 'value' in o ? { ...o, value: REDACTED } : o);
  };
  let needsPut = false;

  const recreate = item.category !== live.category && !ignored(item, 'category');
  if (recreate) changes.push({ path: 'category', kind: 'change', sensitive: false, before: live.category, after: item.category });

  const title = ignored(item, 'title') ? live.title : item.title;
  if (title !== live.title) {
    changes.push({ path: 'title', kind: 'change', sensitive: false, before: live.title, after: title });
    op({ op: 'replace', path: '/title', value: title });
  }

  const liveTags = [...(live.tags ?? [])].sort();
  const tags = ignored(item, 'tags') ? live.tags ?? [] : [...item.tags];
  if (!sameList([...tags].sort(), liveTags)) {
    changes.push({ path: 'tags', kind: 'change', sensitive: false, before: live.tags ?? [], after: tags });
    op({ op: live.tags ? 'replace' : 'add', path: '/tags', value: tags });
  }

  const urls = ignored(item, 'urls') ? live.urls ?? [] : desiredUrls(item);
  if (!sameList(normUrls(urls), normUrls(live.urls))) {
    changes.push({ path: 'urls', kind: 'change', sensitive: false, before: live.urls ?? [], after: urls });
    op({ op: live.urls ? 'replace' : 'add', path: '/urls', value: urls });
  }

  // Fields: matched by (section, label) (matchFields). Live fields the manifest does not name are removed, unless
  // ignored or empty (Connect adds empty built-in fields such as notesPlain to some categories).
  const sectionIds = matchSections(item, live);
  const liveFields = live.fields ?? [];
  const liveFor = matchFields(item, live, sectionIds);
  const matched = new Set([...liveFor.values()].filter((lf): lf is Field => lf !== undefined));
  const fieldOps: { removes: JsonPatchOp[]; changes: [JsonPatchOp, boolean][]; adds: [JsonPatchOp, boolean][] } = {
    removes: [],
    changes: [],
    adds: [],
  };
  const putFields: Field[] = [];

  for (const f of item.fields) {
    const lf = liveFor.get(f.key);
    const isIgnored = ignored(item, `fields.${f.key}`);
    const regenerate = f.source.kind === 'generate' && opts.rotate.has(f.key);
    if (!lf) {
      const body = fieldBody(f, values, sectionIds, undefined, true);
      putFields.push(body);
      changes.push(addFieldChange(f));
      if (body.generate) needsPut = true;
      fieldOps.adds.push([{ op: 'add', path: '/fields/-', value: body }, f.sensitive]);
      continue;
    }
    if (isIgnored) {
      putFields.push(lf);
      continue;
    }
    const body = fieldBody(f, values, sectionIds, lf, regenerate);
    putFields.push(body);
    const sensitive = f.sensitive || liveFieldSensitive(lf);
    const base = `/fields/${lf.id}`;
    if ((lf.label ?? '') !== f.label) {
      changes.push({ path: `${fieldPath(f)} label`, kind: 'change', sensitive: false, before: lf.label ?? '', after: f.label });
      fieldOps.changes.push([{ op: lf.label === undefined ? 'add' : 'replace', path: `${base}/label`, value: f.label }, false]);
    }
    if ((lf.type ?? 'STRING') !== f.type) {
      changes.push({ path: `${fieldPath(f)} type`, kind: 'change', sensitive: false, before: lf.type ?? 'STRING', after: f.type });
      fieldOps.changes.push([{ op: 'replace', path: `${base}/type`, value: f.type }, false]);
    }
    if ((lf.purpose ?? '') !== (f.purpose ?? '')) {
      changes.push({ path: `${fieldPath(f)} purpose`, kind: 'change', sensitive: false, before: lf.purpose ?? null, after: f.purpose ?? null });
      fieldOps.changes.push([{ op: lf.purpose ? (f.purpose ? 'replace' : 'remove') : 'add', path: `${base}/purpose`, ...(f.purpose ? { value: f.purpose } : {}) } as JsonPatchOp, false]);
    }
    if (regenerate) {
      needsPut = true;
      changes.push({ path: fieldPath(f), kind: 'change', sensitive: true, note: 'regenerated on rotation' });
    } else if (f.source.kind !== 'generate' && f.source.kind !== 'unmanaged') {
      const want = values.get(f.key) ?? '';
      if (!sameValue(f.type, lf.value ?? '', want)) {
        changes.push(
          sensitive
            ? { path: fieldPath(f), kind: 'change', sensitive: true, note: 'sensitive value changed' }
            : { path: fieldPath(f), kind: 'change', sensitive: false, before: lf.value ?? '', after: want },
        );
        fieldOps.changes.push([{ op: lf.value === undefined ? 'add' : 'replace', path: `${base}/value`, value: want }, sensitive]);
      }
    }
  }

  const keptLive: Field[] = [];
  for (const lf of liveFields) {
    if (matched.has(lf)) continue;
    const key = item.fields.find((f) => f.label === lf.label)?.key ?? lf.label ?? '';
    if (ignored(item, `fields.${key}`) || ignored(item, 'fields') || !lf.value) {
      keptLive.push(lf);
      continue;
    }
    const sk = liveSectionKey(lf, sectionIds);
    changes.push({ path: fieldPath({ section: sk, label: lf.label ?? lf.id }), kind: 'remove', sensitive: liveFieldSensitive(lf), note: 'field removed' });
    fieldOps.removes.push({ op: 'remove', path: `/fields/${lf.id}` });
  }

  // Sections: the desired ones (keeping live ids), plus live ones still holding kept fields.
  let sections: Section[] = desiredSections(item, sectionIds);
  const keptSectionIds = new Set(keptLive.map((f) => f.section?.id).filter((id): id is string => !!id));
  for (const s of live.sections ?? []) if (keptSectionIds.has(s.id) && !sections.some((d) => d.id === s.id)) sections.push(s);
  if (ignored(item, 'sections')) sections = live.sections ?? [];
  const norm = (ss: Section[]) => ss.map((s) => `${s.id}\u0000${s.label ?? ''}`).sort();
  if (!sameList(norm(sections), norm(live.sections ?? []))) {
    const liveLabels = new Map((live.sections ?? []).map((s) => [s.id, s.label ?? '']));
    for (const s of sections) {
      if (!liveLabels.has(s.id)) changes.push({ path: `section ${s.id}`, kind: 'add', sensitive: false, after: s.label });
      else if (liveLabels.get(s.id) !== (s.label ?? '')) changes.push({ path: `section ${s.id}`, kind: 'change', sensitive: false, before: liveLabels.get(s.id), after: s.label });
    }
    for (const s of live.sections ?? []) if (!sections.some((d) => d.id === s.id)) changes.push({ path: `section ${s.id}`, kind: 'remove', sensitive: false, before: s.label });
  }

  // Order: removes, then sections (new fields may live in new sections), then field changes and adds.
  for (const o of fieldOps.removes) op(o);
  if (!sameList(norm(sections), norm(live.sections ?? []))) op({ op: live.sections ? 'replace' : 'add', path: '/sections', value: sections });
  for (const [o, s] of fieldOps.changes) op(o, s);
  for (const [o, s] of fieldOps.adds) op(o, s);

  const put: ItemInput = {
    id: live.id,
    vault: live.vault,
    title,
    category: live.category,
    tags,
    urls,
    sections,
    fields: [...putFields, ...keptLive],
    ...(live.favorite !== undefined ? { favorite: live.favorite } : {}),
  };
  return { changes, recreate, needsPut, ops, redactedOps, put, liveFields: liveFor };
}

export const GENERATED_DRIFT_NOTE = 'changed outside opsync (generated value; --rotate to replace it)';

/**
 * Generated values changed outside opsync: each generated field whose digest the state records (under this
 * key) and whose live value now has another one. Not a field that is ignored, regenerated by this plan, or
 * gone from live (the diff adds it again). opsync cannot restore a generated value, so these are shown, not sent.
 */
export function generatedDrift(
  item: DesiredItem,
  liveFields: ReadonlyMap<string, Field | undefined>,
  recorded: Readonly<Record<string, string>> | undefined,
  rotate: ReadonlySet<string>,
  key: Buffer,
): AttrChange[] {
  if (!recorded) return [];
  const out: AttrChange[] = [];
  for (const f of item.fields) {
    if (f.source.kind !== 'generate' || rotate.has(f.key) || ignored(item, `fields.${f.key}`)) continue;
    const was = recorded[f.key];
    const lf = liveFields.get(f.key);
    if (was === undefined || !lf || !madeWithKey(was, key)) continue;
    if (fieldDigest(lf.value ?? '', key) !== was) out.push({ path: fieldPath(f), kind: 'change', sensitive: true, note: GENERATED_DRIFT_NOTE });
  }
  return out;
}

export { createBody };
