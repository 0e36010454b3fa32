/**
 * What the local executor (and the tests) read about processes from Linux's /proc: which
 * processes exist, their state, process group, environment and working directory. Every reader
 * answers `undefined` for a process that is gone or not ours to read; without /proc (macOS)
 * `hasProcfs()` is false and `listPids()` is empty.
 */
import { existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';

export function hasProcfs(): boolean {
  return existsSync('/proc/self/stat');
}

export function listPids(): number[] {
  try {
    return readdirSync('/proc')
      .filter((e) => /^\d+$/.test(e))
      .map(Number);
  } catch {
    return [];
  }
}

interface Stat {
  /** R, S, D, Z (zombie), X (dead), … */
  state: string;
  pgid: number;
}

function stat(pid: number): Stat | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (2nd field) may hold spaces and parentheses: fields start after the last ')'.
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return { state: fields[0] ?? '', pgid: Number(fields[2]) };
  } catch {
    return undefined;
  }
}

/** Running or sleeping: neither gone nor a zombie. Undefined when /proc cannot tell. */
export function isLiveProcess(pid: number): boolean | undefined {
  if (!hasProcfs()) return undefined;
  const s = stat(pid);
  return !!s && s.state !== 'Z' && s.state !== 'X';
}

export function processGroup(pid: number): number | undefined {
  return stat(pid)?.pgid;
}

/** `NAME=value` entries of the process's environment as it was started. */
export function processEnviron(pid: number): string[] | undefined {
  try {
    return readFileSync(`/proc/${pid}/environ`, 'latin1').split('\0');
  } catch {
    return undefined;
  }
}

export function processCwd(pid: number): string | undefined {
  try {
    return readlinkSync(`/proc/${pid}/cwd`);
  } catch {
    return undefined;
  }
}

/** Live (non-zombie) processes for which `match(pid)` holds. */
export function liveProcesses(match: (pid: number) => boolean): number[] {
  return listPids().filter((pid) => pid !== process.pid && isLiveProcess(pid) && match(pid));
}
