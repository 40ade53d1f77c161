// canonicalJson is byte for byte what JSON.stringify with a key-sorting replacer gives (the digests of every
// state and saved plan depend on it), for any JSON-like value: checked with fast-check.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalJson } from '../../src/plan/digest.js';

const reference = (value: unknown): string =>
  JSON.stringify(value, (_key, v: unknown) => {
    if (v && typeof v === 'object' && !Array.isArray(v)) {
      return Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : 1)));
    }
    return v;
  });

describe('canonicalJson', () => {
  it('equals JSON.stringify with sorted keys for any JSON value, index-like keys and odd strings included', () => {
    // Strings that need escaping: control characters, quotes, backslashes, lone and paired surrogates, U+2028.
    const odd = fc.oneof(fc.string({ unit: 'binary-ascii' }), fc.string({ unit: 'binary' }), fc.constantFrom('\ud800', 'a\udc00b', '😀', '"', '\\', '\n', '\u2028', '\u007f', ''));
    const key = fc.oneof(fc.string(), odd, fc.constantFrom('0', '1', '10', '2', '01', '-1', '4294967294', '4294967295', '__proto__x', '__proto__', 'a', 'B'));
    const value = fc.letrec((tie) => ({
      node: fc.oneof(
        { depthSize: 'small' },
        fc.string(),
        fc.string({ unit: 'grapheme' }),
        odd,
        fc.double(),
        fc.integer(),
        fc.boolean(),
        fc.constant(null),
        fc.constant(undefined),
        fc.array(tie('node'), { maxLength: 5 }),
        fc.dictionary(key, tie('node'), { maxKeys: 6 }),
      ),
    })).node;
    fc.assert(
      fc.property(value, (v) => {
        expect(canonicalJson(v)).toBe(reference(v));
      }),
      { numRuns: 2000 },
    );
  });

  it('calls toJSON and leaves out functions, as JSON.stringify does', () => {
    const v = { d: new Date(0), f: () => 1, a: [undefined, () => 1], n: -0 };
    expect(canonicalJson(v)).toBe(reference(v));
  });
});
