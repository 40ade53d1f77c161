// Desired items in Connect's shape: the bodies opsync sends, and how fields and sections are matched to live.
// Pure functions; values come in as a map resolved elsewhere.

import { isSecretField, type Field, type FullItem, type ItemInput, type Section, type Url } from '../connect/types.js';
import type { DesiredField, DesiredItem } from '../manifest/types.js';
import type { ResolvedValues } from './digest.js';

/** A field or section whose value must never be shown, judged from what live says. */
export function liveFieldSensitive(f: Field): boolean {
  return isSecretField(f.type, f.purpose);
}

/**
 * Desired section key -> live section id: matched by id first (all of them), then by label among the live
 * sections still free, else a new id. No two keys get one id: real Connect refuses a repeated section id.
 */
export function matchSections(desired: DesiredItem, live: FullItem | undefined): Map<string, string> {
  const liveSections = live?.sections ?? [];
  const taken = new Set<string>();
  const byId = new Map<string, string>();
  for (const s of desired.sections) {
    if (liveSections.some((l) => l.id === s.key)) {
      byId.set(s.key, s.key);
      taken.add(s.key);
    }
  }
  const out = new Map<string, string>();
  for (const s of desired.sections) {
    let id = byId.get(s.key) ?? liveSections.find((l) => l.label === s.label && !taken.has(l.id))?.id;
    if (id === undefined) {
      // A new section: its key, unless a live section (matched to another key) already has that id.
      id = s.key;
      for (let n = 2; taken.has(id) || liveSections.some((l) => l.id === id); n++) id = `${s.key}-${n}`;
    }
    taken.add(id);
    out.set(s.key, id);
  }
  return out;
}

/** Identity of a field within an item: its section (desired key, or a live-only marker) and its label. */
export function fieldIdentity(sectionKey: string | undefined, label: string | undefined): string {
  return `${sectionKey ?? ''}\u0000${label ?? ''}`;
}

export function liveSectionKey(f: Field, sectionIds: Map<string, string>): string | undefined {
  const id = f.section?.id;
  if (!id) return undefined;
  for (const [key, liveId] of sectionIds) if (liveId === id) return key;
  return `live:${id}`;
}

export function desiredUrls(item: DesiredItem): Url[] {
  return item.urls.map((u) => ({ href: u.href, ...(u.primary ? { primary: true } : {}), ...(u.label ? { label: u.label } : {}) }));
}

export function desiredSections(item: DesiredItem, sectionIds: Map<string, string>): Section[] {
  return item.sections.map((s) => ({ id: sectionIds.get(s.key) ?? s.key, label: s.label }));
}

/** The ids real Connect gives the built-in fields of its category templates, by purpose. */
export const BUILTIN_FIELD_IDS: Readonly<Record<string, string>> = { USERNAME: 'username', PASSWORD: 'password', NOTES: 'notesPlain' };

/** A desired field as Connect takes it. `liveField` keeps its id and, for unmanaged or kept values, its value. */
export function fieldBody(
  f: DesiredField,
  values: ResolvedValues,
  sectionIds: Map<string, string>,
  liveField: Field | undefined,
  regenerate: boolean,
): Field {
  const body: Field = {
    id: liveField?.id ?? '',
    label: f.label,
    type: f.type,
    ...(f.purpose ? { purpose: f.purpose } : {}),
    ...(f.section ? { section: { id: sectionIds.get(f.section) ?? f.section } } : {}),
  };
  if (!liveField) {
    // Purpose fields are sent with the ids of the category's built-in fields: real Connect may otherwise keep the
    // built-in empty and make ours a separate field (so the item's real password would stay unset).
    const builtin = f.purpose ? BUILTIN_FIELD_IDS[f.purpose] : undefined;
    if (builtin) body.id = builtin;
    else delete (body as Partial<Field>).id;
  }
  const src = f.source;
  if (src.kind === 'generate') {
    if (regenerate || !liveField) {
      body.generate = true;
      body.recipe = src.recipe;
    } else {
      body.value = liveField.value ?? '';
    }
  } else if (src.kind === 'unmanaged') {
    body.value = liveField?.value ?? '';
  } else {
    body.value = values.get(f.key) ?? '';
  }
  return body;
}

/** The body of a create request. */
export function createBody(item: DesiredItem, values: ResolvedValues): ItemInput {
  const sectionIds = matchSections(item, undefined);
  return {
    title: item.title,
    category: item.category,
    tags: [...item.tags],
    urls: desiredUrls(item),
    sections: desiredSections(item, sectionIds),
    fields: item.fields.map((f) => fieldBody(f, values, sectionIds, undefined, true)),
  };
}
