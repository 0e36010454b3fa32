/**
 * Runs git: `spawn` with an argument vector (never a shell), bounded in time (the whole process group is killed on
 * timeout, so a stuck `git-remote-https` goes too), fixed C locale (so failures can be
 * classified), no prompts, and stderr redacted before it is kept anywhere. Credentials come in
 * through `env` only (see credentials.ts); they are never part of the arguments.
 */
import { spawn } from 'node:child_process';
import type { Logger } from '../observability/logger.js';
import type { Redactor } from '../observability/redact.js';

export interface GitRunOptions {
  cwd: string;
  /** Extra variables for this call (credential helper, temporary index). */
  env?: Record<string, string>;
  /** Network operations get the longer bound. */
  network?: boolean;
  /** Exit codes that are answers rather than failures (e.g. 1 for `diff --quiet`). */
  okCodes?: number[];
}

export interface GitResult {
  stdout: string;
  /** Redacted. */
  stderr: string;
  code: number;
}

/** A failed git command. `stderr` and `message` are redacted; `args` never hold a secret. */
export class GitCommandError extends Error {
  constructor(
    readonly args: readonly string[],
    readonly code: number | null,
    readonly stderr: string,
    readonly timedOut: boolean,
  ) {
    super(
      timedOut
        ? `git ${args[0] ?? ''} timed out`
        : `git ${args[0] ?? ''} failed (exit ${code ?? 'signal'}): ${lastLines(stderr)}`,
    );
    this.name = 'GitCommandError';
  }
}

export interface GitRunnerOptions {
  /** The process basics (PATH, HOME, proxies, CA files) from the configuration. */
  baseEnv: Readonly<Record<string, string>>;
  /** Read at every call: the redactor grows when a token is minted. */
  redactor: () => Redactor;
  logger: Logger;
  localTimeoutMs?: number;
  networkTimeoutMs?: number;
}

export const DEFAULT_LOCAL_TIMEOUT_MS = 60_000;
export const DEFAULT_NETWORK_TIMEOUT_MS = 300_000;

export class GitRunner {
  private readonly env: Record<string, string>;

  constructor(private readonly opts: GitRunnerOptions) {
    this.env = {
      ...opts.baseEnv,
      PATH: opts.baseEnv.PATH ?? '/usr/local/bin:/usr/bin:/bin',
      LC_ALL: 'C',
      LANG: 'C',
      LANGUAGE: 'C',
      GIT_TERMINAL_PROMPT: '0',
      GCM_INTERACTIVE: 'never',
      GIT_SSH_COMMAND: 'ssh -o BatchMode=yes',
      GIT_MERGE_AUTOEDIT: 'no',
      GIT_EDITOR: 'true',
    };
  }

  run(args: string[], opts: GitRunOptions): Promise<GitResult> {
    const timeoutMs = opts.network
      ? (this.opts.networkTimeoutMs ?? DEFAULT_NETWORK_TIMEOUT_MS)
      : (this.opts.localTimeoutMs ?? DEFAULT_LOCAL_TIMEOUT_MS);
    const env = { ...this.env, ...opts.env };
    this.opts.logger.debug(`git ${args.join(' ')}`, { cwd: opts.cwd });
    return new Promise((resolve, reject) => {
      let timedOut = false;
      let settled = false;
      // spawn with an argument vector (no shell), in its own process group so that a timeout
      // can kill git and every helper it started.
      const child = spawn('git', args, {
        cwd: opts.cwd,
        env,
        detached: true,
        windowsHide: true,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const stdout = new Capped(MAX_OUTPUT);
      const stderr = new Capped(MAX_OUTPUT);
      child.stdout.on('data', (b: Buffer) => stdout.push(b));
      child.stderr.on('data', (b: Buffer) => stderr.push(b));
      const timer = setTimeout(() => {
        timedOut = true;
        try {
          if (child.pid) process.kill(-child.pid, 'SIGKILL');
        } catch {
          child.kill('SIGKILL');
        }
      }, timeoutMs);
      timer.unref();
      const finish = (code: number | null, spawnError?: Error) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        const err = this.opts
          .redactor()
          .redact(spawnError ? `cannot run git: ${spawnError.message}` : stderr.text());
        if (
          !spawnError &&
          !timedOut &&
          code !== null &&
          (code === 0 || opts.okCodes?.includes(code))
        ) {
          resolve({ stdout: stdout.text(), stderr: err, code });
          return;
        }
        reject(new GitCommandError(args, code, err, timedOut));
      };
      child.on('error', (e) => finish(null, e));
      child.on('close', (code) => finish(code));
    });
  }

  /** Trimmed stdout, or undefined when git fails (for probes such as `rev-parse`). */
  async probe(args: string[], opts: GitRunOptions): Promise<string | undefined> {
    try {
      return (await this.run(args, opts)).stdout.trim();
    } catch {
      return undefined;
    }
  }
}

export function lastLines(text: string, n = 4): string {
  const lines = text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter(
      (l) => l && !/^(Cloning into|remote: (Counting|Compressing|Enumerating|Total))/.test(l),
    );
  return lines.slice(-n).join(' / ') || '(no output)';
}

const MAX_OUTPUT = 64 * 1024 * 1024;

/** Collects a stream up to a bound (the rest is dropped). */
class Capped {
  private readonly chunks: Buffer[] = [];
  private size = 0;
  constructor(private readonly max: number) {}
  push(b: Buffer): void {
    if (this.size >= this.max) return;
    const part = b.length + this.size > this.max ? b.subarray(0, this.max - this.size) : b;
    this.chunks.push(part);
    this.size += part.length;
  }
  text(): string {
    return Buffer.concat(this.chunks).toString('utf8');
  }
}
