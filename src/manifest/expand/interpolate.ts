// `${...}` in strings: ${var.NAME}, ${var.NAME.key.key} (into maps and lists), ${each.key}, ${each.value},
// ${each.value.a.b}; `$${` is a literal `${`. A string that is exactly one `${...}` takes the value's own type
// (a list for `for_each: ${var.envs}`, a number for a port); inside a longer string the value must be text, a
// number or a bool. Messages name the expression and the variable, never a value (a --var may carry anything).

import { closest } from '../../plan/select.js';
import type { JsonPath } from '../positions.js';

export type VarValue = { state: 'ok'; value: unknown } | { state: 'unset' } | { state: 'broken' };

export interface Scope {
  vars: ReadonlyMap<string, VarValue>;
  /** The element of the innermost for_each, if any. */
  each?: { key: string; value: unknown };
}

/** A value, or why not: no message when the cause is reported elsewhere (a variable with a bad value). */
export type Evaluated = { ok: true; value: unknown } | { ok: false; message?: string };

type Obj = Record<string, unknown>;
export const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Sets obj[key] as the yaml library's toJS does: a key "__proto__" is an own property, not the prototype. */
export function setKey(obj: Obj, key: string, value: unknown): void {
  if (key === '__proto__') Object.defineProperty(obj, key, { value, writable: true, enumerable: true, configurable: true });
  else obj[key] = value;
}

/** A deep copy of plain data (variables' values go into many instances, which later stages change in place). */
export function cloneData(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(cloneData);
  if (isObj(v)) {
    const out: Obj = {};
    for (const k of Object.keys(v)) setKey(out, k, cloneData(v[k]));
    return out;
  }
  return v;
}

const SEGMENT = /^[A-Za-z0-9_-]+$/;
const FORMS = 'write ${var.NAME}, ${each.key} or ${each.value} (and $${ for a literal ${)';

const kindOf = (v: unknown) => (Array.isArray(v) ? 'a list' : isObj(v) ? 'a map' : v === null ? 'null' : `a ${typeof v === 'boolean' ? 'bool' : typeof v === 'number' ? 'number' : 'string'}`);

/** Follows keys into a value: map keys, list indices. */
function into(value: unknown, keys: string[], shown: string, expr: string): Evaluated {
  let v = value;
  let at = shown;
  for (const k of keys) {
    if (isObj(v) && Object.hasOwn(v, k)) v = v[k];
    else if (Array.isArray(v) && /^\d+$/.test(k) && Number(k) < v.length) v = v[Number(k)];
    else if (isObj(v) || Array.isArray(v)) return { ok: false, message: `\${${expr}}: ${at} has no ${Array.isArray(v) ? 'index' : 'key'} "${k}"` };
    else return { ok: false, message: `\${${expr}}: ${at} is ${kindOf(v)}, not a map; it has no key "${k}"` };
    at = `${at}.${k}`;
  }
  return { ok: true, value: v };
}

/** The value of one expression (the text between `${` and `}`). */
export function evaluate(raw: string, scope: Scope): Evaluated {
  const expr = raw.trim();
  const segs = expr.split('.');
  if (!segs.every((s) => SEGMENT.test(s))) return { ok: false, message: `\${${raw}} is not an expression opsync knows; ${FORMS}` };
  const [head, name, ...rest] = segs;
  if (head === 'var') {
    if (name === undefined) return { ok: false, message: `\${${raw}} names no variable; write \${var.NAME}` };
    const v = scope.vars.get(name);
    if (!v) {
      const c = closest(name, scope.vars.keys());
      const near = [...c.caseOnly, ...c.near];
      return { ok: false, message: `\${${expr}}: no variable "${name}" is declared${near.length ? `; did you mean ${near.join(' or ')}?` : ' (declare it under variables:)'}` };
    }
    if (v.state === 'broken') return { ok: false };
    if (v.state === 'unset') {
      return { ok: false, message: `\${${expr}}: variable ${name} has no value; give it with --var ${name}=..., a --var-file, OPSYNC_VAR_${name}, or a default` };
    }
    return into(v.value, rest, `variable ${name}`, expr);
  }
  if (head === 'each') {
    if (!scope.each) return { ok: false, message: `\${${expr}}: each is only set inside a for_each` };
    if (name === 'key' && rest.length === 0) return { ok: true, value: scope.each.key };
    if (name === 'value') return into(scope.each.value, rest, 'each.value', expr);
    return { ok: false, message: `\${${raw}} is not an expression opsync knows; each has key and value` };
  }
  return { ok: false, message: `\${${raw}} is not an expression opsync knows; ${FORMS}` };
}

/** A string with its `${...}` replaced and `$${` unescaped. */
export function interpolateString(s: string, scope: Scope): Evaluated {
  let k = s.indexOf('${');
  if (k === -1) return { ok: true, value: s };
  // Exactly one expression: the value keeps its type (a list, a map, a number).
  if (k === 0 && s.indexOf('}') === s.length - 1) {
    const r = evaluate(s.slice(2, -1), scope);
    return r.ok ? { ok: true, value: cloneData(r.value) } : r;
  }
  let out = '';
  let j = 0;
  for (; k !== -1; k = s.indexOf('${', j)) {
    if (k > 0 && s.charCodeAt(k - 1) === 36 /* $ */) {
      out += `${s.slice(j, k - 1)}\${`;
      j = k + 2;
      continue;
    }
    const end = s.indexOf('}', k + 2);
    if (end === -1) return { ok: false, message: `"\${" without a closing "}"; write $\${ for a literal \${` };
    const expr = s.slice(k + 2, end);
    const r = evaluate(expr, scope);
    if (!r.ok) return r;
    const v = r.value;
    if (typeof v === 'string') out += s.slice(j, k) + v;
    else if ((typeof v === 'number' && Number.isFinite(v)) || typeof v === 'boolean') out += s.slice(j, k) + String(v);
    else return { ok: false, message: `\${${expr.trim()}} is ${kindOf(v)}: only text, a number or a bool goes inside a longer string (a string that is just \${...} takes a list or a map)` };
    j = end + 1;
  }
  return { ok: true, value: out + s.slice(j) };
}

/** Reports a problem at a path of the tree being walked (relative to where the walk started). */
export type Report = (path: JsonPath, atKey: boolean, message: string | undefined) => void;

/**
 * A copy of `v` with every string value interpolated; keys as written (only item keys are interpolated, by
 * the caller). Returns undefined when anything failed (each failure reported at its path).
 */
export function interpolateTree(v: unknown, scope: Scope, report: Report): { value: unknown } | undefined {
  let failed = false;
  const path: JsonPath = [];
  const walk = (x: unknown): unknown => {
    if (typeof x === 'string') {
      if (!x.includes('${')) return x;
      const r = interpolateString(x, scope);
      if (r.ok) return r.value;
      failed = true;
      report([...path], false, r.message);
      return x;
    }
    if (Array.isArray(x)) {
      const out = new Array<unknown>(x.length);
      for (let i = 0; i < x.length; i++) {
        path.push(i);
        out[i] = walk(x[i]);
        path.pop();
      }
      return out;
    }
    if (isObj(x)) {
      const out: Obj = {};
      for (const k of Object.keys(x)) {
        path.push(k);
        setKey(out, k, walk(x[k]));
        path.pop();
      }
      return out;
    }
    return x;
  };
  const value = walk(v);
  return failed ? undefined : { value };
}
