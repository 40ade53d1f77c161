// Current one-time codes for TOTP fields (RFC 6238), the `totp` property that real Connect adds to a TOTP
// field and that 1Password's SDKs read. All the crypto and base32 work is the `otpauth` library's.
//
// A stored value is understood as either
// - an `otpauth://totp/LABEL?secret=...` URI, honouring its `digits`, `period` and `algorithm` parameters, or
// - a bare base32 secret (case-insensitive, spaces and `=` padding allowed): 6 digits, 30 s, SHA1.
// Anything else (empty, not base32, an `otpauth://hotp/` URI, a malformed URI) yields undefined.
import { Secret, TOTP, URI } from 'otpauth';

const BASE32 = /^[A-Z2-7]+=*$/;

/** The RFC 6238 code for `stored` at `at` (default: now), or undefined when `stored` is not a TOTP secret. */
export function totpCode(stored: string, at: Date = new Date()): string | undefined {
  if (typeof stored !== 'string') return undefined;
  const timestamp = at.getTime();
  if (!Number.isFinite(timestamp)) return undefined;
  const text = stored.trim();
  try {
    if (/^otpauth:/i.test(text)) {
      const otp = URI.parse(text);
      return otp instanceof TOTP ? otp.generate({ timestamp }) : undefined;
    }
    const compact = text.replace(/\s+/g, '').toUpperCase();
    if (!BASE32.test(compact)) return undefined;
    const secret = Secret.fromBase32(compact);
    if (secret.bytes.length === 0) return undefined;
    return TOTP.generate({ secret, timestamp });
  } catch {
    return undefined; // otpauth rejects malformed URIs and parameters by throwing
  }
}
