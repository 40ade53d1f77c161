// `opsync state list | show | rm | mv`: read and edit the state file by hand, under its lock. Never touches
// an item in Connect, and the state holds no secret values, so nothing here can print one.

import { UserError } from '../errors.js';
import { readState } from '../state/file.js';
import { StateStore } from '../state/store.js';
import type { StateResource } from '../state/types.js';
import { inline } from '../ui/sanitize.js';
import { warn, type IO } from './common.js';

export interface StateFlags {
  state: string;
  lockTimeoutMs: number;
}

const ADDRESS = /^[^/]+\/[^/]+$/;

function checkAddress(address: string): void {
  if (!ADDRESS.test(address)) throw new UserError(`"${address}" is not an address: write <vault>/<key>, as manifests make them`);
}

export function stateListCommand(flags: StateFlags, io: IO): number {
  const state = readState(flags.state);
  const rows = Object.values(state.resources).sort((a, b) => (a.address < b.address ? -1 : 1));
  for (const r of rows) {
    io.out(`${inline(r.address)}\t${inline(r.vaultName)}\t${r.itemId}\tv${r.version}${r.protect ? '\tprotected' : ''}\n`);
  }
  const pending = Object.values(state.pending).sort((a, b) => (a.address < b.address ? -1 : 1));
  for (const p of pending) io.out(`${inline(p.address)}\t${inline(p.vaultName)}\t(interrupted create of "${inline(p.title)}")\n`);
  if (rows.length === 0 && pending.length === 0) io.err(`No resources in ${flags.state}.\n`);
  return 0;
}

export function stateShowCommand(address: string, json: boolean, flags: StateFlags, io: IO): number {
  const state = readState(flags.state);
  const r = state.resources[address];
  const p = state.pending[address];
  if (!r && !p) throw new UserError(`${address} is not in ${flags.state} (see \`opsync state list\`)`);
  if (json) {
    io.out(`${JSON.stringify(r ?? { ...p, pending: true }, null, 2)}\n`);
    return 0;
  }
  if (!r) {
    io.out(`${inline(address)}\n  interrupted create of "${inline(p!.title)}" in vault ${inline(p!.vaultName)} (${p!.vaultId}), started ${p!.startedAt}\n`);
    return 0;
  }
  const lines: [string, string][] = [
    ['vault', `${r.vaultName} (${r.vaultId})`],
    ['item', r.itemId],
    ['title', r.title],
    ['category', r.category],
    ['version', String(r.version)],
    ['protected', r.protect ? 'yes' : 'no'],
    ['digest', r.digest ? `${r.digest.slice(0, 19)}... (keyed hash of the applied spec; not a value)` : '(none yet: imported, compared in full at the next plan)'],
    ['updated', r.updatedAt],
  ];
  for (const [k, v] of Object.entries(r.rotations ?? {})) lines.push([`rotation ${k}`, v === '' ? '(initial)' : v]);
  io.out(`${inline(address)}\n${lines.map(([k, v]) => `  ${`${k}:`.padEnd(12)} ${inline(v)}`).join('\n')}\n`);
  return 0;
}

export async function stateRmCommand(addresses: string[], flags: StateFlags, io: IO): Promise<number> {
  if (addresses.length === 0) throw new UserError('name the addresses to forget: opsync state rm <vault>/<key>...');
  const store = await StateStore.open(flags.state, { lockTimeoutMs: flags.lockTimeoutMs, command: 'opsync state rm' });
  try {
    const missing = addresses.filter((a) => !store.state.resources[a] && !store.state.pending[a]);
    if (missing.length) throw new UserError(`not in ${flags.state}: ${missing.join(', ')}; nothing was removed`);
    const removed: StateResource[] = [];
    store.update((s) => {
      for (const a of addresses) {
        if (s.resources[a]) removed.push(s.resources[a]);
        delete s.resources[a];
        delete s.pending[a];
      }
    });
    for (const a of addresses) {
      const r = removed.find((x) => x.address === a);
      io.out(`Removed ${a} from state${r ? ` (item ${r.itemId} in vault ${r.vaultName} is left as it is)` : ''}.\n`);
    }
    if (removed.length) io.err('A manifest that still declares a removed address will plan to create it, or refuse if its title exists: `opsync import` takes it back.\n');
    return 0;
  } finally {
    store.close();
  }
}

export async function stateMvCommand(from: string, to: string, flags: StateFlags, io: IO): Promise<number> {
  checkAddress(to);
  const store = await StateStore.open(flags.state, { lockTimeoutMs: flags.lockTimeoutMs, command: 'opsync state mv' });
  try {
    const s0 = store.state;
    if (!s0.resources[from] && !s0.pending[from]) throw new UserError(`${from} is not in ${flags.state} (see \`opsync state list\`)`);
    if (s0.resources[to] || s0.pending[to]) throw new UserError(`${to} is already in ${flags.state}; remove it first with \`opsync state rm ${to}\``);
    store.update((s) => {
      if (s.resources[from]) s.resources[to] = { ...s.resources[from], address: to };
      if (s.pending[from]) s.pending[to] = { ...s.pending[from], address: to };
      delete s.resources[from];
      delete s.pending[from];
    });
    io.out(`Moved ${from} to ${to} in state; the item was not touched.\n`);
    // Only a warning: the state cannot tell whether "X" is the vault's new name; plan decides by vault id.
    const held = s0.resources[from] ?? s0.pending[from];
    const toVault = to.slice(0, to.indexOf('/'));
    if (toVault !== held.vaultName && toVault !== held.vaultId) {
      warn(io, `${to} names vault "${toVault}" but the item is in vault ${held.vaultName} (${held.vaultId}); plan refuses that unless "${toVault}" is that vault's new name: an item cannot change vaults`);
    }
    return 0;
  } finally {
    store.close();
  }
}
