/**
 * Reads (and removes) a finished run's outbox file (src/protocol/outbox-file.ts): the frames and
 * final status its runner could not hand over while the control plane was away.
 *
 * The file is in the workspace, which the agent can write too: it is runner input and nothing
 * more trusted. So: no symlinks (neither the directory nor the file), bounded size, the header
 * must name this session and this run, every frame is checked like a socket frame
 * (`RunnerFrame`), the status like a status PUT (`StatusUpdate`); redaction and dedup by runSeq
 * are the caller's, as for the socket. A file that fails these checks is dropped whole, with a
 * warning.
 */
import { constants, closeSync, fstatSync, lstatSync, openSync, readSync, rmdirSync } from 'node:fs';
import { unlinkSync } from 'node:fs';
import path from 'node:path';
import type { Logger } from '../observability/logger.js';
import { RunnerFrame } from '../protocol/frames.js';
import { MAX_OUTBOX_FILE_BYTES, OutboxHeader, outboxFilePath } from '../protocol/outbox-file.js';
import { pickStatusFields, StatusUpdate } from '../protocol/status.js';

export interface LeftoverFrame {
  seq: number;
  /** The frame as parsed (validated), with any extra fields the runner added. */
  raw: Record<string, unknown>;
  type: RunnerFrame['type'];
  timestamp: string;
}

export interface Leftovers {
  frames: LeftoverFrame[];
  status?: StatusUpdate;
  /** Lines that were not valid frames (dropped). */
  invalid: number;
}

/**
 * The run's leftovers, or undefined when there is no (usable) file. The file is removed either
 * way: it is read once.
 */
export function takeLeftovers(
  workspace: string,
  session: string,
  run: number,
  logger: Logger,
): Leftovers | undefined {
  const file = outboxFilePath(workspace, session, run);
  const text = readOnce(file, session, run, logger);
  if (text === undefined) return undefined;
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  const header = OutboxHeader.safeParse(parseJson(lines[0] ?? ''));
  if (!header.success || header.data.session !== session || header.data.run !== run) {
    logger.warn('runner outbox file ignored: its header does not name this session and run', {
      session,
      run,
    });
    return undefined;
  }
  const frames: LeftoverFrame[] = [];
  let invalid = 0;
  for (const line of lines.slice(1)) {
    const obj = parseJson(line);
    const parsed = RunnerFrame.safeParse(obj);
    if (!parsed.success || parsed.data.seq > header.data.lastSeq) {
      invalid++;
      continue;
    }
    frames.push({
      seq: parsed.data.seq,
      raw: obj as Record<string, unknown>,
      type: parsed.data.type,
      timestamp: parsed.data.timestamp,
    });
  }
  frames.sort((a, b) => a.seq - b.seq);
  let status: StatusUpdate | undefined;
  if (header.data.status) {
    const s = StatusUpdate.safeParse(pickStatusFields(header.data.status));
    if (s.success) status = s.data;
    else invalid++;
  }
  if (invalid)
    logger.warn('runner outbox file: invalid entries dropped', { session, run, count: invalid });
  return { frames, ...(status ? { status } : {}), invalid };
}

/**
 * Removes a file for a run that has not started yet: only its own runner may leave one, so one
 * found before the launch was planted (e.g. by an agent of an earlier run).
 */
export function discardLeftovers(workspace: string, session: string, run: number): void {
  const file = outboxFilePath(workspace, session, run);
  const dir = path.dirname(file);
  try {
    if (!lstatSync(dir).isDirectory()) return;
  } catch {
    return;
  }
  remove(file, dir);
}

function readOnce(file: string, session: string, run: number, logger: Logger): string | undefined {
  const dir = path.dirname(file);
  try {
    if (!lstatSync(dir).isDirectory()) return undefined; // also refuses a symlink
  } catch {
    return undefined;
  }
  let fd: number;
  try {
    fd = openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code !== 'ENOENT')
      logger.warn('runner outbox file could not be opened', { session, run, code });
    if (code === 'ELOOP') remove(file, dir);
    return undefined;
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile() || st.size > MAX_OUTBOX_FILE_BYTES) {
      logger.warn('runner outbox file ignored: not a regular file or too large', {
        session,
        run,
        bytes: st.size,
        max: MAX_OUTBOX_FILE_BYTES,
      });
      return undefined;
    }
    const buf = Buffer.alloc(st.size);
    let n = 0;
    while (n < st.size) {
      const got = readSync(fd, buf, n, st.size - n, n);
      if (got === 0) break;
      n += got;
    }
    return buf.subarray(0, n).toString('utf8');
  } finally {
    closeSync(fd);
    remove(file, dir);
  }
}

function remove(file: string, dir: string): void {
  try {
    unlinkSync(file);
  } catch {
    /* gone already */
  }
  try {
    rmdirSync(dir); // only when empty: other sessions sharing the workspace may have files there
  } catch {
    /* not empty, or gone */
  }
}

function parseJson(line: string): unknown {
  try {
    return JSON.parse(line);
  } catch {
    return undefined;
  }
}
