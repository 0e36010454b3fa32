/**
 * Workflows: a git repo (or one folder of it) cloned into `workflows/<name>`, which becomes the
 * agent's working directory. Its `.ambient/ambient.json` may carry `systemPrompt` (joins the
 * system prompt) and `startupPrompt` (sent when the workflow is switched in mid-session); its
 * `.claude/` commands and agents are found by the CLI as project settings.
 *
 * With a sub-path only that folder is installed (without `.git`); a sub-path that leaves the
 * repo (`..`, an absolute path, or a symlink pointing out) is refused.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { repoNameFromUrl, checkRepoUrl } from '../protocol/repos.js';
import type { WorkflowSpec } from '../config/runner-config.js';
import { UserError } from '../errors.js';
import { cloneInto, safeUrl, type RepoContext } from './clone.js';
import { assertBranchName, assertPlainName, exists, isDirectory, isInside } from './layout.js';

export interface WorkflowState {
  name: string;
  dir: string;
  spec: WorkflowSpec;
  systemPrompt?: string;
  startupPrompt?: string;
  action: 'cloned' | 'kept';
}

/** `"a/b/"` -> `"a/b"`; `"."`/`""` -> undefined; throws when it leaves the repo. */
export function normalizeWorkflowPath(p: string | undefined): string | undefined {
  if (p === undefined) return undefined;
  const trimmed = p.trim();
  if (!trimmed) return undefined;
  if (
    path.isAbsolute(trimmed) ||
    /^[A-Za-z]:[\\/]/.test(trimmed) ||
    trimmed.split(/[\\/]+/).includes('..')
  )
    throw new UserError(
      'workspace',
      `workflow path "${trimmed}" points outside the workflow repo: use a relative path inside it`,
    );
  const norm = path.posix
    .normalize(trimmed.replace(/\\/g, '/'))
    .replace(/^\.\/+/, '')
    .replace(/\/+$/, '');
  return norm === '.' || norm === '' ? undefined : norm;
}

export function workflowName(spec: WorkflowSpec): string {
  const sub = normalizeWorkflowPath(spec.path);
  return sub ? path.posix.basename(sub) : repoNameFromUrl(spec.gitUrl);
}

/** Checks a workflow before anything is touched. */
export function checkWorkflow(spec: WorkflowSpec): { name: string; subPath?: string } {
  const urlProblem = checkRepoUrl(spec.gitUrl);
  if (urlProblem) throw new UserError('workspace', `workflow git URL ${urlProblem}`);
  if (spec.branch) assertBranchName(spec.branch, 'workflow');
  const subPath = normalizeWorkflowPath(spec.path);
  const name = workflowName(spec);
  assertPlainName(name, 'workflow');
  return { name, ...(subPath ? { subPath } : {}) };
}

export async function installWorkflow(
  ctx: RepoContext,
  spec: WorkflowSpec,
  opts: { keepExisting: boolean; warn: (message: string) => void },
): Promise<WorkflowState> {
  const { name, subPath } = checkWorkflow(spec);
  const dest = ctx.layout.workflowDir(name);
  const what = `workflow ${name}`;
  if (opts.keepExisting && (await isDirectory(dest))) {
    return { name, dir: dest, spec, action: 'kept', ...(await readAmbientJson(dest, opts.warn)) };
  }
  await fs.mkdir(ctx.layout.workflows, { recursive: true });
  const clone = await ctx.layout.stagingPath('workflow');
  try {
    await cloneInto(ctx, {
      what,
      url: spec.gitUrl,
      ...(spec.branch ? { branch: spec.branch } : {}),
      dest: clone,
    });
    let source = clone;
    if (subPath) {
      const root = await fs.realpath(clone);
      const wanted = path.join(root, subPath);
      const real = (await exists(wanted)) ? await fs.realpath(wanted) : undefined;
      if (real && !isInside(root, real))
        throw new UserError(
          'workspace',
          `${what}: path "${subPath}" points outside the workflow repo (a symlink): use a folder inside it`,
        );
      if (!real || !(await isDirectory(real)))
        throw new UserError(
          'workspace',
          `${what}: path "${subPath}" is not a folder in ${safeUrl(spec.gitUrl)}${spec.branch ? ` (branch ${spec.branch})` : ''}: check ACTIVE_WORKFLOW_PATH`,
        );
      source = real;
    }
    await fs.rm(dest, { recursive: true, force: true });
    await fs.rename(source, dest);
  } finally {
    await fs.rm(clone, { recursive: true, force: true }).catch(() => undefined);
    await fs.rmdir(ctx.layout.staging).catch(() => undefined); // only when empty
  }
  return { name, dir: dest, spec, action: 'cloned', ...(await readAmbientJson(dest, opts.warn)) };
}

/** `systemPrompt` and `startupPrompt` from `.ambient/ambient.json`; a broken file is a warning. */
export async function readAmbientJson(
  dir: string,
  warn: (message: string) => void,
): Promise<{ systemPrompt?: string; startupPrompt?: string }> {
  const file = path.join(dir, '.ambient', 'ambient.json');
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch {
    return {};
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    warn(
      `workflow .ambient/ambient.json is not valid JSON (${(e as Error).message}); its prompts are ignored`,
    );
    return {};
  }
  if (!json || typeof json !== 'object' || Array.isArray(json)) {
    warn('workflow .ambient/ambient.json is not a JSON object; its prompts are ignored');
    return {};
  }
  const o = json as Record<string, unknown>;
  const out: { systemPrompt?: string; startupPrompt?: string } = {};
  for (const key of ['systemPrompt', 'startupPrompt'] as const) {
    const v = o[key];
    if (typeof v === 'string' && v.trim()) out[key] = v.trim();
    else if (v !== undefined && typeof v !== 'string')
      warn(`workflow .ambient/ambient.json: "${key}" is not a string; ignored`);
  }
  return out;
}
