// SCIM-style filters as 1Password Connect accepts them on the list endpoints:
//   items:  title eq "x", title co "x", title sw "x", tag eq "x"     vaults: name eq "x" (or title eq "x")
// combined with `and` / `or` (and binds tighter) and parentheses.
//
// Grammar (whitespace between tokens is ignored):
//   filter     := or EOF
//   or         := and ( "or" and )*
//   and        := primary ( "and" primary )*
//   primary    := "(" or ")" | ATTR OP STRING
//   OP         := "eq" | "co" | "sw"
//   STRING     := '"' ( any char but '"' and '\' | '\"' | '\\' )* '"'
//
// Attribute names, operators and `and`/`or` are case-insensitive (RFC 7644 §3.4.2.2). Values compare
// case-SENSITIVELY, as real Connect does (1Password/connect#73; connect-sdk-js documents title lookups as
// "case-sensitive and must be an exact-match"). An attribute whose getter returns an array matches when any
// element matches; an attribute whose getter returns undefined matches nothing.

/** Deepest nesting of parentheses accepted: the parser recurses once per level. */
export const MAX_FILTER_DEPTH = 32;

export class FilterError extends Error {
  /** 1-based column of the filter text where parsing broke. */
  readonly column: number;
  constructor(column: number, detail: string) {
    super(`invalid filter at column ${column}: ${detail}`);
    this.name = 'FilterError';
    this.column = column;
  }
}

export type FilterAttrs<T> = Record<string, (x: T) => string | string[] | undefined>;
export type Predicate<T> = (x: T) => boolean;

type Op = 'eq' | 'co' | 'sw';
const OPS: Record<Op, (have: string, want: string) => boolean> = {
  eq: (have, want) => have === want,
  co: (have, want) => have.includes(want),
  sw: (have, want) => have.startsWith(want),
};

type Token =
  | { kind: 'word'; text: string; col: number }
  | { kind: 'string'; value: string; col: number }
  | { kind: '(' | ')'; col: number }
  | { kind: 'other'; text: string; col: number }
  | { kind: 'end'; col: number };

const WORD = /[A-Za-z0-9_.]/;

class Lexer {
  private pos = 0;
  private peeked: Token | undefined;
  constructor(private readonly src: string) {}

  peek(): Token {
    this.peeked ??= this.lex();
    return this.peeked;
  }

  next(): Token {
    const t = this.peek();
    this.peeked = undefined;
    return t;
  }

  private lex(): Token {
    const s = this.src;
    while (this.pos < s.length && /\s/.test(s[this.pos])) this.pos++;
    const col = this.pos + 1;
    if (this.pos >= s.length) return { kind: 'end', col };
    const c = s[this.pos];
    if (c === '(' || c === ')') {
      this.pos++;
      return { kind: c, col };
    }
    if (c === '"') return this.lexString(col);
    if (WORD.test(c)) {
      const start = this.pos;
      while (this.pos < s.length && WORD.test(s[this.pos])) this.pos++;
      return { kind: 'word', text: s.slice(start, this.pos), col };
    }
    this.pos++;
    return { kind: 'other', text: c, col };
  }

  private lexString(col: number): Token {
    const s = this.src;
    let value = '';
    this.pos++; // opening quote
    while (this.pos < s.length) {
      const c = s[this.pos];
      if (c === '"') {
        this.pos++;
        return { kind: 'string', value, col };
      }
      if (c === '\\') {
        const e = s[this.pos + 1];
        if (e === '"' || e === '\\') {
          value += e;
          this.pos += 2;
          continue;
        }
        throw new FilterError(this.pos + 2, e === undefined
          ? `expected '\\"' or '\\\\' after '\\', found end of filter (string opened at column ${col})`
          : `expected '\\"' or '\\\\' after '\\', found ${JSON.stringify(e)}`);
      }
      value += c;
      this.pos++;
    }
    throw new FilterError(s.length + 1, `expected '"' to close the string opened at column ${col}, found end of filter`);
  }
}

function describe(t: Token): string {
  switch (t.kind) {
    case 'end':
      return 'end of filter';
    case 'string':
      return `string ${JSON.stringify(t.value)}`;
    case '(':
    case ')':
      return `"${t.kind}"`;
    default:
      return JSON.stringify(t.text);
  }
}

function list(names: string[]): string {
  const q = names.map((n) => `"${n}"`);
  return q.length <= 1 ? q.join('') : `${q.slice(0, -1).join(', ')} or ${q[q.length - 1]}`;
}

function isKeyword(t: Token, kw: string): boolean {
  return t.kind === 'word' && t.text.toLowerCase() === kw;
}

/**
 * Parses a SCIM filter and returns a predicate. Throws FilterError (with the 1-based column) on any syntax
 * error, unknown attribute (not a key of `attrs`) or unknown operator.
 */
export function compileFilter<T>(expr: string, attrs: FilterAttrs<T>, opts: { foldCase?: boolean } = {}): Predicate<T> {
  const fold = opts.foldCase ? (s: string) => s.toLowerCase() : (s: string) => s;
  const lexer = new Lexer(expr);
  const attrNames = Object.keys(attrs);
  const byLower = new Map(attrNames.map((n) => [n.toLowerCase(), n]));

  const fail = (t: Token, expected: string): never => {
    throw new FilterError(t.col, `expected ${expected}, found ${describe(t)}`);
  };

  const parseOr = (): Predicate<T> => {
    const parts = [parseAnd()];
    while (isKeyword(lexer.peek(), 'or')) {
      lexer.next();
      parts.push(parseAnd());
    }
    return parts.length === 1 ? parts[0] : (x) => parts.some((p) => p(x));
  };

  const parseAnd = (): Predicate<T> => {
    const parts = [parsePrimary()];
    while (isKeyword(lexer.peek(), 'and')) {
      lexer.next();
      parts.push(parsePrimary());
    }
    return parts.length === 1 ? parts[0] : (x) => parts.every((p) => p(x));
  };

  let depth = 0;
  const parsePrimary = (): Predicate<T> => {
    const t = lexer.next();
    if (t.kind === '(') {
      if (++depth > MAX_FILTER_DEPTH) throw new FilterError(t.col, `parentheses nest deeper than ${MAX_FILTER_DEPTH} levels`);
      const inner = parseOr();
      depth--;
      const close = lexer.next();
      if (close.kind !== ')') {
        const more = close.kind === 'end' ? '' : '"and", "or" or ';
        fail(close, `${more}")" to close the "(" at column ${t.col}`);
      }
      return inner;
    }
    if (t.kind !== 'word') return fail(t, `an attribute (${list(attrNames)}) or "("`);
    const name = byLower.get(t.text.toLowerCase());
    if (name === undefined) return fail(t, `an attribute (${list(attrNames)})`);
    const getter = attrs[name];

    const opTok = lexer.next();
    const op = opTok.kind === 'word' ? (opTok.text.toLowerCase() as Op) : undefined;
    if (op === undefined || !Object.hasOwn(OPS, op)) return fail(opTok, list(Object.keys(OPS)));
    const test = OPS[op];

    const valTok = lexer.next();
    if (valTok.kind !== 'string') return fail(valTok, 'a string in double quotes');
    const want = fold(valTok.value);

    return (x) => {
      const have = getter(x);
      if (have === undefined) return false;
      if (Array.isArray(have)) return have.some((h) => typeof h === 'string' && test(fold(h), want));
      return typeof have === 'string' && test(fold(have), want);
    };
  };

  const predicate = parseOr();
  const rest = lexer.next();
  if (rest.kind !== 'end') fail(rest, '"and", "or" or end of filter');
  return predicate;
}
