import { Secret } from 'otpauth';
import { describe, expect, it } from 'vitest';
import { fullItemView } from '../../src/server/items.js';
import { MAX_OTP_FIELDS, totpCode } from '../../src/server/totp.js';

// RFC 6238 Appendix B: the seeds are ASCII strings of 20, 32 and 64 bytes; codes have 8 digits, period 30 s.
const SEEDS = {
  SHA1: '12345678901234567890',
  SHA256: '12345678901234567890123456789012',
  SHA512: '1234567890123456789012345678901234567890123456789012345678901234',
} as const;

const VECTORS: [seconds: number, sha1: string, sha256: string, sha512: string][] = [
  [59, '94287082', '46119246', '90693936'],
  [1111111109, '07081804', '68084774', '25091201'],
  [1111111111, '14050471', '67062674', '99943326'],
  [1234567890, '89005924', '91819424', '93441116'],
  [2000000000, '69279037', '90698825', '38618901'],
  [20000000000, '65353130', '77737706', '47863826'],
];

const base32 = (ascii: string) => Secret.fromLatin1(ascii).base32;

describe('totpCode: RFC 6238 Appendix B test vectors', () => {
  it('the SHA1 seed in base32 is the well-known one', () => {
    expect(base32(SEEDS.SHA1)).toBe('GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ');
  });

  for (const [seconds, ...codes] of VECTORS) {
    (['SHA1', 'SHA256', 'SHA512'] as const).forEach((algorithm, i) => {
      it(`T=${seconds} ${algorithm} -> ${codes[i]}`, () => {
        const uri = `otpauth://totp/RFC6238:test?secret=${base32(SEEDS[algorithm])}&digits=8&period=30&algorithm=${algorithm}`;
        expect(totpCode(uri, new Date(seconds * 1000))).toBe(codes[i]);
      });
    });
  }
});

describe('totpCode: otpauth URIs', () => {
  const secret = base32(SEEDS.SHA1);
  const at = new Date(59_000);

  it('defaults to 6 digits, 30 s, SHA1 (the last 6 digits of the 8-digit vector)', () => {
    expect(totpCode(`otpauth://totp/Acme:alice?secret=${secret}&issuer=Acme`, at)).toBe('287082');
  });

  it('honours period', () => {
    // with period 60, T=59 is counter 0; with period 30 counter 1
    const p60 = totpCode(`otpauth://totp/x?secret=${secret}&period=60&digits=8`, at);
    const p30At0 = totpCode(`otpauth://totp/x?secret=${secret}&period=30&digits=8`, new Date(0));
    expect(p60).toBe(p30At0);
    expect(p60).not.toBe('94287082');
  });

  it('changes with time', () => {
    const uri = `otpauth://totp/x?secret=${secret}`;
    expect(totpCode(uri, new Date(0))).not.toBe(totpCode(uri, new Date(30_000)));
    expect(totpCode(uri, new Date(30_000))).toBe(totpCode(uri, new Date(59_999)));
  });

  it('accepts lowercase secrets and surrounding whitespace', () => {
    expect(totpCode(`  otpauth://totp/x?secret=${secret.toLowerCase()}&digits=8  `, at)).toBe('94287082');
  });

  it('uses the current time by default', () => {
    expect(totpCode(`otpauth://totp/x?secret=${secret}`)).toMatch(/^[0-9]{6}$/);
  });
});

describe('totpCode: bare base32 secrets', () => {
  const at = new Date(59_000);
  it('computes a 6-digit SHA1 code', () => {
    expect(totpCode('GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ', at)).toBe('287082');
  });

  it('is case-insensitive and allows spaces and padding', () => {
    expect(totpCode('gezd gnbv gy3t qojq gezd gnbv gy3t qojq', at)).toBe('287082');
    expect(totpCode('JBSWY3DPEHPK3PXP', at)).toBe(totpCode('jbswy3dpehpk3pxp', at));
    expect(totpCode('JBSWY3DPEHPK3PXP====', at)).toBe(totpCode('JBSWY3DPEHPK3PXP', at));
  });
});

describe('totpCode: anything else is undefined', () => {
  it.each([
    ['empty', ''],
    ['spaces', '   '],
    ['not base32', 'hunter2!'],
    ['base32 with 1 and 8', 'JBSW1888'],
    ['too short to hold a byte', 'A'],
    ['an HOTP URI', 'otpauth://hotp/x?secret=JBSWY3DPEHPK3PXP&counter=1'],
    ['a URI without a secret', 'otpauth://totp/x?digits=6'],
    ['a URI with a bad algorithm', 'otpauth://totp/x?secret=JBSWY3DPEHPK3PXP&algorithm=MD5'],
    ['a URI with bad digits', 'otpauth://totp/x?secret=JBSWY3DPEHPK3PXP&digits=abc'],
    ['a URI with period 0', 'otpauth://totp/x?secret=JBSWY3DPEHPK3PXP&period=0'],
    ['an https URL', 'https://example.com/?secret=JBSWY3DPEHPK3PXP'],
  ])('%s', (_why, value) => {
    expect(totpCode(value, new Date(0))).toBeUndefined();
  });

  it('an invalid date', () => {
    expect(totpCode('JBSWY3DPEHPK3PXP', new Date(Number.NaN))).toBeUndefined();
  });
});

describe('fullItemView: codes for at most MAX_OTP_FIELDS OTP values per read', () => {
  it('an item stored with more OTP fields (by an older server) gets codes for the first ones only; repeated values share one', () => {
    const secrets = Array.from({ length: MAX_OTP_FIELDS + 5 }, (_, i) => base32(`seed-${String(i).padStart(3, '0')}-0123456789`));
    const fields = [
      ...secrets.map((s, i) => ({ id: `o${i}`, type: 'OTP' as const, value: s })),
      { id: 'again', type: 'OTP' as const, value: secrets[0] },
    ];
    const item = { id: 'i'.repeat(26), title: 't', vault: { id: 'v'.repeat(26) }, category: 'LOGIN' as const, version: 1, createdAt: '', updatedAt: '', fields };
    const at = new Date(59_000);
    const view = fullItemView(item, [], at);
    const codes = view.fields!.map((f) => (f as { totp?: string }).totp);
    expect(codes.slice(0, MAX_OTP_FIELDS)).toEqual(secrets.slice(0, MAX_OTP_FIELDS).map((s) => totpCode(s, at)));
    expect(codes.slice(MAX_OTP_FIELDS, -1)).toEqual(Array(5).fill(undefined));
    expect(codes.at(-1)).toBe(codes[0]);
  });
});
