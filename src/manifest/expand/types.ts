// The expansion stage's boundary types (see index.ts for what the stage does and in which order).

import type { JsonPath } from '../positions.js';
import type { Diagnostic, SourcePos } from '../types.js';

/** The types a variable may be declared with. */
export type VariableType = 'string' | 'number' | 'bool' | 'list' | 'map';

export interface VariableValidation {
  /** The value must equal one of these (after conversion to the variable's type). */
  allowed?: unknown[];
  /** Type string only: the value must match this regular expression (JavaScript, unanchored: write ^...$). */
  pattern?: string;
}

/** A variable's declaration: `variables: { NAME: { type, description?, default?, validation? } }`. */
export interface VariableDecl {
  type: VariableType;
  description?: string;
  default?: unknown;
  validation?: VariableValidation;
  /** Where it is declared (its name): errors about a bad value, and "declared twice", point here. */
  pos: SourcePos;
  /** Where its default is written: errors about the default point here (else at pos). */
  defaultPos?: SourcePos;
}

/**
 * What the variables are given, from outside the manifests. Precedence, lowest first: the declaration's
 * default, then OPSYNC_VAR_<NAME> from `env`, then `values`.
 */
export interface VariableInputs {
  /**
   * --var-file values, then --var values over them (merged by the caller): typed from YAML, or raw text from
   * --var (converted to the declared type: number a finite number, bool true/false, list/map YAML or JSON text).
   */
  values: Record<string, unknown>;
  /** Where OPSYNC_VAR_<NAME> is read (exact case; an empty one is unset, as {env:} sources treat it). */
  env: NodeJS.ProcessEnv;
  /** Declared outside the manifests (opsync.yaml `variables:`), with their positions. */
  declared?: Record<string, VariableDecl>;
  /**
   * Where each of `values` came from, for messages: from is "--var" or "--var-file vars.yaml"; pos where it is
   * written (a --var-file's line), if known. Without it a value is said to come from "--var".
   */
  sources?: Record<string, { from: string; pos?: SourcePos }>;
}

/** Where a path of a document is written: its last key when `atKey` (the default), else its value. */
export type Locate = (path: JsonPath, atKey?: boolean) => SourcePos;

/** One document of a file: its data and where its nodes are, or its problems (YAML, reading, expansion). */
export type ReadDoc = { data: unknown; locate: Locate } | { problems: Diagnostic[] };

/** One manifest file as read: its documents in order. */
export interface ReadFile {
  /** The file as positions name it (relative to the working folder when inside it). */
  file: string;
  docs: ReadDoc[];
  /**
   * false when the file's text cannot hold a `${` (none written, none escaped): its strings are then not
   * walked. A hint for speed; absent means it may.
   */
  mayInterpolate?: boolean;
}
