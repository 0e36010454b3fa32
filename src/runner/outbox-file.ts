/**
 * Writes and removes the runner's outbox file (src/protocol/outbox-file.ts): the run's
 * unconfirmed frames and final status, saved before the runner starts waiting for an absent
 * control plane, so that whatever ends the runner (SIGTERM, the bound, SIGKILL) they are left for
 * the control plane to pick up. Removed once the backend has confirmed both.
 */
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { Logger } from '../observability/logger.js';
import { outboxFilePath, OUTBOX_VERSION, type OutboxHeader } from '../protocol/outbox-file.js';

export class OutboxFile {
  readonly path: string;

  constructor(
    dir: string,
    private readonly session: string,
    private readonly run: number,
    private readonly logger: Logger,
  ) {
    this.path = outboxFilePath(dir, session, run);
  }

  /** Atomically replaces the file; `frames` are the socket's JSON texts (already redacted). */
  async save(frames: string[], lastSeq: number, status?: Record<string, unknown>): Promise<void> {
    const header: OutboxHeader = {
      kind: 'runner-outbox',
      version: OUTBOX_VERSION,
      session: this.session,
      run: this.run,
      lastSeq,
      ...(status ? { status } : {}),
    };
    const text = [JSON.stringify(header), ...frames].join('\n') + '\n';
    const tmp = `${this.path}.${randomBytes(4).toString('hex')}.tmp`;
    try {
      await fs.mkdir(path.dirname(this.path), { recursive: true, mode: 0o700 });
      await fs.writeFile(tmp, text, { mode: 0o600, flag: 'wx' });
      await fs.rename(tmp, this.path);
    } catch (e) {
      await fs.rm(tmp, { force: true }).catch(() => undefined);
      this.logger.warn(`could not save the outbox to ${this.path}: ${(e as Error).message}`);
    }
  }

  /** Everything was confirmed: the file (and its directory, when empty) goes. */
  async remove(): Promise<void> {
    await fs.rm(this.path, { force: true }).catch(() => undefined);
    await fs.rmdir(path.dirname(this.path)).catch(() => undefined);
  }
}
