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

/** A plain scalar's value; only a text starting with one of these can match a core tag other than str. */
const TAGGED_START = /^[-+.~0-9nNtTfF]/;
function plainValue(s: string): unknown {
  if (s.length > 0 && !TAGGED_START.test(s)) return s;
  for (const tag of TAGS) {
    if (tag.test!.test(s)) {
      const v = tag.resolve(s, noError, OPTIONS);
      return isScalar(v) ? v.value : v;
    }
  }
  return s;
}

/** Characters that may not start a plain scalar here (YAML indicators, and what the library refuses). */
const NOT_PLAIN_START = new Set(['-', '?', ':', ',', '[', ']', '{', '}', '#', '&', '*', '!', '|', '>', "'", '"', '%', '@', '`', ' ']);
const FLOW_END = new Set([',', '[', ']', '{', '}']);
/** Text with any of these is left to the library: tabs, CR, control characters, BOM, Unicode line breaks. */
// eslint-disable-next-line no-control-regex
const NOT_PLAIN_TEXT = /[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029\ufeff\ufffe\uffff]/;

const ESCAPES: Record<string, string> = {
  '0': '\0', a: '\x07', b: '\b', e: '\x1b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v',
  N: '\u0085', _: '\u00a0', L: '\u2028', P: '\u2029', ' ': ' ', '"': '"', '/': '/', '\\': '\\',
};

class Reader {
  /** Start of the line being read, its end (the offset of its \n or the text's end). */
  private end = 0;
  constructor(private readonly text: string) {}

  setLine(end: number): void {
    this.end = end;
  }

  get lineEnd(): number {
    return this.end;
  }

  private spaces(i: number): number {
    while (i < this.end && this.text.charCodeAt(i) === 32) i++;
    return i;
  }

  /** After a value: only spaces, then the line's end or a comment. */
  expectLineEnd(i: number): void {
    const j = this.spaces(i);
    if (j === this.end) return;
    if (this.text[j] === '#' && j > i) return;
    bail();
  }

  /** A quoted scalar starting at i (on this line): its value and the offset after it. */
  quoted(i: number): [string, number] {
    const text = this.text;
    const q = text[i];
    if (q === "'") {
      let out = '';
      let j = i + 1;
      for (;;) {
        const k = text.indexOf("'", j);
        if (k === -1 || k >= this.end) bail();
        out += text.slice(j, k);
        if (text[k + 1] === "'") {
          out += "'";
          j = k + 2;
        } else return [out, k + 1];
      }
    }
    let out = '';
    let j = i + 1;
    for (;;) {
      if (j >= this.end) bail();
      const c = text[j];
      if (c === '"') return [out, j + 1];
      if (c === '\\') {
        const n = text[j + 1];
        const e = ESCAPES[n];
        if (e !== undefined) {
          out += e;
          j += 2;
        } else if (n === 'x' || n === 'u' || n === 'U') {
          const len = n === 'x' ? 2 : n === 'u' ? 4 : 8;
          const hex = text.slice(j + 2, j + 2 + len);
          if (hex.length !== len || !/^[0-9a-fA-F]+$/.test(hex) || j + 2 + len > this.end) bail();
          const code = parseInt(hex, 16);
          if (code > 0x10ffff) bail();
          out += String.fromCodePoint(code);
          j += 2 + len;
        } else bail();
      } else {
        out += c;
        j++;
      }
    }
  }

  /** A plain scalar of block context from i to the line's end or a comment; trailing spaces are not part of it. */
  blockPlain(i: number): [string, number] {
    const text = this.text;
    let j = i;
    let last = i; // one past the last non-space character
    while (j < this.end) {
      const c = text.charCodeAt(j);
      if (c === 32) {
        if (text[j + 1] === '#') break;
      } else {
        // ": " or ":" at the line's end would be a nested mapping, which the library refuses here.
        if (c === 58 && (j + 1 === this.end || text.charCodeAt(j + 1) === 32)) bail();
        last = j + 1;
      }
      j++;
    }
    return [text.slice(i, last), last];
  }

  /** A plain scalar in a flow collection: up to , ] } (or a key's ": "). */
  private flowPlain(i: number, key: boolean): [string, number] {
    const text = this.text;
    // "-" may start one before a character that could go on it (-1, -x).
    if (NOT_PLAIN_START.has(text[i]) && !(!key && text[i] === '-' && i + 1 < this.end && text[i + 1] !== ' ' && !FLOW_END.has(text[i + 1]))) bail();
    let j = i;
    let last = i;
    while (j < this.end) {
      const c = text[j];
      if (c === ' ') {
        if (text[j + 1] === '#') bail();
      } else if (c === ':') {
        const n = j + 1 < this.end ? text[j + 1] : '\n';
        if (n === ' ' || n === '\n') {
          if (!key || last !== j) bail(); // a pair in a sequence, or a space before ':'
          return [text.slice(i, last), j];
        }
        if (FLOW_END.has(n)) bail();
        last = j + 1;
      } else if (FLOW_END.has(c)) {
        if (key || c === '[' || c === '{') bail();
        break;
      } else last = j + 1;
      j++;
    }
    if (j >= this.end || last === i) bail(); // not closed on this line, or empty
    return [text.slice(i, last), last];
  }

  /** A flow collection starting at i ('{' or '['), closed on this line. */
  flow(i: number): [unknown, PosNode, number] {
    const text = this.text;
    const open = text[i];
    const close = open === '{' ? '}' : ']';
    let j = this.spaces(i + 1);
    if (open === '{') {
      const data: Obj = {};
      const pos: PosMap = { at: i, entries: [] };
      if (text[j] === '}') return [data, pos, j + 1];
      for (;;) {
        const keyAt = j;
        let keyText: string;
        let keyValue: unknown;
        if (text[j] === '"' || text[j] === "'") {
          [keyText, j] = this.quoted(j);
          keyValue = keyText;
          if (text[j] !== ':' || (j + 1 < this.end && text[j + 1] !== ' ')) bail();
        } else {
          [keyText, j] = this.flowPlain(j, true);
          keyValue = plainValue(keyText);
        }
        if (j - keyAt > 1000) bail();
        j = this.spaces(j + 1);
        if (j === this.end || text[j] === ',' || text[j] === '}') bail(); // an empty value
        const [value, vpos, after] = this.value(j);
        addPair(data, pos, keyValue, keyAt, value, vpos);
        j = this.spaces(after);
        if (text[j] === ',') {
          j = this.spaces(j + 1);
          if (text[j] === '}' || j >= this.end) bail(); // a trailing comma
        } else if (text[j] === '}') return [data, pos, j + 1];
        else bail();
      }
    }
    const data: unknown[] = [];
    const pos: PosSeq = { at: i, items: [] };
    if (text[j] === ']') return [data, pos, j + 1];
    for (;;) {
      if (j >= this.end) bail();
      const [value, vpos, after] = this.value(j);
      data.push(value);
      pos.items.push(vpos);
      j = this.spaces(after);
      if (text[j] === ',') {
        j = this.spaces(j + 1);
        if (text[j] === ']' || j >= this.end) bail();
      } else if (text[j] === close) return [data, pos, j + 1];
      else bail(); // a pair in a sequence, or anything else
    }
  }

  /** A value inside a flow collection. */
  private value(j: number): [unknown, PosNode, number] {
    const c = this.text[j];
    if (c === '{' || c === '[') return this.flow(j);
    if (c === '"' || c === "'") {
      const [v, after] = this.quoted(j);
      return [v, j, after];
    }
    const [s, after] = this.flowPlain(j, false);
    return [plainValue(s), j, after];
  }
}

/** Adds key: value as the library's toJS does (a key "__proto__" is an own property); a repeated key bails. */
function addPair(data: Obj, pos: PosMap, key: unknown, keyAt: number, value: unknown, vpos: PosNode): void {
  // Repeated keys (the library compares them by value: same value, same text) are reported by the library.
  // Keys it takes as different but that are one property in JS (1 and "1"), null keys and merge keys are
  // left to it too.
  if (key === null || key === '<<') bail();
  const name = typeof key === 'string' ? key : String(key);
  if (Object.hasOwn(data, name)) bail();
  if (name === '__proto__') Object.defineProperty(data, name, { value, writable: true, enumerable: true, configurable: true });
  else data[name] = value;
  pos.entries.push(name, keyAt, vpos);
}

interface Frame {
  /** Column of its entries (keys, or '-'). */
  indent: number;
  map?: Obj;
  seq?: unknown[];
  pos: PosMap | PosSeq;
}

/** Every document of a file in the plain subset, with its line starts; undefined for anything else. */
export function quickParse(text: string): { docs: QuickDoc[]; lines: LineCounter } | undefined {
  if (NOT_PLAIN_TEXT.test(text)) return undefined;
  try {
    return parse(text);
  } catch (err) {
    if (err === notPlain) return undefined;
    throw err;
  }
}

function parse(text: string): { docs: QuickDoc[]; lines: LineCounter } {
  const lines = new LineCounter();
  const r = new Reader(text);
  const docs: QuickDoc[] = [];
  let stack: Frame[] = [];
  /** A `key:` (or nothing yet, at a document's start) waiting for its value on the next lines. */
  let pending: { frame: Frame; key: unknown; keyAt: number } | undefined;
  /** After an entry with its value on its line: the next line may not be more indented than this. */
  let maxIndent = Infinity;
  let inDoc = false;

  const endDoc = () => {
    if (pending || stack.length === 0) bail(); // an empty value or an empty document
    const root = stack[0];
    docs.push({ data: root.map!, root: root.pos as PosMap });
    stack = [];
    maxIndent = Infinity;
  };

  /** Gives `value` to the pending key or the frame on top: a map entry or a sequence item. */
  const place = (frame: Frame, key: unknown, keyAt: number, value: unknown, vpos: PosNode) => {
    if (frame.map) addPair(frame.map, frame.pos as PosMap, key, keyAt, value, vpos);
    else {
      frame.seq!.push(value);
      (frame.pos as PosSeq).items.push(vpos);
    }
  };

  /** One map entry `key: ...` at i (the line's content), into `frame`. */
  const entry = (frame: Frame, i: number, end: number) => {
    let key: unknown;
    let j: number;
    const c = text[i];
    if (c === '"' || c === "'") {
      let s: string;
      [s, j] = r.quoted(i);
      key = s;
      if (text[j] !== ':' || j - i > 1000) bail(); // the library refuses implicit keys of over 1024 characters
    } else {
      if (NOT_PLAIN_START.has(c)) bail();
      j = i;
      for (;;) {
        j = text.indexOf(':', j);
        if (j === -1 || j >= end) bail(); // not a mapping entry
        if (j + 1 === end || text.charCodeAt(j + 1) === 32) break;
        j++;
      }
      const raw = text.slice(i, j);
      // A comment in the key, a space before ':', flow indicators, or a key the library would find too long.
      if (raw.includes(' #') || raw.endsWith(' ') || raw.length > 1000 || /[[\]{},]/.test(raw)) bail();
      key = plainValue(raw);
    }
    if (j + 1 < end && text.charCodeAt(j + 1) !== 32) bail();
    let v = j + 1;
    while (v < end && text.charCodeAt(v) === 32) v++;
    if (v === end || (text[v] === '#' && v > j + 1)) {
      pending = { frame, key, keyAt: i };
      return;
    }
    const [value, vpos] = inlineValue(v);
    place(frame, key, i, value, vpos);
    maxIndent = frame.indent;
  };

  /** A value on the line of its key or '-': quoted, flow or plain; the rest of the line is checked. */
  const inlineValue = (v: number): [unknown, PosNode] => {
    const c = text[v];
    if (c === '"' || c === "'") {
      const [s, after] = r.quoted(v);
      r.expectLineEnd(after);
      return [s, v];
    }
    if (c === '{' || c === '[') {
      const [data, pos, after] = r.flow(v);
      r.expectLineEnd(after);
      return [data, pos];
    }
    if (NOT_PLAIN_START.has(c) && !(c === '-' && v + 1 < r.lineEnd && text.charCodeAt(v + 1) !== 32)) bail();
    const [s] = r.blockPlain(v);
    return [plainValue(s), v];
  };

  /** Whether the content at i on this line is a mapping entry (a key and ': '), not a scalar. */
  const isEntry = (i: number, end: number): boolean => {
    const c = text[i];
    if (c === '"' || c === "'") {
      const [, after] = r.quoted(i);
      return text[after] === ':';
    }
    if (c === '{' || c === '[') return false;
    for (let j = text.indexOf(':', i); j !== -1 && j < end; j = text.indexOf(':', j + 1)) {
      if (j + 1 === end || text.charCodeAt(j + 1) === 32) return !text.slice(i, j).includes(' #');
    }
    return false;
  };

  /** A sequence item `- ...` at i into `frame`. */
  const item = (frame: Frame, i: number, end: number) => {
    if (i + 1 === end || text.charCodeAt(i + 1) !== 32) bail(); // "-" alone, or "-x"
    let c = i + 1;
    while (c < end && text.charCodeAt(c) === 32) c++;
    if (c === end || text[c] === '#' || (text[c] === '-' && (c + 1 === end || text.charCodeAt(c + 1) === 32))) bail();
    if (isEntry(c, end)) {
      // A compact mapping: its entries at the column of its first key.
      const map: Obj = {};
      const pos: PosMap = { at: c, entries: [] };
      place(frame, undefined, i, map, pos);
      const inner: Frame = { indent: frame.indent + (c - i), map, pos }; // i is at the frame's column
      stack.push(inner);
      maxIndent = Infinity;
      entry(inner, c, end);
      return;
    }
    const [value, vpos] = inlineValue(c);
    place(frame, undefined, i, value, vpos);
    maxIndent = frame.indent;
  };

  let start = 0;
  while (start <= text.length) {
    lines.addNewLine(start);
    let end = text.indexOf('\n', start);
    if (end === -1) end = text.length;
    r.setLine(end);
    let i = start;
    while (i < end && text.charCodeAt(i) === 32) i++;
    const indent = i - start;
    const blank = i === end || text[i] === '#';
    if (!blank) {
      if (indent === 0 && text.startsWith('---', i) && (i + 3 === end || text.charCodeAt(i + 3) === 32)) {
        // A document marker alone on its line (spaces after it at most).
        for (let k = i + 3; k < end; k++) if (text.charCodeAt(k) !== 32) bail();
        if (inDoc) endDoc();
        inDoc = true;
      } else if (indent === 0 && (text.startsWith('...', i) || text[i] === '%')) {
        bail();
      } else {
        if (indent > maxIndent) bail(); // a continuation of a scalar, or a misplaced entry
        const isItem = text[i] === '-' && (i + 1 === end || text.charCodeAt(i + 1) === 32);
        if (stack.length === 0) {
          // A document's content: a block mapping at column 0.
          if (pending || indent !== 0 || isItem) bail();
          inDoc = true;
          const root: Frame = { indent: 0, map: {}, pos: { at: i, entries: [] } };
          stack.push(root);
          entry(root, i, end);
        } else if (pending) {
          const parent = pending.frame;
          if (indent <= parent.indent) bail(); // an empty value (or a sequence at the key's column)
          const frame: Frame = isItem
            ? { indent, seq: [], pos: { at: i, items: [] } }
            : { indent, map: {}, pos: { at: i, entries: [] } };
          place(parent, pending.key, pending.keyAt, frame.map ?? frame.seq, frame.pos);
          pending = undefined;
          stack.push(frame);
          maxIndent = Infinity;
          if (isItem) item(frame, i, end);
          else entry(frame, i, end);
        } else {
          while (stack.length > 0 && stack[stack.length - 1].indent > indent) stack.pop();
          const top = stack[stack.length - 1];
          if (!top || top.indent !== indent) bail(); // indentation that matches no open collection
          maxIndent = Infinity;
          if (top.seq) {
            if (!isItem) bail();
            item(top, i, end);
          } else {
            if (isItem) bail();
            entry(top, i, end);
          }
        }
      }
    }
    if (end === text.length) break;
    start = end + 1;
  }
  if (stack.length > 0 || pending) endDoc();
  else if (inDoc) bail(); // a `---` with nothing after it
  return { docs, lines };
}
