// Source positions of YAML nodes, found by the JSON path of the value they hold.

import { isMap, isPair, isScalar, isSeq, type Document, type LineCounter, type Node } from 'yaml';
import type { SourcePos } from './types.js';

export type JsonPath = (string | number)[];

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
      const pair = node.items.find((p) => isPair(p) && (isScalar(p.key) ? String(p.key.value) : String(p.key)) === String(seg));
      if (!pair) break;
      node = pair.value;
      at = (last && preferKey ? (pair.key as Node) : (pair.value as Node | null)) ?? (pair.key as Node);
    } else if (isSeq(node) && typeof seg === 'number') {
      const item = node.items[seg];
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
