/**
 * Getting a repository into place: clone at a branch (into a staging directory first, renamed
 * into place when complete, so a failed clone leaves nothing half-made), reset an existing clone
 * to its remote branch, set identity and remotes. Failures become clear user or system errors
 * that name the repo and the fix, never the token.
 */
import fs from 'node:fs/promises';
import { SystemError, UserError, type AppError } from '../errors.js';
import { GitCredentials, type ResolvedCredential } from './credentials.js';
import { parseRemote } from './forge.js';
import { GitCommandError, lastLines, type GitRunner } from './git.js';
import { exists, type WorkspaceLayout } from './layout.js';

export interface RepoContext {
  git: GitRunner;
  creds: GitCredentials;
  layout: WorkspaceLayout;
  identity: { name: string; email: string };
}

export const OUTPUT_REMOTE = 'output';

export interface CloneRequest {
  /** "repo app", "workflow bugfix": how messages name it. */
  what: string;
  url: string;
  branch?: string;
  dest: string;
}

/** Clones `url` at `branch` (or the remote's default branch) into `dest`, which must not exist. */
export async function cloneInto(ctx: RepoContext, req: CloneRequest): Promise<void> {
  const remote = parseRemote(req.url);
  const env = await ctx.creds.gitEnv(remote);
  const staging = await ctx.layout.stagingPath('clone');
  const args = ['clone', '--quiet', '--no-recurse-submodules'];
  if (req.branch) args.push('--branch', req.branch);
  args.push('--', req.url, staging);
  try {
    await ctx.git.run(args, { cwd: ctx.layout.root, env, network: true });
    await fs.rename(staging, req.dest);
  } catch (e) {
    throw await describeGitFailure(ctx, e, req);
  } finally {
    await fs.rm(staging, { recursive: true, force: true }).catch(() => undefined);
    await fs.rmdir(ctx.layout.staging).catch(() => undefined); // only when empty
  }
}

/**
 * Makes an existing clone match `origin/<branch>` exactly: fetch, hard reset, remove untracked
 * files. Returns the branch it now tracks (the remote's default branch when none was asked).
 */
export async function resetToRemote(
  ctx: RepoContext,
  dir: string,
  req: { what: string; url: string; branch?: string },
): Promise<string> {
  const remote = parseRemote(req.url);
  const env = await ctx.creds.gitEnv(remote);
  const full = { ...req, dest: dir };
  try {
    await setRemote(ctx, dir, 'origin', req.url);
    const branch = req.branch ?? (await remoteDefaultBranch(ctx, dir, env));
    await ctx.git.run(
      [
        'fetch',
        '--quiet',
        '--no-recurse-submodules',
        'origin',
        `+refs/heads/${branch}:refs/remotes/origin/${branch}`,
      ],
      { cwd: dir, env, network: true },
    );
    await ctx.git.run(
      ['checkout', '--quiet', '--force', '-B', branch, `refs/remotes/origin/${branch}`],
      { cwd: dir },
    );
    await ctx.git.run(['reset', '--quiet', '--hard', `refs/remotes/origin/${branch}`], {
      cwd: dir,
    });
    await ctx.git.run(['clean', '-fdq'], { cwd: dir });
    return branch;
  } catch (e) {
    throw await describeGitFailure(ctx, e, full);
  }
}

async function remoteDefaultBranch(
  ctx: RepoContext,
  dir: string,
  env: Record<string, string>,
): Promise<string> {
  const out = (
    await ctx.git.run(['ls-remote', '--symref', 'origin', 'HEAD'], { cwd: dir, env, network: true })
  ).stdout;
  const m = /^ref: refs\/heads\/(\S+)\s+HEAD/m.exec(out);
  if (!m?.[1])
    throw new UserError(
      'workspace',
      'the remote does not name a default branch: give the repo a branch',
    );
  return m[1];
}

/** The branch a clone tracks: the one asked for, else origin's default, else the checked-out one. */
export async function trackedBranch(
  ctx: RepoContext,
  dir: string,
  asked?: string,
): Promise<string> {
  if (asked) return asked;
  const originHead = await ctx.git.probe(
    ['symbolic-ref', '--quiet', '--short', 'refs/remotes/origin/HEAD'],
    { cwd: dir },
  );
  if (originHead?.startsWith('origin/')) return originHead.slice('origin/'.length);
  const head = await ctx.git.probe(['symbolic-ref', '--quiet', '--short', 'HEAD'], { cwd: dir });
  return head || 'main';
}

/** Identity for commits (ours and the agent's), and the `output` remote when one is given. */
export async function configureRepo(
  ctx: RepoContext,
  dir: string,
  outputUrl: string | undefined,
): Promise<void> {
  await ctx.git.run(['config', 'user.name', ctx.identity.name], { cwd: dir });
  await ctx.git.run(['config', 'user.email', ctx.identity.email], { cwd: dir });
  if (outputUrl) await setRemote(ctx, dir, OUTPUT_REMOTE, outputUrl);
  else if (await hasRemote(ctx, dir, OUTPUT_REMOTE))
    await ctx.git.run(['remote', 'remove', OUTPUT_REMOTE], { cwd: dir });
}

async function hasRemote(ctx: RepoContext, dir: string, name: string): Promise<boolean> {
  return (await ctx.git.probe(['remote', 'get-url', name], { cwd: dir })) !== undefined;
}

async function setRemote(ctx: RepoContext, dir: string, name: string, url: string): Promise<void> {
  if (await hasRemote(ctx, dir, name))
    await ctx.git.run(['remote', 'set-url', name, url], { cwd: dir });
  else await ctx.git.run(['remote', 'add', name, url], { cwd: dir });
}

/** Whether `dir` is itself the top of a git work tree (not merely inside one). */
export async function isGitCheckout(dir: string): Promise<boolean> {
  return exists(`${dir}/.git`);
}

/** Turns a git failure into an error a user can act on. Never includes a token. */
export async function describeGitFailure(
  ctx: RepoContext,
  e: unknown,
  req: { what: string; url: string; branch?: string },
): Promise<AppError> {
  if (!(e instanceof GitCommandError)) {
    if (e instanceof UserError)
      return new UserError('workspace', `${req.what}: ${e.message}`, { cause: e });
    return new SystemError('workspace', `${req.what}: ${(e as Error).message}`, { cause: e });
  }
  const remote = parseRemote(req.url);
  const where = safeUrl(req.url);
  if (e.timedOut)
    return new SystemError('workspace', `${req.what}: git ${e.args[0]} from ${where} timed out`);
  const s = e.stderr;
  let cred: ResolvedCredential | undefined;
  try {
    cred = await ctx.creds.resolve(remote);
  } catch {
    cred = undefined;
  }
  if (
    /Authentication failed|could not read (Username|Password)|HTTP Basic: Access denied|The requested URL returned error: 40[13]\b|Permission denied \(publickey/i.test(
      s,
    )
  ) {
    const advice = cred ? GitCredentials.advice(cred) : 'check the repository credentials';
    return new UserError(
      'workspace',
      `${req.what}: ${where} refused the credentials (authentication failed): ${advice}`,
    );
  }
  if (/Remote branch .* not found|couldn't find remote ref|not our ref/i.test(s)) {
    return new UserError(
      'workspace',
      `${req.what}: branch "${req.branch ?? '(default)'}" does not exist in ${where}: check the branch name`,
    );
  }
  if (
    /does not appear to be a git repository|repository .* not found|not found|The requested URL returned error: 404/i.test(
      s,
    )
  ) {
    return new UserError(
      'workspace',
      `${req.what}: ${where} does not exist or is not a git repository: check the URL`,
    );
  }
  if (
    /Could not resolve host|Connection refused|Failed to connect|Connection timed out|Network is unreachable/i.test(
      s,
    )
  ) {
    return new UserError(
      'workspace',
      `${req.what}: cannot reach ${remote.host ?? where}: ${lastLines(s, 2)}`,
    );
  }
  return new SystemError(
    'workspace',
    `${req.what}: git ${e.args[0]} failed for ${where}: ${lastLines(s)}`,
  );
}

/** A URL fit for a message: no user info, query or fragment. */
export function safeUrl(url: string): string {
  try {
    const u = new URL(url);
    u.username = '';
    u.password = '';
    u.search = '';
    u.hash = '';
    return u.toString();
  } catch {
    return url;
  }
}
