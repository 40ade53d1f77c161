// GitHub Actions: workflow-command annotations for diagnostics, and the Markdown plan in the job summary.

import { appendFileSync } from 'node:fs';
import { controls } from './sanitize.js';

export interface Annotation {
  file: string;
  line: number;
  col: number;
  severity: 'error' | 'warning';
  message: string;
}

/** Workflow-command data: %, CR and LF are escaped (GitHub's own toolkit rules). */
export function escapeData(s: string): string {
  return s.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
}

/** Workflow-command property values: as data, plus ':' and ','. */
export function escapeProperty(s: string): string {
  return escapeData(s).replace(/:/g, '%3A').replace(/,/g, '%2C');
}

/**
 * `::error file=...,line=...,col=...::message`, one line per diagnostic. File and message carry manifest
 * text: control characters are escaped as plans escape live text, then CR, LF and % as workflow-command
 * data (%0D, %0A), so that nothing in them can colour the log, end the annotation or start a command.
 */
export function githubAnnotations(diags: Annotation[]): string {
  return diags
    .map((d) => `::${d.severity} file=${escapeProperty(controls(d.file))},line=${d.line},col=${d.col}::${escapeData(controls(d.message))}\n`)
    .join('');
}

/**
 * Append Markdown to the job summary when running on GitHub Actions with $GITHUB_STEP_SUMMARY set.
 * Returns false when not on GitHub Actions; throws a clear error when the summary file cannot be written.
 */
export function appendStepSummary(markdown: string, env: NodeJS.ProcessEnv): boolean {
  const path = env.GITHUB_STEP_SUMMARY;
  if (env.GITHUB_ACTIONS !== 'true' || !path) return false;
  try {
    appendFileSync(path, markdown.endsWith('\n') ? markdown : `${markdown}\n`);
  } catch (err) {
    throw new Error(`cannot append the plan to GITHUB_STEP_SUMMARY (${path}): ${(err as Error).message}`);
  }
  return true;
}
