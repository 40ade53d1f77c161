// Items in and out: turning a validated request body into the stored item (ids, versions, timestamps,
// generated values) and a stored item into what Connect answers (summaries for lists; full items with files
// and current TOTP codes). `generate`/`recipe` are acted on and dropped; `totp` is computed, never stored.
import type { ConnectFile, Field, FullItem, ItemCategory, ItemSummary, Section, Url } from '../connect/types.js';
import { generateValue, RecipeError } from './generate.js';
import { HttpError } from './http.js';
import { newId } from './ids.js';
import type { FileRecord, StoredItem } from './store.js';
import { MAX_OTP_FIELDS, otpParameterProblem, totpCode } from './totp.js';

export interface BuildContext {
  vaultId: string;
  /** Who is writing: the token id (or the server's own id for seeding). */
  actorId: string;
  now: string;
  /** The item being replaced, for PUT/PATCH. */
  existing?: StoredItem;
}

/** A body that already passed schema validation as a FullItem. */
export type ItemBody = Omit<Partial<FullItem>, 'files'>;

function idOrNew(id: unknown): string {
  return typeof id === 'string' && id !== '' ? id : newId();
}

/** The stored item for a create (no `existing`) or a replace. Throws 400 for what the schema cannot say. */
export function buildItem(body: ItemBody, ctx: BuildContext): StoredItem {
  if (!body.category) throw new HttpError(400, 'Invalid item: category is required');
  if (body.vault?.id !== undefined && body.vault.id !== ctx.vaultId) {
    throw new HttpError(400, "Invalid item: vault.id in the body does not match the vault in the request's path");
  }

  const sections: Section[] = [];
  const sectionIds = new Set<string>();
  (body.sections ?? []).forEach((s, i) => {
    const id = idOrNew(s.id);
    if (sectionIds.has(id)) throw new HttpError(400, `Invalid item: /sections/${i}/id repeats the id of an earlier section`);
    sectionIds.add(id);
    sections.push({ id, ...(s.label !== undefined ? { label: s.label } : {}) });
  });

  // Counted before any URI is parsed, so that the work an item costs is bounded before it is done.
  let otps = 0;
  (body.fields ?? []).forEach((f, i) => {
    if (isOtpType(f.type) && ++otps === MAX_OTP_FIELDS + 1) {
      throw new HttpError(400, `Invalid item: /fields/${i}: an item may hold at most ${MAX_OTP_FIELDS} OTP fields`);
    }
  });

  const oldFields = new Map((ctx.existing?.fields ?? []).map((f) => [f.id, f]));
  const fields: Field[] = [];
  const fieldIds = new Set<string>();
  (body.fields ?? []).forEach((f, i) => {
    const id = idOrNew(f.id);
    if (fieldIds.has(id)) throw new HttpError(400, `Invalid item: /fields/${i}/id repeats the id of an earlier field`);
    fieldIds.add(id);
    const sectionId = f.section?.id;
    if (sectionId !== undefined && !sectionIds.has(sectionId)) {
      throw new HttpError(400, `Invalid item: /fields/${i}/section/id does not name a section of this item`);
    }
    let value = f.value;
    let entropy: number | undefined;
    if (f.generate === true) {
      try {
        ({ value, entropy } = generateValue(f.recipe));
      } catch (err) {
        if (!(err instanceof RecipeError)) throw err;
        throw new HttpError(400, `Invalid item: /fields/${i}/recipe: ${err.message.replace(/^invalid recipe: /, "")}`);
      }
    } else {
      const old = oldFields.get(id);
      if (old && old.value === value && old.entropy !== undefined) entropy = old.entropy;
    }
    if (isOtpType(f.type) && typeof value === 'string') {
      const problem = otpParameterProblem(value);
      if (problem) throw new HttpError(400, `Invalid item: /fields/${i}/value: ${problem}`);
    }
    fields.push({
      id,
      ...(sectionId !== undefined ? { section: { id: sectionId } } : {}),
      type: f.type ?? 'STRING',
      ...(f.purpose ? { purpose: f.purpose } : {}),
      ...(f.label !== undefined ? { label: f.label } : {}),
      ...(value !== undefined ? { value } : {}),
      ...(entropy !== undefined ? { entropy } : {}),
    });
  });

  const urls: Url[] = (body.urls ?? []).map((u) => ({
    href: u.href,
    ...(u.primary ? { primary: true } : {}),
    ...(u.label !== undefined ? { label: u.label } : {}),
  }));

  const ex = ctx.existing;
  return {
    id: ex?.id ?? newId(),
    title: body.title ?? '',
    vault: { id: ctx.vaultId },
    category: body.category as ItemCategory,
    ...(urls.length ? { urls } : {}),
    ...(body.favorite ? { favorite: true } : {}),
    ...(body.tags?.length ? { tags: [...body.tags] } : {}),
    version: ex ? ex.version + 1 : 1,
    createdAt: ex?.createdAt ?? ctx.now,
    updatedAt: ctx.now,
    lastEditedBy: ctx.actorId,
    ...(sections.length ? { sections } : {}),
    ...(fields.length ? { fields } : {}),
  };
}

/** What the list endpoint shows of an item: metadata only. */
export function itemSummary(item: StoredItem): ItemSummary {
  return {
    id: item.id,
    title: item.title,
    vault: item.vault,
    category: item.category,
    ...(item.urls ? { urls: item.urls } : {}),
    ...(item.favorite ? { favorite: true } : {}),
    ...(item.tags ? { tags: item.tags } : {}),
    version: item.version,
    ...(item.state ? { state: item.state } : {}),
    createdAt: item.createdAt,
    updatedAt: item.updatedAt,
    ...(item.lastEditedBy ? { lastEditedBy: item.lastEditedBy } : {}),
  };
}

export function contentPath(f: FileRecord): string {
  return `/v1/vaults/${f.vaultId}/items/${f.itemId}/files/${f.id}/content`;
}

/** A file as Connect describes it; `content` (base64) only when asked for inline. */
export function fileView(f: FileRecord, content?: Buffer): ConnectFile {
  return {
    id: f.id,
    name: f.name,
    size: f.size,
    content_path: contentPath(f),
    ...(f.sectionId ? { section: { id: f.sectionId } } : {}),
    ...(content ? { content: content.toString('base64') } : {}),
  };
}

/** One-time-password field types: real Connect and its SDKs say "OTP" (connect-sdk-js getItemOTP looks for it), the spec "TOTP". */
const OTP_FIELD_TYPES = new Set<string>(['OTP', 'TOTP']);

function isOtpType(type: unknown): boolean {
  return typeof type === 'string' && OTP_FIELD_TYPES.has(type.toUpperCase());
}

/** True when fullItemView(item, files) is `item` as stored: no files to list, no OTP codes to compute. */
export function answeredAsStored(item: StoredItem, files: FileRecord[]): boolean {
  return files.length === 0 && !(item.fields ?? []).some((f) => OTP_FIELD_TYPES.has(f.type ?? '') && f.value);
}

/**
 * A stored item as GET/POST/PUT/PATCH answer it: with its files and current TOTP codes. A code is computed
 * once per distinct value, for at most MAX_OTP_FIELDS values (an item an older server stored with more OTP
 * fields costs no more to read: its later ones are answered without `totp`).
 */
export function fullItemView(item: StoredItem, files: FileRecord[], at: Date = new Date()): FullItem {
  const codes = new Map<string, string | undefined>();
  const fields = item.fields?.map((f) => {
    if (!OTP_FIELD_TYPES.has(f.type ?? '') || !f.value) return f;
    let code = codes.get(f.value);
    if (code === undefined && !codes.has(f.value)) {
      if (codes.size === MAX_OTP_FIELDS) return f;
      code = totpCode(f.value, at);
      codes.set(f.value, code);
    }
    return code === undefined ? f : { ...f, totp: code };
  });
  return {
    ...item,
    ...(fields ? { fields } : {}),
    ...(files.length ? { files: files.map((f) => fileView(f)) } : {}),
  };
}
