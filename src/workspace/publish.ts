/**
 * Results out: measure what changed against the input branch, commit everything, push to the
 * output branch. Measuring never touches the real index (it stages into a temporary one), so a
 * session without auto-push leaves the repo exactly as the agent left it.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { UserError, type AppError } from '../errors.js';
import { describeGitFailure, safeUrl, type RepoContext } from './clone.js';
import { parseRemote } from './forge.js';
import { GitCommandError, lastLines } from './git.js';

/** The empty tree: the base when the input branch is unknown (everything counts as added). */
const EMPTY_TREE = '4b825dc642cb6eb9a060ae85bba8af5ba0b6bea9';

export interface DiffStats {
  files: number;
  added: number;
  removed: number;
}

/** Committed and uncommitted changes (untracked files included, ignored ones not) since `baseRef`. */
export async function changesSince(
  ctx: RepoContext,
  dir: string,
  baseRef: string,
): Promise<DiffStats> {
  const base =
    (await ctx.git.probe(['rev-parse', '--verify', '--quiet', `${baseRef}^{commit}`], {
      cwd: dir,
    })) || EMPTY_TREE;
  const tmpIndex = path.join(dir, '.git', `ccr-index-${randomBytes(4).toString('hex')}`);
  try {
    await copyIndex(path.join(dir, '.git', 'index'), tmpIndex);
    const env = { GIT_INDEX_FILE: tmpIndex };
    await ctx.git.run(['add', '-A'], { cwd: dir, env });
    const out = (
      await ctx.git.run(['diff', '--cached', '--numstat', '--no-renames', base], { cwd: dir, env })
    ).stdout;
    return parseNumstat(out);
  } finally {
    await fs.rm(tmpIndex, { force: true });
  }
}

/**
 * Copies the index as a stat cache for a temporary index. The copy must not look newer than the
 * original: git trusts a cached entry whose file is older than the index file ("racy git"), so a
 * fresh mtime would hide an edit of the same size made within the same second as the last index
 * write. The copy is dated one second before the original, which makes such entries re-checked.
 */
async function copyIndex(from: string, to: string): Promise<void> {
  try {
    const st = await fs.stat(from);
    await fs.copyFile(from, to);
    const t = new Date(st.mtimeMs - 1000);
    await fs.utimes(to, t, t);
  } catch {
    await fs.rm(to, { force: true }); // no usable cache: git hashes every file
  }
}

export function parseNumstat(out: string): DiffStats {
  const stats: DiffStats = { files: 0, added: 0, removed: 0 };
  for (const line of out.split('\n')) {
    const m = /^(\d+|-)\t(\d+|-)\t/.exec(line);
    if (!m) continue;
    stats.files++;
    stats.added += m[1] === '-' ? 0 : Number(m[1]);
    stats.removed += m[2] === '-' ? 0 : Number(m[2]);
  }
  return stats;
}

/** Stages everything and commits it with the configured identity; false when nothing was staged. */
export async function commitAll(ctx: RepoContext, dir: string, message: string): Promise<boolean> {
  await ctx.git.run(['add', '-A'], { cwd: dir });
  const staged = await ctx.git.run(['diff', '--cached', '--quiet'], { cwd: dir, okCodes: [1] });
  if (staged.code === 0) return false;
  await ctx.git.run(
    [
      '-c',
      `user.name=${ctx.identity.name}`,
      '-c',
      `user.email=${ctx.identity.email}`,
      'commit',
      '--quiet',
      '--no-verify',
      '-m',
      message,
    ],
    { cwd: dir },
  );
  return true;
}

export async function headSha(ctx: RepoContext, dir: string): Promise<string | undefined> {
  return ctx.git.probe(['rev-parse', 'HEAD'], { cwd: dir });
}

/** Pushes HEAD to `<remote>` as `refs/heads/<branch>`; never forces. */
export async function pushHead(
  ctx: RepoContext,
  dir: string,
  target: { what: string; remoteName: string; url: string; branch: string },
): Promise<void> {
  const env = await ctx.creds.gitEnv(parseRemote(target.url));
  try {
    await ctx.git.run(
      ['push', '--no-verify', target.remoteName, `HEAD:refs/heads/${target.branch}`],
      {
        cwd: dir,
        env,
        network: true,
      },
    );
  } catch (e) {
    throw await describePushFailure(ctx, e, target);
  }
}

async function describePushFailure(
  ctx: RepoContext,
  e: unknown,
  target: { what: string; url: string; branch: string },
): Promise<AppError> {
  if (e instanceof GitCommandError && !e.timedOut) {
    const text = `${e.stderr}`;
    const reason = /\[rejected\][^\n]*\(([^)]+)\)|\[remote rejected\][^\n]*\(([^)]+)\)/.exec(text);
    if (reason || /rejected|protected branch|hook declined/i.test(text)) {
      const why = reason?.[1] ?? reason?.[2] ?? lastLines(text, 2);
      return new UserError(
        'workspace',
        `${target.what}: push to ${safeUrl(target.url)} branch ${target.branch} was rejected (${why})`,
      );
    }
  }
  const err = await describeGitFailure(ctx, e, {
    what: target.what,
    url: target.url,
    branch: target.branch,
  });
  return err;
}
