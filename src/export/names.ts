// Names `opsync export` derives from live items: resource keys, section keys and environment variables.
// Pure functions, no I/O.
//
// Item keys: the item's title, lowercased, every run of characters outside [a-z0-9] replaced by "-",
// leading and trailing "-" trimmed ("Primary DB (eu)" -> "primary-db-eu"); an empty result is "item".
// When two items of one export give the same key, the later ones (in title order, then creation) get
// "-2", "-3", ...
//
// Environment variables, one per secret field with a value:
//
//   OPSYNC_<VAULT>_<ITEMKEY>_<FIELDKEY>
//
// VAULT is the vault's name, ITEMKEY the item's resource key and FIELDKEY the field's key in the manifest
// (its label, or "<section>.<label>" when the label is used more than once in the item). The whole is
// uppercased, every run of characters outside [A-Z0-9] becomes a single "_", and leading or trailing "_"
// are trimmed: vault "Production", item "db-primary", field "connection.api key" ->
// OPSYNC_PRODUCTION_DB_PRIMARY_CONNECTION_API_KEY. When two fields of one export give the same name,
// the later ones get "_2", "_3", ... (the first free one), so every variable of an export is distinct.
// opsync's own variables (OPSYNC_STATE, OPSYNC_CONFIG, ...) are never given out: a name that would be one
// (vault "state" with nothing else that survives the rule, say) gets "_2" too, so that loading the values
// file can never turn a secret into a setting.

/** Lowercase; runs of characters outside [a-z0-9] -> "-"; trimmed of "-". May be empty. */
export function slug(text: string): string {
  return text
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '');
}

/** `base`, else `base<sep>2`, `base<sep>3`, ...: the first one not in `used`, which it is added to. */
export function uniqueName(base: string, used: Set<string>, sep = '-'): string {
  let name = base;
  for (let n = 2; used.has(name); n++) name = `${base}${sep}${n}`;
  used.add(name);
  return name;
}

/** An item's resource key from its title (not yet made unique). */
export function itemKeyBase(title: string): string {
  return slug(title) || 'item';
}

/** `OPSYNC_<VAULT>_<ITEMKEY>_<FIELDKEY>` (not yet made unique); see the rule at the top of this file. */
export function envNameBase(vault: string, itemKey: string, fieldKey: string): string {
  return `OPSYNC_${vault}_${itemKey}_${fieldKey}`
    .toUpperCase()
    .replace(/[^A-Z0-9]+/g, '_')
    .replace(/^_+|_+$/g, '');
}

/** The variables opsync itself reads. */
const OWN_VARIABLES = ['OPSYNC_CONFIG', 'OPSYNC_DIGEST_KEY', 'OPSYNC_PARALLELISM', 'OPSYNC_STATE'];

/** Allocates the environment variables of one export: every name distinct, none of opsync's own. */
export class EnvNames {
  private readonly used = new Set<string>(OWN_VARIABLES);

  next(vault: string, itemKey: string, fieldKey: string): string {
    return uniqueName(envNameBase(vault, itemKey, fieldKey), this.used, '_');
  }
}
