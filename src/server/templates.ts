// Category templates: the built-in fields real Connect gives every item of a category, with fixed ids
// (ledger rows 8-12). What the sources show:
// - LOGIN has `username` (STRING, USERNAME), `password` (CONCEALED, PASSWORD) and `notesPlain` (STRING, NOTES);
//   PASSWORD has `password` and `notesPlain` (terraform-provider-onepassword state_to_model.go; its e2e test
//   item_data_source_test.go reads an empty `username` back after a PUT without fields, "Connect behavior").
// - Every other category has `notesPlain` (the Ansible collection's USAGEGUIDE shows a SERVER item answered with
//   its own field and an empty `notesPlain`, nothing else; const.py calls notesPlain "Server-generated").
// Built-ins are present, empty, when not sent, and come back (empty) after a PUT or PATCH without them.
//
// Purpose fields, as Connect reads them:
// - a field sent without an id but with a purpose the template has a built-in for takes the built-in's id (this
//   is how 1Password's JS SDK ItemBuilder and the Python SDK's examples set a login's username and password);
// - a USERNAME/PASSWORD field sent with another (explicit) id does not set the item's own username/password: it becomes a
//   separate field and loses the purpose (connect-sdk-js #108, row 12), the built-in stays as it was sent (empty);
// - a field with a built-in id gets the built-in's purpose, label and type where it sends none;
// - USERNAME/PASSWORD/NOTES fields without a label get the built-in's label (Connect 1.5.0, row 10);
// - more than one USERNAME or PASSWORD field is refused with Connect's text (connect-sdk-python #71, row 9);
// - a PASSWORD item needs its password: a concealed `password` field with a value or generate (row 8).
import type { Field } from '../connect/types.js';
import { CONNECT_MESSAGES, itemValidatorError } from './compat.js';
import { HttpError } from './http.js';

export interface BuiltInField {
  id: string;
  type: 'STRING' | 'CONCEALED';
  purpose: 'USERNAME' | 'PASSWORD' | 'NOTES';
  label: string;
}

const USERNAME: BuiltInField = { id: 'username', type: 'STRING', purpose: 'USERNAME', label: 'username' };
const PASSWORD: BuiltInField = { id: 'password', type: 'CONCEALED', purpose: 'PASSWORD', label: 'password' };
const NOTES: BuiltInField = { id: 'notesPlain', type: 'STRING', purpose: 'NOTES', label: 'notesPlain' };

const TEMPLATES: Record<string, BuiltInField[]> = {
  LOGIN: [USERNAME, PASSWORD, NOTES],
  PASSWORD: [PASSWORD, NOTES],
};

/** The built-in fields of a category, in the template's order. */
export function builtInFields(category: string): readonly BuiltInField[] {
  return TEMPLATES[category] ?? [NOTES];
}

const LABELS: Record<string, string> = { USERNAME: 'username', PASSWORD: 'password', NOTES: 'notesPlain' };

type InField = Omit<Partial<Field>, 'type' | 'purpose'> & { type?: string; purpose?: string };

export interface TemplateOptions {
  /** Seeds stand for items made in 1Password's apps: the write-only checks (row 8) do not apply to them. */
  seed?: boolean;
}

/**
 * The item's fields as Connect keeps them: the fields sent, in their order, then the template's built-ins that
 * were not sent, empty, in the template's order (no source shows where Connect puts them). Throws 400 HttpError with Connect's text for rows 8 and 9.
 * `fields` are normalised input (no nulls, no empty ids, upper-case types); they are not modified.
 */
export function applyCategoryTemplate(category: string, fields: InField[] | undefined, opts: TemplateOptions = {}): InField[] {
  const builtIns = builtInFields(category);
  const byId = new Map(builtIns.map((b) => [b.id, b]));
  const byPurpose = new Map(builtIns.map((b) => [b.purpose, b]));
  const list = (fields ?? []).map((f) => ({ ...f }));

  const taken = new Set(list.map((f) => f.id).filter((id): id is string => typeof id === 'string'));
  for (const f of list) {
    const b = f.purpose ? byPurpose.get(f.purpose as BuiltInField['purpose']) : undefined;
    if (f.id === undefined && b && !taken.has(b.id)) {
      f.id = b.id;
      taken.add(b.id);
    }
  }
  for (const f of list) {
    const own = f.id !== undefined ? byId.get(f.id) : undefined;
    if (own) {
      f.purpose ??= own.purpose;
      f.type ??= own.type;
    } else if (f.id !== undefined && (f.purpose === 'USERNAME' || f.purpose === 'PASSWORD') && byPurpose.has(f.purpose)) {
      // Row 12: not the item's own username/password, only a field that looks like it.
      delete f.purpose;
    }
    if (f.purpose && LABELS[f.purpose] && (f.label === undefined || f.label === '')) f.label = LABELS[f.purpose];
  }

  for (const purpose of ['USERNAME', 'PASSWORD'] as const) {
    if (list.filter((f) => f.purpose === purpose).length > 1) {
      throw new HttpError(400, CONNECT_MESSAGES.tooMany(purpose === 'USERNAME' ? 'username' : 'password'));
    }
  }

  // Sent fields keep their places (so errors and PATCH indices name what was sent); missing built-ins follow.
  const missing = builtIns.filter((b) => !list.some((f) => f.id === b.id)).map((b) => ({ id: b.id, type: b.type, purpose: b.purpose, label: b.label }));
  const result: InField[] = [...list, ...missing];

  if (!opts.seed && category === 'PASSWORD') {
    const pw = result.find((f) => f.id === PASSWORD.id)!;
    const hasValue = (typeof pw.value === 'string' && pw.value !== '') || pw.generate === true;
    if (pw.type !== 'CONCEALED' || !hasValue) {
      throw new HttpError(
        400,
        itemValidatorError(['details.sections[0].fields[password]: a Password item needs a concealed password field with a value (or generate: true)']),
      );
    }
  }
  return result;
}
