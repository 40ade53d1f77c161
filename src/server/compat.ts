// What opsync server says exactly as real 1Password Connect says it: the version it claims, the error texts
// that clients (1Password's SDKs, the Terraform provider, External Secrets) match on, the /health body and the
// activity log's vocabulary. docs/connect-fidelity.md has the source of each; the row numbers below are its rows.

/**
 * The Connect version opsync server speaks: the version of spec/connect-openapi.yaml. Sent in the
 * `1Password-Connect-Version` header of every answer (row 28): 1Password's Go SDK refuses its file methods
 * when the header is missing or below 1.3.0, and the Terraform provider's own test server sends it.
 */
export const CONNECT_VERSION = '1.8.1';
export const VERSION_HEADER = '1Password-Connect-Version';

/** Real Connect's error texts (rows 1, 9, 15, 23, 31-33, 36). */
export const CONNECT_MESSAGES = {
  /** Row 33: what real Connect answers for any failure it does not explain. */
  somethingWentWrong: 'Something went wrong',
  /** Row 23: an overlapping write to one vault. The op CLI and 1Password's SDKs show the server's text as this. */
  conflict: 'Internal server conflict',
  /** Row 36, the spec 1.7.1's text for an inline file above the limit; placeholders filled in. */
  fileTooLargeToInline: (vaultId: string, itemId: string, fileId: string) =>
    `File is too large to inline in request. Use the /v1/vaults/${vaultId}/items/${itemId}/files/${fileId}/content endpoint instead.`,
  /** Row 15 (Connect 1.5.2 CHANGELOG; terraform-provider-onepassword #248). */
  monthYearFormat: 'values for field type monthYear must be in YYYYMM or YYYY/MM format',
  /** Row 15, by analogy with the monthYear text (no real DATE text was found). */
  dateFormat: 'values for field type date must be in YYYY-MM-DD format or a number of seconds since 1970-01-01',
  /** Row 9 (connect-sdk-python #71, Connect 1.6.1). */
  tooMany: (what: 'username' | 'password') =>
    `Logic: (Unable to parse Item), Validation: (too many "${what}" fields in Apply()), You can only use one "${what}" field.`,
} as const;

/**
 * Real Connect's item validator error (rows 1, 4, 8): `place` is its own address of the offending field,
 * `details.sections[S].fields[F]`, where section 0 holds the fields without a section and section S > 0 is the
 * item's (S-1)th section; F counts the fields of that section.
 */
export function itemValidatorError(problems: string[]): string {
  const list = problems.map((p, i) => `{${i + 1}. ${p}}`).join(', ');
  return `Validation: (validateVaultItem failed to Validate), Couldn't validate the item: "[ItemValidator] has found ${problems.length} errors, 0 warnings: \\nErrors:${list}"`;
}

/** Real Connect's /health answer (row 34): name, version and the four dependencies of a synced server. */
export function healthBody(store: { ok: boolean; file: string }) {
  return {
    name: '1Password Connect API',
    version: CONNECT_VERSION,
    dependencies: [
      store.ok
        ? { service: 'sqlite', status: 'ACTIVE', message: `Connected to ${store.file}` }
        : { service: 'sqlite', status: 'ERROR', message: 'The store does not answer' },
      { service: 'account_data', status: 'ACTIVE' },
      { service: 'sync', status: 'ACTIVE' },
      { service: '1Password', status: 'ACTIVE' },
    ],
  };
}

/** Row 35: an activity entry's action, from the request's method. */
export function activityAction(method: string): 'READ' | 'CREATE' | 'UPDATE' | 'DELETE' {
  switch (method.toUpperCase()) {
    case 'POST':
      return 'CREATE';
    case 'PUT':
    case 'PATCH':
      return 'UPDATE';
    case 'DELETE':
      return 'DELETE';
    default:
      return 'READ';
  }
}

/** Row 35: the spec knows two resource types; files are parts of their item. */
export function activityResourceType(routeTemplate: string | undefined): 'ITEM' | 'VAULT' | undefined {
  if (!routeTemplate) return undefined;
  if (routeTemplate.includes('/items')) return 'ITEM';
  if (routeTemplate.startsWith('/v1/vaults')) return 'VAULT';
  return undefined;
}

/** Row 35: `Content-Range` of an activity page, as the spec 1.7.1 shows it (`1-50/1134`). */
export function activityContentRange(offset: number, count: number, total: number): string {
  return count === 0 ? `0-0/${total}` : `${offset + 1}-${offset + count}/${total}`;
}

/** Row 36: `Content-Disposition` of a file's content, as the spec 1.7.1 shows it (`attachment; filename="privkey.pem"`). */
export function contentDisposition(name: string): string {
  // RFC 6266: the quoted form for ASCII names (quotes and backslashes escaped), plus filename* for the rest.
  const ascii = name.replace(/[^\x20-\x7e]/g, '_').replace(/["\\]/g, '\\$&');
  const plain = `attachment; filename="${ascii}"`;
  return /^[\x20-\x7e]*$/.test(name) ? plain : `${plain}; filename*=UTF-8''${encodeURIComponent(name)}`;
}

/**
 * Row 36: the largest file whose content is inlined (`inline_files=true`); real Connect's limit is
 * OP_MAX_INLINE_FILE_SIZE_KB kilobytes, whose default is not published. opsync chooses 100 KiB.
 */
export const DEFAULT_MAX_INLINE_FILE_BYTES = 100 * 1024;
