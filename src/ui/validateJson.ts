// `opsync validate --format json`: the result as one JSON document (schemas/validate-output.schema.json), every
// diagnostic at its place. Positions name files relative to the working folder, as the text lines do.

import { relative } from 'node:path';
import type { Diagnostic } from '../manifest/types.js';
import { VERSION } from '../version.js';
import { escapeJsonControls } from './events.js';

export const VALIDATE_JSON_FORMAT_VERSION = '1.0';

export interface ValidateJson {
  format_version: typeof VALIDATE_JSON_FORMAT_VERSION;
  opsync_version: string;
  valid: boolean;
  files: string[];
  items: number;
  unchecked_sources: number;
  error_count: number;
  warning_count: number;
  diagnostics: { severity: 'error' | 'warning'; message: string; pos: { file: string; line: number; col: number; instance?: string } }[];
}

/** A path as the user would write it: relative to `cwd` when inside it. */
export function shownPath(file: string, cwd = process.cwd()): string {
  const rel = file.startsWith('/') ? relative(cwd, file) : '';
  return rel && !rel.startsWith('..') ? rel : file;
}

export function validateJson(input: { files: readonly string[]; items: number; uncheckedSources: number; diagnostics: readonly Diagnostic[] }): ValidateJson {
  const errors = input.diagnostics.filter((d) => d.severity === 'error').length;
  return {
    format_version: VALIDATE_JSON_FORMAT_VERSION,
    opsync_version: VERSION,
    valid: errors === 0,
    files: input.files.map((f) => shownPath(f)),
    items: input.items,
    unchecked_sources: input.uncheckedSources,
    error_count: errors,
    warning_count: input.diagnostics.length - errors,
    diagnostics: input.diagnostics.map((d) => ({ severity: d.severity, message: d.message, pos: { file: shownPath(d.file), line: d.line, col: d.col, ...(d.instance !== undefined ? { instance: d.instance } : {}) } })),
  };
}

export function renderValidateJson(input: Parameters<typeof validateJson>[0]): string {
  return `${escapeJsonControls(JSON.stringify(validateJson(input), null, 2))}\n`;
}
