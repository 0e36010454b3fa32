/**
 * Run output files: `<data-dir>/logs/<session>/run-<n>.log`. The runner writes to the file
 * directly (not through a pipe to serve), so it keeps running, and logging, when serve is
 * killed. The file is bounded by rotation: past `maxBytes` the current file becomes `.1` (the
 * previous `.1` is dropped) and writing starts over, so at most 2 × maxBytes are kept per run.
 * Writers append (O_APPEND), so truncating under them is safe.
 */
import {
  closeSync,
  copyFileSync,
  existsSync,
  openSync,
  readSync,
  rmSync,
  statSync,
  truncateSync,
  mkdirSync,
  fstatSync,
} from 'node:fs';
import path from 'node:path';

export class RunLogs {
  constructor(
    private readonly dir: string,
    private readonly maxBytes: number,
  ) {}

  file(session: string, run: number): string {
    return path.join(this.dir, session, `run-${run}.log`);
  }

  /** Opens the run's log for appending; the caller passes the fd to the child and closes it. */
  open(session: string, run: number): number {
    mkdirSync(path.join(this.dir, session), { recursive: true, mode: 0o700 });
    return openSync(this.file(session, run), 'a', 0o600);
  }

  /** Rotates the file when it is over the bound. */
  rotate(session: string, run: number): void {
    const file = this.file(session, run);
    let size: number;
    try {
      size = statSync(file).size;
    } catch {
      return;
    }
    if (size <= this.maxBytes) return;
    copyFileSync(file, `${file}.1`);
    truncateSync(file, 0);
  }

  /** The run's output (the rotated part first), at most `tailBytes` from the end. */
  read(session: string, run: number, tailBytes = 2 * this.maxBytes): string {
    const file = this.file(session, run);
    const parts: Buffer[] = [];
    let remaining = tailBytes;
    for (const f of [file, `${file}.1`]) {
      if (remaining <= 0 || !existsSync(f)) continue;
      const buf = readTail(f, remaining);
      parts.unshift(buf);
      remaining -= buf.length;
    }
    const rotated = existsSync(`${file}.1`);
    return (
      (rotated ? '[output was rotated: earlier lines may be missing]\n' : '') +
      Buffer.concat(parts).toString('utf8')
    );
  }

  /** The last few lines, trimmed to `maxChars`. */
  tail(session: string, run: number, maxChars: number): string {
    const text = this.read(session, run, Math.max(maxChars * 4, 4096)).trimEnd();
    const lines = text.split('\n').slice(-12).join('\n');
    return lines.length > maxChars ? `…${lines.slice(-maxChars)}` : lines;
  }

  removeSession(session: string): void {
    rmSync(path.join(this.dir, session), { recursive: true, force: true });
  }
}

function readTail(file: string, maxBytes: number): Buffer {
  const fd = openSync(file, 'r');
  try {
    const size = fstatSync(fd).size;
    const len = Math.min(size, maxBytes);
    const buf = Buffer.alloc(len);
    readSync(fd, buf, 0, len, size - len);
    return buf;
  } finally {
    closeSync(fd);
  }
}
