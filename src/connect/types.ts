// The 1Password Connect data model, as the API (spec/connect-openapi.yaml) and real Connect speak it.
// Shared by the client (src/connect), the engine (src/plan, src/apply) and our own server (src/server).

export const ITEM_CATEGORIES = [
  'LOGIN',
  'PASSWORD',
  'API_CREDENTIAL',
  'SERVER',
  'DATABASE',
  'CREDIT_CARD',
  'MEMBERSHIP',
  'PASSPORT',
  'SOFTWARE_LICENSE',
  'OUTDOOR_LICENSE',
  'SECURE_NOTE',
  'WIRELESS_ROUTER',
  'BANK_ACCOUNT',
  'DRIVER_LICENSE',
  'IDENTITY',
  'REWARD_PROGRAM',
  'DOCUMENT',
  'EMAIL_ACCOUNT',
  'SOCIAL_SECURITY_NUMBER',
  'MEDICAL_RECORD',
  'SSH_KEY',
  'CUSTOM',
] as const;
export type ItemCategory = (typeof ITEM_CATEGORIES)[number];

/** The spec's field types, plus OTP: what real Connect and its SDKs call one-time-password fields. */
export const FIELD_TYPES = ['STRING', 'EMAIL', 'CONCEALED', 'URL', 'TOTP', 'OTP', 'DATE', 'MONTH_YEAR', 'MENU'] as const;
export type FieldType = (typeof FIELD_TYPES)[number];

export const FIELD_PURPOSES = ['USERNAME', 'PASSWORD', 'NOTES'] as const;
export type FieldPurpose = (typeof FIELD_PURPOSES)[number];

/**
 * A field whose value is a secret, as 1Password conceals it: concealed and one-time-password fields, and
 * the password of a login. Manifests refuse literals there, plans never show them, export never writes them.
 */
export function isSecretField(type: FieldType | undefined, purpose: FieldPurpose | undefined): boolean {
  return type === 'CONCEALED' || type === 'TOTP' || type === 'OTP' || purpose === 'PASSWORD';
}

export const CHARACTER_SETS = ['LETTERS', 'DIGITS', 'SYMBOLS'] as const;
export type CharacterSet = (typeof CHARACTER_SETS)[number];

export const VAULT_TYPES = ['USER_CREATED', 'PERSONAL', 'EVERYONE', 'TRANSFER'] as const;
export type VaultType = (typeof VAULT_TYPES)[number];

/** Ids as real Connect gives them: 26 lowercase alphanumerics (not UUIDs). */
export const CONNECT_ID = /^[a-z0-9]{26}$/;

export interface VaultRef {
  id: string;
}

export interface Vault {
  id: string;
  name: string;
  description?: string;
  attributeVersion: number;
  contentVersion: number;
  items: number;
  type: VaultType;
  createdAt: string;
  updatedAt: string;
}

export interface Url {
  href: string;
  primary?: boolean;
  label?: string;
}

export interface Section {
  id: string;
  label?: string;
}

export interface SectionRef {
  id: string;
}

export interface GeneratorRecipe {
  length?: number;
  characterSets?: CharacterSet[];
  excludeCharacters?: string;
}

export interface Field {
  id: string;
  section?: SectionRef;
  type?: FieldType;
  purpose?: FieldPurpose;
  label?: string;
  value?: string;
  /** Request only: ask Connect to generate the value. Never stored or echoed back as data. */
  generate?: boolean;
  /** Request only, with generate. */
  recipe?: GeneratorRecipe;
  /** Response only: strength of a generated value. */
  entropy?: number;
  /** Response only, TOTP fields: the current code. */
  totp?: string;
}

/** An item as the list endpoint returns it: metadata only, no fields or values. */
export interface ItemSummary {
  id: string;
  title: string;
  vault: VaultRef;
  category: ItemCategory;
  urls?: Url[];
  favorite?: boolean;
  tags?: string[];
  version: number;
  state?: 'ARCHIVED' | 'DELETED';
  createdAt: string;
  updatedAt: string;
  lastEditedBy?: string;
}

export interface ConnectFile {
  id: string;
  name: string;
  size: number;
  content_path: string;
  section?: SectionRef;
  /** base64, only with inline_files=true */
  content?: string;
}

export interface FullItem extends ItemSummary {
  fields?: Field[];
  sections?: Section[];
  files?: ConnectFile[];
}

/** What a client sends to create or replace an item: server-assigned properties are optional. */
export type ItemInput = Omit<FullItem, 'id' | 'version' | 'createdAt' | 'updatedAt' | 'lastEditedBy' | 'vault'> & {
  id?: string;
  vault?: VaultRef;
  version?: number;
};

export interface JsonPatchOp {
  op: 'add' | 'remove' | 'replace';
  path: string;
  value?: unknown;
}

export interface ApiRequest {
  requestId: string;
  timestamp: string;
  action: string;
  result: 'SUCCESS' | 'DENY';
  actor: {
    /** The token's id; absent for a request without a valid token. */
    id?: string;
    account: string;
    /** Absent for a request without a valid token. */
    jti?: string;
    userAgent: string;
    requestIp: string;
  };
  resource: {
    type: string;
    vault?: VaultRef;
    item?: { id: string };
    itemVersion?: number;
  };
}

export interface ServerHealth {
  name: string;
  version: string;
  dependencies: { service: string; status: 'ACTIVE' | 'INACTIVE' | 'ERROR'; message?: string }[];
}

/** Every Connect error body. */
export interface ErrorBody {
  status: number;
  message: string;
}
