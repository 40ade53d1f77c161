// GitHub Actions: workflow-command annotations for diagnostics, the Markdown plan in the job summary, and its
// parts as files for a workflow to post as pull-request comments.

import { appendFileSync, mkdirSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { controls } from './sanitize.js';

export interface Annotation {
  file: string;
  line: number;
  col: number;
  severity: 'error' | 'warning';
  message: string;
  /** The expansion the position is inside (for_each "production"): said before the message. */
  instance?: string;
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
    .map((d) => `::${d.severity} file=${escapeProperty(controls(d.file))},line=${d.line},col=${d.col}::${escapeData(controls(d.instance !== undefined ? `(${d.instance}) ${d.message}` : d.message))}\n`)
    .join('');
}

/** GitHub takes at most this much job summary from one step (bytes). */
export const STEP_SUMMARY_LIMIT_BYTES = 1024 * 1024;

/**
 * Append Markdown to the job summary when running on GitHub Actions with $GITHUB_STEP_SUMMARY set: a plan's
 * parts one after another, as many as fit under the step's 1 MiB (with what the step wrote before), then a
 * line saying which parts were left out. Returns false when not on GitHub Actions; throws a clear error when
 * the summary file cannot be written.
 */
export function appendStepSummary(markdown: string | string[], env: NodeJS.ProcessEnv): boolean {
  const path = env.GITHUB_STEP_SUMMARY;
  if (env.GITHUB_ACTIONS !== 'true' || !path) return false;
  const parts = (typeof markdown === 'string' ? [markdown] : markdown).map((m) => (m.endsWith('\n') ? m : `${m}\n`));
  try {
    let before = 0;
    try {
      before = statSync(path).size;
    } catch {
      // not there yet: appending creates it
    }
    const left = (from: number) =>
      `<i>Parts ${from} to ${parts.length} of the plan are left out: GitHub takes at most 1 MiB of summary from a step. ` +
      '`opsync plan --format markdown --split-dir DIR` writes every part.</i>\n';
    let text = '';
    for (let i = 0; i < parts.length; i++) {
      const next = `${i > 0 ? '\n' : ''}${parts[i]}`;
      const note = i + 1 < parts.length ? Buffer.byteLength(left(i + 2)) + 1 : 0;
      if (before + Buffer.byteLength(text) + Buffer.byteLength(next) + note > STEP_SUMMARY_LIMIT_BYTES && i > 0) {
        text += `\n${left(i + 1)}`;
        break;
      }
      text += next;
    }
    appendFileSync(path, text);
  } catch (err) {
    throw new Error(`cannot append the plan to GITHUB_STEP_SUMMARY (${path}): ${(err as Error).message}`);
  }
  return true;
}

/**
 * Write a plan's Markdown parts as DIR/plan.1.md, DIR/plan.2.md, ... (for a workflow to post one comment
 * each). Parts an earlier, longer plan left there are removed, so they are never posted with this one; every
 * part is written to a temporary file first and renamed into place, so nothing is half-written.
 * Returns the files written.
 */
export function writeMarkdownParts(dir: string, parts: string[]): string[] {
  mkdirSync(dir, { recursive: true });
  const files = parts.map((_, i) => join(dir, `plan.${i + 1}.md`));
  const temps = files.map((f) => `${f}.${process.pid}.tmp`);
  try {
    parts.forEach((p, i) => writeFileSync(temps[i], p.endsWith('\n') ? p : `${p}\n`));
    for (const f of readdirSync(dir)) if (/^plan\.\d+\.md$/.test(f)) rmSync(join(dir, f), { force: true });
    temps.forEach((t, i) => renameSync(t, files[i]));
  } finally {
    for (const t of temps) rmSync(t, { force: true });
  }
  return files;
}
