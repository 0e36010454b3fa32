/**
 * What happens to a repo folder that may already be there (the workspace lives on a shared
 * volume and outlives a run):
 *
 *  - absent (or an empty folder)                -> clone
 *  - a clone, and this session continues another (PARENT_SESSION_ID)
 *                                               -> keep exactly as it is, local changes included
 *  - a clone, and this is a new session         -> reset to the remote branch
 *                                                  (fetch, reset --hard, clean -fd)
 *  - anything else                              -> refused: we never delete what we did not make
 *
 * In every case identity and the output remote are (re)configured; that touches `.git/config`
 * only, never the work tree.
 */
import fs from 'node:fs/promises';
import { UserError } from '../errors.js';
import {
  cloneInto,
  configureRepo,
  isGitCheckout,
  resetToRemote,
  trackedBranch,
  type RepoContext,
} from './clone.js';
import { exists, isEmptyDir } from './layout.js';

export type RepoAction = 'cloned' | 'kept' | 'reset';

export interface SyncRequest {
  what: string;
  url: string;
  branch?: string;
  outputUrl?: string;
  dest: string;
}

export interface SyncResult {
  branch: string;
  action: RepoAction;
}

export async function syncRepo(
  ctx: RepoContext,
  req: SyncRequest,
  continuing: boolean,
): Promise<SyncResult> {
  let action: RepoAction;
  let branch: string;
  if (!(await exists(req.dest)) || (await isEmptyDir(req.dest))) {
    await fs.rm(req.dest, { recursive: true, force: true });
    await cloneInto(ctx, req);
    action = 'cloned';
    branch = await trackedBranch(ctx, req.dest, req.branch);
  } else if (await isGitCheckout(req.dest)) {
    if (continuing) {
      action = 'kept';
      branch = await trackedBranch(ctx, req.dest, req.branch);
    } else {
      action = 'reset';
      branch = await resetToRemote(ctx, req.dest, req);
    }
  } else {
    throw new UserError(
      'workspace',
      `${req.what}: ${req.dest} already exists and is not a git clone: remove it, or give the repo another name`,
    );
  }
  await configureRepo(ctx, req.dest, req.outputUrl);
  return { branch, action };
}
