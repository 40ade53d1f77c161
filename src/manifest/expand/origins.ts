// Where the nodes of an expanded document were written. An expanded document is new data (instances of a
// for_each, item bodies merged from templates, keys interpolated), so the positions of the document it came
// from no longer fit its paths. An origin trie records, for some output path prefixes, the source document's
// locate, the source path that prefix was written at and the instance note; a position is found by walking
// the output path down to the deepest recorded prefix and appending the rest of the path to its source path.
// A lookup is one step per path segment, whatever the number of recorded origins.

import type { JsonPath } from '../positions.js';
import type { SourcePos } from '../types.js';
import type { Locate } from './types.js';

export interface Origin {
  locate: Locate;
  /** The source path this output prefix was written at. */
  path: JsonPath;
  /** e.g. `for_each "production"`, `extends "db"`; joined with ", " when nested. */
  instance?: string;
}

export interface OriginNode {
  origin?: Origin;
  children?: Map<string, OriginNode>;
}

export const joinInstance = (outer: string | undefined, inner: string | undefined): string | undefined =>
  outer === undefined ? inner : inner === undefined ? outer : `${outer}, ${inner}`;

function nodeAt(root: OriginNode, path: JsonPath, create: boolean): OriginNode | undefined {
  let node = root;
  for (const seg of path) {
    const key = String(seg);
    let next = node.children?.get(key);
    if (!next) {
      if (!create) return undefined;
      next = {};
      (node.children ??= new Map()).set(key, next);
    }
    node = next;
  }
  return node;
}

/** Records `origin` at `path`; what was recorded under it is dropped (that subtree was replaced). */
export function setOrigin(root: OriginNode, path: JsonPath, origin: Origin): void {
  const node = nodeAt(root, path, true)!;
  node.origin = origin;
  node.children = undefined;
}

/** Drops what was recorded at and under `path`: it now comes from the origin above it. */
export function clearOrigin(root: OriginNode, path: JsonPath): void {
  if (path.length === 0) {
    root.origin = undefined;
    root.children = undefined;
    return;
  }
  const parent = nodeAt(root, path.slice(0, -1), false);
  parent?.children?.delete(String(path[path.length - 1]));
}

/** A copy of `from` under `root` at `path`, each origin's instance put after `outer`. */
export function graft(root: OriginNode, path: JsonPath, from: OriginNode, outer: string | undefined): void {
  const copy = (n: OriginNode): OriginNode => {
    const out: OriginNode = {};
    if (n.origin) out.origin = outer === undefined ? n.origin : { ...n.origin, instance: joinInstance(outer, n.origin.instance) };
    if (n.children) out.children = new Map([...n.children].map(([k, c]) => [k, copy(c)]));
    return out;
  };
  const target = nodeAt(root, path, true)!;
  const c = copy(from);
  if (c.origin) target.origin = c.origin;
  if (c.children) {
    target.children ??= new Map();
    for (const [k, v] of c.children) target.children.set(k, v);
  }
}

/** The composed locate of a document whose root origin is set. */
export function composeLocate(root: OriginNode): Locate {
  return (path: JsonPath, atKey = true): SourcePos => {
    let node = root;
    let best = root.origin!;
    let depth = 0;
    for (let i = 0; i < path.length; i++) {
      const next = node.children?.get(String(path[i]));
      if (!next) break;
      node = next;
      if (next.origin) {
        best = next.origin;
        depth = i + 1;
      }
    }
    const pos = best.locate(depth === path.length ? best.path : [...best.path, ...path.slice(depth)], atKey);
    return best.instance === undefined ? pos : { ...pos, instance: best.instance };
  };
}

/** Whether a trie maps every output path to the same path of one locate, with no note (nothing moved). */
export const isIdentity = (root: OriginNode, locate: Locate): boolean =>
  !root.children?.size && root.origin?.locate === locate && root.origin.path.length === 0 && root.origin.instance === undefined;
