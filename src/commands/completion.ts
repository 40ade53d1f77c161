// `opsync completion bash|zsh|fish`: a shell completion script generated from the commander program
// itself, so that every command, subcommand and option the CLI has is completed, and nothing else.
// Words that are not commands or options (paths, addresses, values) complete as file names.

import type { Command } from 'commander';
import { UserError } from '../errors.js';
import type { IO } from './common.js';

export const SHELLS = ['bash', 'zsh', 'fish'] as const;
export type Shell = (typeof SHELLS)[number];

interface Node {
  /** Space-separated path of command names below the program ("" for the program, "server token create"). */
  path: string;
  subs: { name: string; description: string }[];
  /** Every flag spelling (-o, --out). */
  flags: { flag: string; takesValue: boolean; description: string }[];
  /** Whether the command takes operands (completed as files). */
  takesArgs: boolean;
}

function nodes(program: Command): Node[] {
  const out: Node[] = [];
  const visit = (cmd: Command, path: string) => {
    const visible = cmd.commands.filter((c) => !(c as unknown as { _hidden?: boolean })._hidden);
    const flags: Node['flags'] = [];
    for (const o of cmd.options) {
      if (o.hidden) continue;
      const takesValue = o.required || o.optional;
      for (const f of [o.short, o.long]) if (f) flags.push({ flag: f, takesValue, description: o.description });
    }
    flags.push({ flag: '--help', takesValue: false, description: 'show help' });
    out.push({
      path,
      subs: visible.map((c) => ({ name: c.name(), description: c.description() })),
      flags,
      takesArgs: cmd.registeredArguments.length > 0,
    });
    for (const c of visible) visit(c, path ? `${path} ${c.name()}` : c.name());
  };
  visit(program, '');
  return out;
}

/** A single-quoted shell word (bash, zsh and fish all read '...' literally, '\'' closing and reopening). */
const sq = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
/** fish: inside '...' only \\ and \' are escapes. */
const fq = (s: string) => `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;

function bash(name: string, all: Node[]): string {
  const subsCase = all.filter((n) => n.subs.length).map((n) => `    ${sq(n.path)}) echo ${sq(n.subs.map((s) => s.name).join(' '))} ;;`);
  const infoCase = all.map((n) => {
    const opts = n.flags.map((f) => f.flag).join(' ');
    const vals = n.flags.filter((f) => f.takesValue).map((f) => f.flag).join(' ');
    return `    ${sq(n.path)}) subs=${sq(n.subs.map((s) => s.name).join(' '))}; opts=${sq(opts)}; vals=${sq(vals)} ;;`;
  });
  return `# ${name} completion for bash. Load it in this shell:  source <(${name} completion bash)
# or for every shell:  ${name} completion bash > ~/.local/share/bash-completion/completions/${name}
_${name}_subs() {
  case "$1" in
${subsCase.join('\n')}
  esac
}
_${name}_info() {
  subs=''; opts='--help'; vals=''
  case "$1" in
${infoCase.join('\n')}
  esac
}
_${name}() {
  local cur=\${COMP_WORDS[COMP_CWORD]} prev=\${COMP_WORDS[COMP_CWORD-1]} cmdpath='' i w skip=0 subs opts vals
  for ((i = 1; i < COMP_CWORD; i++)); do
    w=\${COMP_WORDS[i]}
    if ((skip)); then skip=0; continue; fi
    _${name}_info "$cmdpath"
    case " $vals " in *" $w "*) skip=1; continue ;; esac
    case " $(_${name}_subs "$cmdpath") " in *" $w "*) cmdpath=\${cmdpath:+$cmdpath }$w ;; esac
  done
  _${name}_info "$cmdpath"
  COMPREPLY=()
  case " $vals " in *" $prev "*) return 0 ;; esac   # an option's value: file names (complete -o default)
  if [[ $cur == -* ]]; then
    COMPREPLY=($(compgen -W "$opts" -- "$cur"))
  elif [[ -n $subs ]]; then
    COMPREPLY=($(compgen -W "$subs" -- "$cur"))
  fi
}
complete -o default -F _${name} ${name}
`;
}

function zsh(name: string, all: Node[]): string {
  const infoCase = all.map((n) => {
    const subs = n.subs.map((s) => sq(`${s.name}:${s.description}`)).join(' ');
    const opts = n.flags.map((f) => sq(`${f.flag.replace(/:/g, '\\:')}:${f.description}`)).join(' ');
    const vals = n.flags.filter((f) => f.takesValue).map((f) => f.flag).join(' ');
    return `    ${sq(n.path)}) subs=(${subs}); opts=(${opts}); vals=${sq(vals)} ;;`;
  });
  return `#compdef ${name}
# ${name} completion for zsh. Load it in this shell:  source <(${name} completion zsh)
# or save it as _${name} in a folder of your $fpath (before compinit runs).
_${name}_info() {
  subs=(); opts=(); vals=''
  case "$1" in
${infoCase.join('\n')}
  esac
}
_${name}() {
  local cmdpath='' w vals skip=0 i
  local -a subs opts names
  for ((i = 2; i < CURRENT; i++)); do
    w=\${words[i]}
    if ((skip)); then skip=0; continue; fi
    _${name}_info "$cmdpath"
    if [[ " $vals " == *" $w "* ]]; then skip=1; continue; fi
    names=(\${subs%%:*})
    if (( \${names[(Ie)$w]} )); then cmdpath=\${cmdpath:+$cmdpath }$w; fi
  done
  _${name}_info "$cmdpath"
  local cur=\${words[CURRENT]} prev=\${words[CURRENT-1]}
  if [[ " $vals " == *" $prev "* ]]; then _files; return; fi
  if [[ $cur == -* ]]; then _describe -t options option opts; return; fi
  if (( \${#subs} )); then _describe -t commands command subs; else _files; fi
}
if [[ $zsh_eval_context[-1] == loadautofunc ]]; then _${name} "$@"; else compdef _${name} ${name}; fi
`;
}

function fish(name: string, all: Node[]): string {
  const subsCase = all.filter((n) => n.subs.length).map((n) => `        case ${fq(n.path)}\n            echo ${n.subs.map((s) => fq(s.name)).join(' ')}`);
  const valsCase = all
    .filter((n) => n.flags.some((f) => f.takesValue))
    .map((n) => `        case ${fq(n.path)}\n            echo ${n.flags.filter((f) => f.takesValue).map((f) => fq(f.flag)).join(' ')}`);
  const lines: string[] = [];
  for (const n of all) {
    const cond = `test (__${name}_path) = ${fq(n.path)}`;
    for (const s of n.subs) lines.push(`complete -c ${name} -n ${fq(cond)} -a ${fq(s.name)} -d ${fq(s.description)}`);
    for (const f of n.flags) {
      const spec = f.flag.startsWith('--') ? `-l ${fq(f.flag.slice(2))}` : `-s ${fq(f.flag.slice(1))}`;
      lines.push(`complete -c ${name} -n ${fq(cond)} ${spec}${f.takesValue ? ' -r -F' : ''} -d ${fq(f.description)}`);
    }
    if (n.takesArgs) lines.push(`complete -c ${name} -n ${fq(cond)} -F`);
  }
  return `# ${name} completion for fish. Load it in this shell:  ${name} completion fish | source
# or for every shell:  ${name} completion fish > ~/.config/fish/completions/${name}.fish
function __${name}_subs
    switch $argv[1]
${subsCase.join('\n')}
    end
end
function __${name}_vals
    switch $argv[1]
${valsCase.join('\n')}
    end
end
# The command path typed so far ("", "plan", "state rm"), skipping options and their values.
function __${name}_path
    set -l words (commandline -opc)
    set -e words[1]
    set -l cmdpath ''
    set -l skip 0
    for w in $words
        if test $skip = 1
            set skip 0
            continue
        end
        if contains -- $w (__${name}_vals "$cmdpath")
            set skip 1
            continue
        end
        if contains -- $w (__${name}_subs "$cmdpath")
            set cmdpath (string trim -- "$cmdpath $w")
        end
    end
    echo $cmdpath
end
complete -c ${name} -f
${lines.join('\n')}
`;
}

export function completionScript(program: Command, shell: string): string {
  const all = nodes(program);
  const name = program.name();
  if (shell === 'bash') return bash(name, all);
  if (shell === 'zsh') return zsh(name, all);
  if (shell === 'fish') return fish(name, all);
  throw new UserError(`completion: "${shell}" is not a shell opsync completes; use ${SHELLS.join(', ')}`);
}

export function completionCommand(program: Command, shell: string, io: IO): number {
  io.out(completionScript(program, shell));
  return 0;
}
