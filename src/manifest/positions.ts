// Source positions of YAML nodes, found by the JSON path of the value they hold.

import { isAlias, isMap, isPair, isScalar, isSeq, type Document, type LineCounter, type Node, type Pair, type YAMLMap } from 'yaml';
import type { SourcePos } from './types.js';

export type JsonPath = (string | number)[];

/**
 * Work done finding positions: map entries looked at. Tests read it to pin that finding the position of
 * every field of N items costs O(N), not O(N²) (a linear search of a map of N items per lookup).
 */
export const positionWork = { entries: 0 };

/** Maps with more entries than this are looked up through an index built once per map. */
const INDEX_FROM = 8;
const keyIndex = new WeakMap<YAMLMap, Map<string, Pair>>();

const keyText = (p: Pair) => (isScalar(p.key) ? String(p.key.value) : String(p.key));

/** The first entry of `map` whose key reads as `seg` (as a linear search would find it). */
function pairOf(map: YAMLMap, seg: string): Pair | undefined {
  const items = map.items as unknown[];
  if (items.length <= INDEX_FROM) {
    for (const p of items) {
      positionWork.entries++;
      if (isPair(p) && keyText(p) === seg) return p;
    }
    return undefined;
  }
  let index = keyIndex.get(map);
  if (!index) {
    index = new Map();
    for (const p of items) {
      positionWork.entries++;
      if (!isPair(p)) continue;
      const k = keyText(p);
      if (!index.has(k)) index.set(k, p);
    }
    keyIndex.set(map, index);
  }
  positionWork.entries++;
  return index.get(seg);
}

/**
 * Offsets of a document's nodes as the quick reader (quickYaml.ts) records them: a scalar is its offset, a
 * collection its offset and its entries; a flow collection whose entries were not recorded is -1 - its
 * offset, expanded when a path goes into it. Offsets are those the yaml library's node ranges start at.
 */
export type PosNode = number | PosMap | PosSeq;
export interface PosMap {
  at: number;
  /**
   * Its entries, three slots each: the key's text (String of its value, as pairOf compares keys; no two
   * alike), the key's offset, the value's node. Flat, as most maps are never looked up.
   */
  entries: (string | PosNode)[];
  /** Built at the first lookup of a map of more than INDEX_FROM entries: key text -> slot. */
  index?: Map<string, number>;
}
export interface PosSeq {
  at: number;
  items: PosNode[];
}

/** A scalar's offset, or a flow collection's recorded without its entries. */
const offsetOf = (n: number) => (n >= 0 ? n : -1 - n);

/** The slot of the entry of `map` whose key reads as `seg`, or -1. */
function slotOf(map: PosMap, seg: string): number {
  const e = map.entries;
  if (e.length <= INDEX_FROM * 3) {
    for (let s = 0; s < e.length; s += 3) {
      positionWork.entries++;
      if (e[s] === seg) return s;
    }
    return -1;
  }
  if (!map.index) {
    map.index = new Map();
    for (let s = 0; s < e.length; s += 3) {
      positionWork.entries++;
      map.index.set(e[s] as string, s);
    }
  }
  positionWork.entries++;
  return map.index.get(seg) ?? -1;
}

/** positionOf for a document the quick reader read: the same walk over its recorded offsets. */
export function positionIn(
  root: PosNode,
  lines: LineCounter,
  file: string,
  path: JsonPath,
  preferKey = true,
  /** The node of a flow collection recorded without its entries, at this offset. */
  expand?: (offset: number) => PosNode,
): SourcePos {
  let node: PosNode = root;
  let at = typeof root === 'number' ? offsetOf(root) : root.at;
  for (let i = 0; i < path.length; i++) {
    const seg = path[i];
    if (typeof node === 'number') {
      if (node >= 0 || !expand) break;
      node = expand(-1 - node);
      if (typeof node === 'number') break;
    }
    if ('entries' in node) {
      const map: PosMap = node;
      const slot = slotOf(map, String(seg));
      if (slot === -1) break;
      node = map.entries[slot + 2] as PosNode;
      at = i === path.length - 1 && preferKey ? (map.entries[slot + 1] as number) : typeof node === 'number' ? offsetOf(node) : node.at;
    } else if (typeof seg === 'number' || /^\d+$/.test(seg)) {
      const item: PosNode | undefined = node.items[Number(seg)];
      if (item === undefined) break;
      node = item;
      at = typeof item === 'number' ? offsetOf(item) : item.at;
    } else break;
  }
  const { line, col } = lines.linePos(at);
  return { file, line, col };
}

/**
 * The entry a merge key (`<<: *defaults`, or a list of them) gives `map` for `seg`: the first of its sources
 * that has it, as the yaml library merges them (the map's own keys win, then the sources in order). It is
 * written where the anchor is, so that is its position.
 */
const mergePairs = new WeakMap<YAMLMap, Pair[]>();

function mergedPair(doc: Document, map: YAMLMap, seg: string, depth = 0): Pair | undefined {
  if (depth > 16) return undefined; // merges of merges of merges: the position of the map is close enough
  // Found once per map: a missing key of a large map (a schema error) is then one lookup, not a scan.
  let merges = mergePairs.get(map);
  if (!merges) {
    merges = (map.items as unknown[]).filter((p): p is Pair => isPair(p) && isScalar(p.key) && typeof p.key.value === 'symbol');
    mergePairs.set(map, merges);
  }
  for (const p of merges) {
    const sources = isSeq(p.value) ? p.value.items : [p.value];
    for (const s of sources) {
      let source: unknown = s;
      if (isAlias(s)) {
        try {
          source = s.resolve(doc);
        } catch {
          continue;
        }
      }
      if (!isMap(source)) continue;
      const found = pairOf(source, seg) ?? mergedPair(doc, source, seg, depth + 1);
      if (found) return found;
    }
  }
  return undefined;
}

/**
 * Where `path` is written: the key of the last map entry when `preferKey`, else its value. A path that
 * goes further than the document (a missing property) stops at the deepest node that exists.
 */
export function positionOf(doc: Document, lines: LineCounter, file: string, path: JsonPath, preferKey = true): SourcePos {
  let node: unknown = doc.contents;
  let at: Node | undefined = (doc.contents as Node | null) ?? undefined;
  for (let i = 0; i < path.length; i++) {
    const seg = path[i];
    const last = i === path.length - 1;
    if (isMap(node)) {
      const pair = pairOf(node, String(seg)) ?? mergedPair(doc, node, String(seg));
      if (!pair) break;
      node = pair.value;
      at = (last && preferKey ? (pair.key as Node) : (pair.value as Node | null)) ?? (pair.key as Node);
    } else if (isSeq(node) && (typeof seg === 'number' || /^\d+$/.test(seg))) {
      // Schema paths give indices as text ("removed/3/from").
      const item = node.items[Number(seg)];
      if (!item) break;
      node = item;
      at = item as Node;
    } else {
      break;
    }
  }
  const offset = at?.range?.[0] ?? 0;
  const { line, col } = lines.linePos(offset);
  return { file, line, col };
}

/** `file:line:col`, and the expansion it is inside (`file:12:7 (for_each "production")`). */
export function formatPos(p: { file: string; line: number; col: number; instance?: string }): string {
  return `${p.file}:${p.line}:${p.col}${p.instance !== undefined ? ` (${p.instance})` : ''}`;
}
