// A fast reader for the plain YAML manifests are written in: block mappings and sequences, one-line flow
// collections, plain and quoted one-line scalars, comments, `---` between documents. It gives what the yaml
// library's parseAllDocuments + toJS give for such text (the library's own core-schema tags resolve every
// plain scalar), and every node's offset as the library's node ranges start, for positions.
//
// Anything else (anchors, aliases, tags, block scalars, multi-line scalars or flow collections, complex
// keys, tabs, CR, control characters, a repeated key, an empty value, and every error) makes it answer
// undefined: the file is then read by the yaml library, whose errors and positions are the ones reported.
// So this reader never reports a problem and never decides what an odd document means; the library is ~10x
// slower (10,000 items: seconds) and remains the reference. A test compares both on generated documents.

import { isScalar, LineCounter, Schema } from 'yaml';
import type { PosMap, PosNode, PosSeq } from './positions.js';

type Obj = Record<string, unknown>;

export interface QuickDoc {
  /** The document as plain data, as `doc.toJS()` gives it. */
  data: Obj;
  /** Offsets of its nodes. */
  root: PosMap;
}

/** Thrown inside the reader when the text is not in the subset; caught at the top. */
class NotPlain extends Error {}
const notPlain = new NotPlain();
const bail = (): never => {
  throw notPlain;
};

interface ScalarTag {
  default?: boolean | 'key';
  collection?: string;
  test?: RegExp;
  resolve: (value: string, onError: (message: string) => void, options: object) => unknown;
}
/** The library's core schema (YAML 1.2), in its order: the first tag whose test matches resolves a plain scalar. */
const TAGS = (new Schema({}).tags as ScalarTag[]).filter((t) => t.default === true && !t.collection && t.test);
const OPTIONS = { intAsBigInt: false };
const noError = () => bail();

const table = (chars: string) => {
  const t = new Uint8Array(128);
  for (const c of chars) t[c.charCodeAt(0)] = 1;
  return t;
};
/** Only a text starting with one of these (or empty) can match a core tag other than str. */
const TAGGED_START = table('-+.~0123456789nNtTfF');
/** Characters that may not start a plain scalar here (YAML indicators, and what the library refuses). */
const NOT_PLAIN_START = table("-?:,[]{}#&*!|>'\"%@` ");
const FLOW_END = table(',[]{}');
const isIn = (t: Uint8Array, c: number) => c < 128 && t[c] === 1;

/** A plain scalar's value, as the library's core schema resolves it. */
function plainValue(s: string): unknown {
  if (s.length > 0 && !isIn(TAGGED_START, s.charCodeAt(0))) return s;
  for (const tag of TAGS) {
    if (tag.test!.test(s)) {
      const v = tag.resolve(s, noError, OPTIONS);
      return isScalar(v) ? v.value : v;
    }
  }
  return s;
}

/** Text with any of these is left to the library: tabs, CR, control characters, BOM, Unicode line breaks. */
// eslint-disable-next-line no-control-regex
const NOT_PLAIN_TEXT = /[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029\ufeff\ufffe\uffff]/;

const ESCAPES: Record<string, string> = {
  '0': '\0', a: '\x07', b: '\b', e: '\x1b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v',
  N: '\u0085', _: '\u00a0', L: '\u2028', P: '\u2029', ' ': ' ', '"': '"', '/': '/', '\\': '\\',
};
const HEX = /^[0-9a-fA-F]+$/;
/** Flow collections nested deeper are left to the library (which says how deep is too deep). */
const MAX_FLOW_DEPTH = 64;

const SPACE = 32;
const HASH = 35;
const COLON = 58;
const DQ = 34;
const SQ = 39;
const DASH = 45;
const BACKSLASH = 92;
const LBRACE = 123;
const RBRACE = 125;
const LBRACKET = 91;
const RBRACKET = 93;
const COMMA = 44;

/** Adds key: value as the library's toJS does (a key "__proto__" is an own property); a repeated key bails. */
function addPair(data: Obj, pos: PosMap | undefined, key: unknown, keyAt: number, value: unknown, vpos: PosNode): void {
  // Repeated keys (the library compares them by value: same value, same text) are reported by the library.
  // Keys it takes as different but that are one property in JS (1 and "1"), null keys and merge keys are
  // left to it too.
  if (key === null || key === '<<') bail();
  const name = typeof key === 'string' ? key : String(key);
  if (Object.hasOwn(data, name)) bail();
  if (name === '__proto__') Object.defineProperty(data, name, { value, writable: true, enumerable: true, configurable: true });
  else data[name] = value;
  pos?.entries.push(name, keyAt, vpos);
}

interface Frame {
  /** Column of its entries (keys, or '-'). */
  indent: number;
  map: Obj | undefined;
  seq: unknown[] | undefined;
  pos: PosMap | PosSeq;
}

const mapFrame = (indent: number, at: number): Frame => ({ indent, map: {}, seq: undefined, pos: { at, entries: [] } });

/** A flow collection at `offset` whose entries were not recorded: a negative number (scalars are offsets). */
export const lazyFlow = (offset: number): number => -1 - offset;

/** The node of the flow collection quickParse recorded as lazyFlow(at) in `text`, with its entries. */
export function flowNode(text: string, at: number): PosNode {
  return new Reader(text).flowAt(at);
}

/** Every document of a file in the plain subset, with its line starts; undefined for anything else. */
export function quickParse(text: string): { docs: QuickDoc[]; lines: LineCounter } | undefined {
  if (NOT_PLAIN_TEXT.test(text)) return undefined;
  try {
    const r = new Reader(text, false);
    r.read();
    return { docs: r.docs, lines: r.lines };
  } catch (err) {
    if (err === notPlain) return undefined;
    throw err;
  }
}

/**
 * The reader: one pass over the lines. Each read* method reads one node on the current line, leaves its
 * value in `val` and its node in `node` (no tuple per scalar: a manifest has hundreds of thousands), and
 * returns the offset after it.
 */
class Reader {
  readonly lines = new LineCounter();
  readonly docs: QuickDoc[] = [];
  /** The end of the current line: the offset of its \n, or of the text's end. */
  private end = 0;
  private val: unknown = undefined;
  /** Flow collections open around the one being read. */
  private depth = 0;
  private node: PosNode = 0;
  private stack: Frame[] = [];
  /** A `key:` waiting for its value on the next lines. */
  private pending: { frame: Frame; key: unknown; keyAt: number } | undefined;
  /** After an entry with its value on its line: the next line may not be more indented than this. */
  private maxIndent = Infinity;
  private inDoc = false;

  /**
   * @param flowPositions whether flow collections record their entries' offsets. quickParse leaves them out
   * (a flow collection is then the node lazyFlow(offset)); flowNode reads one again with them when a
   * position inside it is asked for, which only a problem in it does.
   */
  constructor(
    private readonly text: string,
    private readonly flowPositions = true,
  ) {}

  /** The node of the flow collection at `at`, with its entries' offsets. */
  flowAt(at: number): PosNode {
    const end = this.text.indexOf('\n', at);
    this.end = end === -1 ? this.text.length : end;
    this.flow(at);
    return this.node;
  }

  private spaces(i: number): number {
    const text = this.text;
    while (i < this.end && text.charCodeAt(i) === SPACE) i++;
    return i;
  }

  /** After a value: only spaces, then the line's end or a comment. */
  private lineEnd(i: number): void {
    const j = this.spaces(i);
    if (j === this.end || (j > i && this.text.charCodeAt(j) === HASH)) return;
    bail();
  }

  /** A quoted scalar at i, on this line. */
  private quoted(i: number): number {
    const text = this.text;
    const end = this.end;
    if (text.charCodeAt(i) === SQ) {
      let out = '';
      let j = i + 1;
      for (;;) {
        const k = text.indexOf("'", j);
        if (k === -1 || k >= end) bail();
        out += text.slice(j, k);
        if (text.charCodeAt(k + 1) === SQ && k + 1 < end) {
          out += "'";
          j = k + 2;
        } else {
          this.val = out;
          return k + 1;
        }
      }
    }
    let out = '';
    let run = i + 1; // start of the text not yet copied
    for (let j = i + 1; ; ) {
      if (j >= end) bail();
      const c = text.charCodeAt(j);
      if (c === DQ) {
        this.val = out + text.slice(run, j);
        return j + 1;
      }
      if (c !== BACKSLASH) {
        j++;
        continue;
      }
      out += text.slice(run, j);
      const n = text[j + 1];
      const e = j + 1 < end ? ESCAPES[n] : undefined;
      if (e !== undefined) {
        out += e;
        j += 2;
      } else if (n === 'x' || n === 'u' || n === 'U') {
        const len = n === 'x' ? 2 : n === 'u' ? 4 : 8;
        if (j + 2 + len > end) bail();
        const hex = text.slice(j + 2, j + 2 + len);
        if (!HEX.test(hex)) bail();
        const code = parseInt(hex, 16);
        if (code > 0x10ffff) bail();
        out += String.fromCodePoint(code);
        j += 2 + len;
      } else bail();
      run = j;
    }
  }

  /** A plain scalar of block context from i to the line's end or a comment; trailing spaces are not part of it. */
  private blockPlain(i: number): void {
    const text = this.text;
    const end = this.end;
    let last = i; // one past the last non-space character
    for (let j = i; j < end; j++) {
      const c = text.charCodeAt(j);
      if (c === SPACE) {
        if (text.charCodeAt(j + 1) === HASH) break;
      } else {
        // ": " or ":" at the line's end would be a nested mapping, which the library refuses here.
        if (c === COLON && (j + 1 === end || text.charCodeAt(j + 1) === SPACE)) bail();
        last = j + 1;
      }
    }
    this.val = plainValue(text.slice(i, last));
  }

  /** A plain scalar in a flow collection, up to , ] } (or a key's ": "): its text in `val`, and its end. */
  private flowPlain(i: number, key: boolean): number {
    const text = this.text;
    const end = this.end;
    const first = text.charCodeAt(i);
    // "-" may start one before a character that could go on it (-1, -x).
    if (isIn(NOT_PLAIN_START, first)) {
      const next = text.charCodeAt(i + 1);
      if (key || first !== DASH || i + 1 >= end || next === SPACE || isIn(FLOW_END, next)) bail();
    }
    let j = i;
    let last = i;
    for (; j < end; j++) {
      const c = text.charCodeAt(j);
      if (c === SPACE) {
        if (text.charCodeAt(j + 1) === HASH) bail();
      } else if (c === COLON) {
        const n = j + 1 < end ? text.charCodeAt(j + 1) : 10;
        if (n === SPACE || n === 10) {
          if (!key || last !== j) bail(); // a pair in a sequence, or a space before ':'
          this.val = text.slice(i, last);
          return j;
        }
        if (isIn(FLOW_END, n)) bail();
        last = j + 1;
      } else if (isIn(FLOW_END, c)) {
        if (key || c === LBRACKET || c === LBRACE) bail();
        break;
      } else last = j + 1;
    }
    if (j >= end || last === i) bail(); // not closed on this line, or empty
    this.val = text.slice(i, last);
    return last;
  }

  /** A flow collection at i ('{' or '['), closed on this line. */
  private flow(i: number): number {
    if (++this.depth > MAX_FLOW_DEPTH) bail();
    const after = this.flowBody(i);
    this.depth--;
    return after;
  }

  private flowBody(i: number): number {
    const text = this.text;
    const end = this.end;
    let j = this.spaces(i + 1);
    const lazy = this.flowPositions ? undefined : lazyFlow(i);
    if (text.charCodeAt(i) === LBRACE) {
      const data: Obj = {};
      const pos: PosMap | undefined = lazy === undefined ? { at: i, entries: [] } : undefined;
      if (text.charCodeAt(j) === RBRACE) {
        this.val = data;
        this.node = pos ?? lazy!;
        return j + 1;
      }
      for (;;) {
        const keyAt = j;
        let key: unknown;
        const c = text.charCodeAt(j);
        if (c === DQ || c === SQ) {
          j = this.quoted(j);
          key = this.val;
          if (text.charCodeAt(j) !== COLON || (j + 1 < end && text.charCodeAt(j + 1) !== SPACE)) bail();
        } else {
          j = this.flowPlain(j, true);
          key = plainValue(this.val as string);
        }
        if (j - keyAt > 1000) bail(); // the library refuses implicit keys of over 1024 characters
        j = this.spaces(j + 1);
        const v = text.charCodeAt(j);
        if (j === end || v === COMMA || v === RBRACE) bail(); // an empty value
        j = this.spaces(this.flowValue(j));
        addPair(data, pos, key, keyAt, this.val, this.node);
        const d = text.charCodeAt(j);
        if (d === COMMA) {
          j = this.spaces(j + 1);
          if (j >= end || text.charCodeAt(j) === RBRACE) bail(); // a trailing comma
        } else if (d === RBRACE) {
          this.val = data;
          this.node = pos ?? lazy!;
          return j + 1;
        } else bail();
      }
    }
    const data: unknown[] = [];
    const pos: PosSeq | undefined = lazy === undefined ? { at: i, items: [] } : undefined;
    if (text.charCodeAt(j) === RBRACKET) {
      this.val = data;
      this.node = pos ?? lazy!;
      return j + 1;
    }
    for (;;) {
      if (j >= end) bail();
      j = this.spaces(this.flowValue(j));
      data.push(this.val);
      pos?.items.push(this.node);
      const d = text.charCodeAt(j);
      if (d === COMMA) {
        j = this.spaces(j + 1);
        if (j >= end || text.charCodeAt(j) === RBRACKET) bail();
      } else if (d === RBRACKET) {
        this.val = data;
        this.node = pos ?? lazy!;
        return j + 1;
      } else bail(); // a pair in a sequence, or anything else
    }
  }

  /** A value inside a flow collection. */
  private flowValue(j: number): number {
    const c = this.text.charCodeAt(j);
    if (c === LBRACE || c === LBRACKET) return this.flow(j);
    let after: number;
    if (c === DQ || c === SQ) after = this.quoted(j);
    else {
      after = this.flowPlain(j, false);
      this.val = plainValue(this.val as string);
    }
    this.node = j;
    return after;
  }

  /** A value on the line of its key or '-': quoted, flow or plain; the rest of the line is checked. */
  private inline(v: number): void {
    const text = this.text;
    const c = text.charCodeAt(v);
    if (c === DQ || c === SQ) {
      this.lineEnd(this.quoted(v));
      this.node = v;
    } else if (c === LBRACE || c === LBRACKET) {
      this.lineEnd(this.flow(v));
    } else {
      if (isIn(NOT_PLAIN_START, c) && !(c === DASH && v + 1 < this.end && text.charCodeAt(v + 1) !== SPACE)) bail();
      this.blockPlain(v);
      this.node = v;
    }
  }

  /** Gives the value to a map entry or a sequence item of `frame`. */
  private place(frame: Frame, key: unknown, keyAt: number, value: unknown, vpos: PosNode): void {
    if (frame.map) addPair(frame.map, frame.pos as PosMap, key, keyAt, value, vpos);
    else {
      frame.seq!.push(value);
      (frame.pos as PosSeq).items.push(vpos);
    }
  }

  /** One map entry `key: ...` at i (the line's content), into `frame`. */
  private entry(frame: Frame, i: number): void {
    const text = this.text;
    const end = this.end;
    let key: unknown;
    let j: number;
    const c = text.charCodeAt(i);
    if (c === DQ || c === SQ) {
      j = this.quoted(i);
      key = this.val;
      if (text.charCodeAt(j) !== COLON || j - i > 1000) bail(); // the library refuses implicit keys of over 1024 characters
    } else {
      if (isIn(NOT_PLAIN_START, c)) bail();
      // The key ends at ": " or ":" at the line's end. A comment in it, a space before ':', flow indicators,
      // or a key the library would find too long are left to the library.
      for (j = i; ; j++) {
        if (j >= end) bail(); // not a mapping entry
        const k = text.charCodeAt(j);
        if (k === COLON) {
          if (j + 1 === end || text.charCodeAt(j + 1) === SPACE) break;
        } else if (k === SPACE) {
          if (text.charCodeAt(j + 1) === HASH || text.charCodeAt(j + 1) === COLON) bail();
        } else if (isIn(FLOW_END, k)) bail();
      }
      if (j - i > 1000) bail();
      key = plainValue(text.slice(i, j));
    }
    if (j + 1 < end && text.charCodeAt(j + 1) !== SPACE) bail();
    const v = this.spaces(j + 1);
    if (v === end || (v > j + 1 && text.charCodeAt(v) === HASH)) {
      this.pending = { frame, key, keyAt: i };
      return;
    }
    this.inline(v);
    this.place(frame, key, i, this.val, this.node);
    this.maxIndent = frame.indent;
  }

  /** Whether the content at i on this line is a mapping entry (a key and ': '), not a scalar. */
  private isEntry(i: number): boolean {
    const text = this.text;
    const end = this.end;
    const c = text.charCodeAt(i);
    if (c === DQ || c === SQ) return text.charCodeAt(this.quoted(i)) === COLON;
    if (c === LBRACE || c === LBRACKET) return false;
    for (let j = i; j < end; j++) {
      const k = text.charCodeAt(j);
      if (k === SPACE && text.charCodeAt(j + 1) === HASH) return false; // the rest is a comment
      if (k === COLON && (j + 1 === end || text.charCodeAt(j + 1) === SPACE)) return true;
    }
    return false;
  }

  /** A sequence item `- ...` at i into `frame`. */
  private item(frame: Frame, i: number): void {
    const text = this.text;
    const end = this.end;
    if (i + 1 === end || text.charCodeAt(i + 1) !== SPACE) bail(); // "-" alone, or "-x"
    const c = this.spaces(i + 1);
    const first = text.charCodeAt(c);
    if (c === end || first === HASH || (first === DASH && (c + 1 === end || text.charCodeAt(c + 1) === SPACE))) bail();
    if (this.isEntry(c)) {
      // A compact mapping: its entries at the column of its first key (i is at the frame's column).
      const inner = mapFrame(frame.indent + (c - i), c);
      this.place(frame, undefined, i, inner.map, inner.pos);
      this.stack.push(inner);
      this.maxIndent = Infinity;
      this.entry(inner, c);
      return;
    }
    this.inline(c);
    this.place(frame, undefined, i, this.val, this.node);
    this.maxIndent = frame.indent;
  }

  private endDoc(): void {
    if (this.pending || this.stack.length === 0) bail(); // an empty value or an empty document
    const root = this.stack[0];
    this.docs.push({ data: root.map!, root: root.pos as PosMap });
    this.stack = [];
    this.maxIndent = Infinity;
  }

  /** One line's content at i, indented by `indent`. */
  private line(i: number, indent: number): void {
    const text = this.text;
    const end = this.end;
    if (indent === 0) {
      if (text.startsWith('---', i) && (i + 3 === end || text.charCodeAt(i + 3) === SPACE)) {
        // A document marker alone on its line (spaces after it at most).
        if (this.spaces(i + 3) !== end) bail();
        if (this.inDoc) this.endDoc();
        this.inDoc = true;
        return;
      }
      if (text.startsWith('...', i) || text.charCodeAt(i) === 37 /* % */) bail();
    }
    if (indent > this.maxIndent) bail(); // a continuation of a scalar, or a misplaced entry
    const isItem = text.charCodeAt(i) === DASH && (i + 1 === end || text.charCodeAt(i + 1) === SPACE);
    const stack = this.stack;
    if (stack.length === 0) {
      // A document's content: a block mapping at column 0.
      if (indent !== 0 || isItem) bail();
      this.inDoc = true;
      const root = mapFrame(0, i);
      stack.push(root);
      this.entry(root, i);
      return;
    }
    const pending = this.pending;
    if (pending) {
      if (indent <= pending.frame.indent) bail(); // an empty value (or a sequence at the key's column)
      const frame: Frame = isItem ? { indent, map: undefined, seq: [], pos: { at: i, items: [] } } : mapFrame(indent, i);
      this.place(pending.frame, pending.key, pending.keyAt, frame.map ?? frame.seq, frame.pos);
      this.pending = undefined;
      stack.push(frame);
      this.maxIndent = Infinity;
      if (isItem) this.item(frame, i);
      else this.entry(frame, i);
      return;
    }
    while (stack.length > 0 && stack[stack.length - 1].indent > indent) stack.pop();
    const top = stack[stack.length - 1];
    if (!top || top.indent !== indent) bail(); // indentation that matches no open collection
    this.maxIndent = Infinity;
    if (top.seq) {
      if (!isItem) bail();
      this.item(top, i);
    } else {
      if (isItem) bail();
      this.entry(top, i);
    }
  }

  read(): void {
    const text = this.text;
    const length = text.length;
    let start = 0;
    for (;;) {
      this.lines.addNewLine(start);
      let end = text.indexOf('\n', start);
      if (end === -1) end = length;
      this.end = end;
      let i = start;
      while (i < end && text.charCodeAt(i) === SPACE) i++;
      if (i < end && text.charCodeAt(i) !== HASH) this.line(i, i - start); // not blank, not a comment
      if (end === length) break;
      start = end + 1;
    }
    if (this.stack.length > 0 || this.pending) this.endDoc();
    else if (this.inDoc) bail(); // a `---` with nothing after it
  }
}
