// `opsync render [PATHS]`: the manifests fully expanded (variables substituted, for_each instances and
// templates written out), as YAML a reviewer reads, or JSON. Value sources stay sources ({env:}, {file:},
// {ref:}); nothing but the manifests and OPSYNC_VAR_<NAME> is read, so no secret value can appear that
// the manifests did not already hold as a literal.

import { renderManifests, type VariableInputs } from '../manifest/expand/index.js';
import { formatDiagnostic } from '../manifest/load.js';
import { toYaml } from '../export/manifest.js';
import { inline } from '../ui/sanitize.js';
import { ExitCode, requirePaths, type IO } from './common.js';

export function renderCommand(paths: string[], format: 'yaml' | 'json', variables: VariableInputs, io: IO): number {
  const rendered = renderManifests(requirePaths(paths), { env: io.env, variables });
  for (const d of rendered.diagnostics) io.err(`${formatDiagnostic(d)}\n`);
  if (rendered.diagnostics.some((d) => d.severity === 'error')) throw new ExitCode(1);
  if (format === 'json') {
    io.out(`${JSON.stringify({ files: rendered.files }, null, 2)}\n`);
    return 0;
  }
  const parts: string[] = [];
  for (const f of rendered.files) {
    for (const doc of f.documents) parts.push(`# ${inline(f.file)}\n${toYaml(doc)}`);
  }
  io.out(parts.join('---\n'));
  return 0;
}
