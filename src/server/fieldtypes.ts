// Field types real Connect answers beyond the spec's enum (items made in 1Password's apps; connect-sdk-go
// onepassword/items.go, connect-sdk-python 1.3.0): ledger rows 1-4. scripts/connect-schema.mjs adds the same
// list to schemas/connect-api.schema.json; test/server/fidelity-input.test.ts checks that the two agree.
export const RESPONSE_FIELD_TYPES = [
  'OTP',
  'SSHKEY',
  'PHONE',
  'ADDRESS',
  'REFERENCE',
  'CREDIT_CARD_NUMBER',
  'CREDIT_CARD_TYPE',
  'GENDER',
  'FILE',
  'UNKNOWN',
] as const;
