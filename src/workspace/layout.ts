/**
 * The workspace layout (contract §6) and the path checks that keep untrusted names inside it.
 *
 *   <root>/<repo>/            each repo (a git clone)
 *   <root>/artifacts/         outputs; the working directory when there are no repos
 *   <root>/workflows/<name>/  the active workflow
 *   <root>/.ccr-staging/      clones in progress (renamed into place when complete)
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { checkRepoName } from '../protocol/repos.js';
import { UserError } from '../errors.js';

export class WorkspaceLayout {
  constructor(readonly root: string) {}

  get artifacts(): string {
    return path.join(this.root, 'artifacts');
  }
  get workflows(): string {
    return path.join(this.root, 'workflows');
  }
  get staging(): string {
    return path.join(this.root, '.ccr-staging');
  }

  /** `<root>/<name>`; the name is checked again here so no caller can escape the root. */
  repoDir(name: string): string {
    assertPlainName(name, 'repo');
    return path.join(this.root, name);
  }

  workflowDir(name: string): string {
    assertPlainName(name, 'workflow');
    return path.join(this.workflows, name);
  }

  /** A fresh, unused path under the staging directory (not created). */
  async stagingPath(label: string): Promise<string> {
    await fs.mkdir(this.staging, { recursive: true });
    return path.join(this.staging, `${label}-${randomBytes(4).toString('hex')}`);
  }
}

export function assertPlainName(name: string, what: string): void {
  const problem =
    checkRepoName(name) ??
    (name === '.ccr-staging'
      ? `"${name}" is reserved for the workspace layout: choose another name`
      : null);
  if (problem) throw new UserError('workspace', `${what} name ${problem}`);
}

/** True when `child` is `parent` or inside it (both absolute, already resolved). */
export function isInside(parent: string, child: string): boolean {
  const rel = path.relative(parent, child);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

export async function exists(p: string): Promise<boolean> {
  try {
    await fs.lstat(p);
    return true;
  } catch {
    return false;
  }
}

export async function isDirectory(p: string): Promise<boolean> {
  try {
    return (await fs.stat(p)).isDirectory();
  } catch {
    return false;
  }
}

export async function isEmptyDir(p: string): Promise<boolean> {
  try {
    return (await fs.readdir(p)).length === 0;
  } catch {
    return false;
  }
}

/** A git branch name that is safe to pass to git (no option injection, no ref tricks). */
export function checkBranchName(branch: string): string | null {
  if (!branch) return 'is empty';
  if (branch.startsWith('-')) return `"${branch}" starts with "-"`;
  if (branch.length > 255) return 'is longer than 255 characters';
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u0020\u007f~^:?*[\\]/.test(branch))
    return `"${branch}" contains a character git does not allow in branch names`;
  if (branch.includes('..') || branch.includes('@{') || branch.includes('//'))
    return `"${branch}" contains "..", "@{" or "//"`;
  if (
    branch.startsWith('/') ||
    branch.endsWith('/') ||
    branch.endsWith('.') ||
    branch.endsWith('.lock')
  )
    return `"${branch}" is not a valid branch name`;
  if (branch.split('/').some((part) => part.startsWith('.')))
    return `"${branch}" has a part starting with "."`;
  return null;
}

export function assertBranchName(branch: string, what: string): void {
  const problem = checkBranchName(branch);
  if (problem)
    throw new UserError('workspace', `${what}: branch ${problem}: use a valid git branch name`);
}
