// Current one-time codes for TOTP fields (RFC 6238), the `totp` property that real Connect adds to a TOTP
// field and that 1Password's SDKs read. All the crypto and base32 work is the `otpauth` library's.
//
// A stored value is understood as either
// - an `otpauth://totp/LABEL?secret=...` URI, honouring its `digits`, `period` and `algorithm` parameters, or
// - a bare base32 secret (case-insensitive, spaces and `=` padding allowed): 6 digits, 30 s, SHA1.
// Anything else (empty, not base32, an `otpauth://hotp/` URI, a malformed URI) yields undefined.
//
// A URI's `digits` must be 6-10 and its `period` 1-3600 seconds: writes of an OTP field outside those are
// refused (otpParameterProblem, 400), and a stored one (from an older store) gets no code. Unbounded, one
// `digits=200000000` made every read of the item build a 200 MB code.
import { Secret, TOTP, URI } from 'otpauth';

export const OTP_DIGITS = { min: 6, max: 10 } as const;
/**
 * Most OTP fields an item may hold. Every read of an item computes each one's code (an HMAC) and a write
 * parses each one's URI: 1,000 of them held the server ~100 ms per read and ~300 ms per create on a loaded
 * machine. A 1Password login has one one-time password; 20 leaves room for items that keep a few accounts'.
 */
export const MAX_OTP_FIELDS = 20;
export const OTP_PERIOD_SECONDS = { min: 1, max: 3600 } as const;

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
      if (!(otp instanceof TOTP) || totpParameterProblem(otp) !== undefined) return undefined;
      return otp.generate({ timestamp });
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

function totpParameterProblem(otp: TOTP): string | undefined {
  if (!Number.isInteger(otp.digits) || otp.digits < OTP_DIGITS.min || otp.digits > OTP_DIGITS.max) {
    return `the otpauth URI's digits must be ${OTP_DIGITS.min} to ${OTP_DIGITS.max}`;
  }
  if (!Number.isInteger(otp.period) || otp.period < OTP_PERIOD_SECONDS.min || otp.period > OTP_PERIOD_SECONDS.max) {
    return `the otpauth URI's period must be ${OTP_PERIOD_SECONDS.min} to ${OTP_PERIOD_SECONDS.max} seconds`;
  }
  return undefined;
}

/**
 * Why an OTP field's value cannot be stored: an otpauth TOTP URI whose digits or period are out of range.
 * Anything else (a bare secret, a URI otpauth cannot read) is stored as given and simply gets no code.
 * Never quotes the value.
 */
export function otpParameterProblem(stored: string): string | undefined {
  const text = stored.trim();
  if (!/^otpauth:/i.test(text)) return undefined;
  let otp;
  try {
    otp = URI.parse(text);
  } catch {
    return undefined;
  }
  return otp instanceof TOTP ? totpParameterProblem(otp) : undefined;
}
