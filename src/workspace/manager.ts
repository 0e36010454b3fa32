/**
 * The workspace manager: lays out `<WORKSPACE_PATH>` (contract §6), brings the repos and the
 * workflow in with real git, keeps or resets them for a continuation or a new session, applies
 * changes made over the socket, and at the end commits, pushes and opens pull/merge requests.
 *
 * The pieces: layout.ts (paths), git.ts (running git), credentials.ts (tokens, never on disk),
 * clone.ts + continuation.ts (repos in), publish.ts + github.ts + gitlab.ts (results out),
 * workflow.ts, mcp.ts, context.ts (system prompt). See docs/workspace.md.
 *
 * Calls are serialised: an `apply()` never runs while `finalize()` pushes, and vice versa.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { checkRepoName, checkRepoUrl, repoNameFromUrl, type RepoSpec } from '../protocol/repos.js';
import type { RunnerConfig } from '../config/runner-config.js';
import { describeError, AppError, SystemError, UserError } from '../errors.js';
import type { Logger } from '../observability/logger.js';
import type { Redactor } from '../observability/redact.js';
import { OUTPUT_REMOTE, type RepoContext } from './clone.js';
import { workspaceContext, type ContextRepo } from './context.js';
import { syncRepo } from './continuation.js';
import { GitCredentials } from './credentials.js';
import {
  parseRemote,
  sameRepo,
  githubApiBase,
  gitlabApiBase,
  type ForgeApis,
  type RemoteInfo,
} from './forge.js';
import type { FetchLike, ForgeHttp } from './forge-http.js';
import { GitRunner } from './git.js';
import { openGithubPullRequest } from './github.js';
import { openGitlabMergeRequest } from './gitlab.js';
import { assertBranchName, assertPlainName, exists, WorkspaceLayout } from './layout.js';
import { loadMcpConfig } from './mcp.js';
import { changesSince, commitAll, pushHead, type DiffStats } from './publish.js';
import type {
  AppliedChange,
  FinalizeReport,
  PreparedWorkspace,
  ProgressSink,
  RepoOutcome,
  WorkspaceChange,
  WorkspaceManager,
} from './types.js';
import { checkWorkflow, installWorkflow, type WorkflowState } from './workflow.js';

export interface WorkspaceDeps {
  config: Readonly<RunnerConfig>;
  logger: Logger;
  redactor: Redactor;
  progress: ProgressSink;
  /** Mints a short-lived git token through the backend (the runner's BackendClient fits). */
  backend: { mintGitToken(): Promise<string | undefined> };
  /**
   * GitHub REST base (GITHUB_API_URL, proposed): overrides `https://api.github.com` /
   * `https://<host>/api/v3`, and makes its host count as GitHub. Falls back to
   * `config.git.githubApiUrl` once the configuration carries it.
   */
  githubApiUrl?: string;
  /** GitLab REST base including `/api/v4` (GITLAB_API_URL, proposed); see githubApiUrl. */
  gitlabApiUrl?: string;
  /** Accept `stdio` MCP servers (MCP_ALLOW_STDIO, proposed); else `config.workspace.mcpAllowStdio`. */
  allowStdioMcp?: boolean;
  /** Bound on one network git command (clone, fetch, push); default 300 s. */
  gitNetworkTimeoutMs?: number;
  /** Bound on one local git command; default 60 s. */
  gitLocalTimeoutMs?: number;
  /** Bound on one forge API call; default 30 s. */
  forgeTimeoutMs?: number;
  /** `fetch` for forge calls (tests may wrap it); the global one by default. */
  fetch?: FetchLike;
}

/** Configuration fields this module reads when present (proposed to the configuration owner). */
type ProposedConfig = {
  git: { githubApiUrl?: string; gitlabApiUrl?: string };
  workspace: { mcpAllowStdio?: boolean };
};

export function artifactsDir(config: Readonly<RunnerConfig>): string {
  return path.join(config.workspace.path, 'artifacts');
}

interface RepoState {
  name: string;
  spec: RepoSpec;
  dir: string;
  /** The input branch, resolved (the remote's default when none was given). */
  branch: string;
}

export function createWorkspaceManager(deps: WorkspaceDeps): WorkspaceManager {
  return new GitWorkspaceManager(deps);
}

class GitWorkspaceManager implements WorkspaceManager {
  private readonly config: Readonly<RunnerConfig>;
  private readonly layout: WorkspaceLayout;
  private readonly apis: ForgeApis;
  private readonly allowStdio: boolean;
  private readonly creds: GitCredentials;
  private readonly ctx: RepoContext;
  private readonly http: ForgeHttp;
  private readonly continuing: boolean;
  private redactor: Redactor;
  private repos: RepoState[] = [];
  private mainRepo: string | undefined;
  private workflow: WorkflowState | undefined;
  private readonly warned = new Set<string>();
  private chain: Promise<unknown> = Promise.resolve();

  constructor(private readonly deps: WorkspaceDeps) {
    const config = (this.config = deps.config);
    const proposed = config as unknown as Partial<ProposedConfig>;
    this.redactor = deps.redactor;
    this.layout = new WorkspaceLayout(config.workspace.path);
    this.apis = {
      ...opt('githubApiUrl', deps.githubApiUrl ?? proposed.git?.githubApiUrl),
      ...opt('gitlabApiUrl', deps.gitlabApiUrl ?? proposed.git?.gitlabApiUrl),
    };
    this.allowStdio = deps.allowStdioMcp ?? proposed.workspace?.mcpAllowStdio ?? false;
    this.continuing = !!config.session.parentSessionId;
    this.creds = new GitCredentials({
      ...opt('githubToken', config.git.githubToken),
      ...opt('gitlabToken', config.git.gitlabToken),
      apis: this.apis,
      mint: () => deps.backend.mintGitToken(),
      onMinted: (token) => {
        this.redactor = this.redactor.with(token);
      },
      warn: (m) => this.say(m, 'warn'),
    });
    const git = new GitRunner({
      baseEnv: config.runtime.passthroughEnv,
      redactor: () => this.redactor,
      logger: deps.logger,
      ...opt('localTimeoutMs', deps.gitLocalTimeoutMs),
      ...opt('networkTimeoutMs', deps.gitNetworkTimeoutMs),
    });
    this.ctx = {
      git,
      creds: this.creds,
      layout: this.layout,
      identity: { name: config.git.userName, email: config.git.userEmail },
    };
    this.http = {
      fetch: deps.fetch ?? ((input, init) => fetch(input, init)),
      redactor: () => this.redactor,
      timeoutMs: deps.forgeTimeoutMs ?? 30_000,
    };
  }

  // --- the interface ----------------------------------------------------------------------

  prepare(): Promise<PreparedWorkspace> {
    return this.serial(() => this.guard(() => this.doPrepare()));
  }

  apply(change: WorkspaceChange): Promise<AppliedChange> {
    return this.serial(() => this.guard(() => this.doApply(change)));
  }

  finalize(): Promise<FinalizeReport> {
    return this.serial(() => this.doFinalize());
  }

  // --- repos in ---------------------------------------------------------------------------

  private async doPrepare(): Promise<PreparedWorkspace> {
    const { workspace } = this.config;
    // Everything is checked before the first file is touched.
    for (const spec of workspace.repos) this.checkSpec(spec);
    if (workspace.workflow) checkWorkflow(workspace.workflow);

    try {
      await fs.mkdir(this.layout.artifacts, { recursive: true });
      await fs.mkdir(path.join(workspace.stateDir, '.claude'), { recursive: true });
      await fs.rm(this.layout.staging, { recursive: true, force: true });
    } catch (e) {
      throw new SystemError(
        'workspace',
        `cannot create the workspace at ${workspace.path}: ${(e as Error).message}`,
        { cause: e },
      );
    }

    const repos: RepoState[] = [];
    for (const spec of workspace.repos) repos.push(await this.bringIn(spec));
    this.repos = repos;
    this.mainRepo = workspace.mainRepoName ?? repos[0]?.name;

    if (workspace.workflow) {
      this.workflow = await this.bringInWorkflow(workspace.workflow, this.continuing);
    }
    return this.snapshot();
  }

  private checkSpec(spec: RepoSpec): void {
    assertPlainName(spec.name, 'repo');
    const urlProblem = checkRepoUrl(spec.input.url);
    if (urlProblem) throw new UserError('workspace', `repo ${spec.name}: URL ${urlProblem}`);
    if (spec.output) {
      const outProblem = checkRepoUrl(spec.output.url);
      if (outProblem)
        throw new UserError('workspace', `repo ${spec.name}: output URL ${outProblem}`);
    }
    if (spec.input.branch) assertBranchName(spec.input.branch, `repo ${spec.name}`);
    if (spec.output?.branch) assertBranchName(spec.output.branch, `repo ${spec.name} (output)`);
  }

  private async bringIn(spec: RepoSpec): Promise<RepoState> {
    const dir = this.layout.repoDir(spec.name);
    const present = await exists(path.join(dir, '.git'));
    const data = { repo: spec.name };
    if (!present) this.say(`Cloning ${spec.name}…`, 'info', data);
    else if (this.continuing)
      this.say(
        `Reusing ${spec.name} as session ${this.config.session.parentSessionId} left it…`,
        'info',
        data,
      );
    else this.say(`Resetting ${spec.name} to its remote branch…`, 'info', data);
    const outputUrl = this.outputUrl(spec);
    const result = await syncRepo(
      this.ctx,
      {
        what: `repo ${spec.name}`,
        url: spec.input.url,
        ...opt('branch', spec.input.branch),
        ...opt('outputUrl', outputUrl),
        dest: dir,
      },
      this.continuing,
    );
    this.say(
      `✓ ${spec.name} ready (branch ${result.branch}${result.action === 'kept' ? ', local changes kept' : ''})`,
      'info',
      {
        ...data,
        action: result.action,
        branch: result.branch,
      },
    );
    return { name: spec.name, spec, dir, branch: result.branch };
  }

  private async bringInWorkflow(
    spec: NonNullable<RunnerConfig['workspace']['workflow']>,
    keep: boolean,
  ): Promise<WorkflowState> {
    const { name } = checkWorkflow(spec);
    this.say(`Cloning workflow ${name}…`, 'info', { workflow: name });
    const wf = await installWorkflow(this.ctx, spec, {
      keepExisting: keep,
      warn: (m) => this.say(m, 'warn'),
    });
    this.say(`✓ workflow ${name} ready`, 'info', { workflow: name, action: wf.action });
    return wf;
  }

  /** The output URL to configure as the `output` remote (only when it differs from the input). */
  private outputUrl(spec: RepoSpec): string | undefined {
    if (!spec.output) return undefined;
    return sameRepo(parseRemote(spec.input.url), parseRemote(spec.output.url))
      ? undefined
      : spec.output.url;
  }

  private outputOf(repo: RepoState): { remoteName: string; url: string; branch: string } {
    const url = this.outputUrl(repo.spec);
    return {
      remoteName: url ? OUTPUT_REMOTE : 'origin',
      url: url ?? repo.spec.input.url,
      branch: repo.spec.output?.branch ?? `sessions/${this.config.session.id}`,
    };
  }

  // --- changes over the socket ------------------------------------------------------------

  private async doApply(change: WorkspaceChange): Promise<AppliedChange> {
    switch (change.type) {
      case 'repo_added': {
        const name = change.name?.trim() || repoNameFromUrl(change.url);
        const nameProblem = checkRepoName(name);
        if (nameProblem) throw new UserError('workspace', `repo_added: name ${nameProblem}`);
        const spec: RepoSpec = {
          name,
          input: { url: change.url, ...opt('branch', change.branch?.trim() || undefined) },
        };
        this.checkSpec(spec);
        if (this.repos.some((r) => r.name === name))
          throw new UserError(
            'workspace',
            `repo_added: a repo named "${name}" is already in the workspace: give the new one another name`,
          );
        await fs.mkdir(this.config.workspace.path, { recursive: true });
        const state = await this.bringIn(spec);
        this.repos = [...this.repos, state];
        this.mainRepo ??= name;
        return { ...(await this.snapshot()), summary: `Added repo ${name} at ${state.dir}` };
      }
      case 'repo_removed': {
        const repo = this.repos.find((r) => r.name === change.name);
        if (!repo)
          throw new UserError(
            'workspace',
            `repo_removed: there is no repo named "${change.name}" in the workspace`,
          );
        const stats = await changesSince(
          this.ctx,
          repo.dir,
          `refs/remotes/origin/${repo.branch}`,
        ).catch(() => undefined);
        if (stats?.files)
          this.say(
            `${repo.name} had changes that were never pushed (${describeStats(stats)}); they are discarded with it`,
            'warn',
            { repo: repo.name },
          );
        await fs.rm(repo.dir, { recursive: true, force: true });
        this.repos = this.repos.filter((r) => r !== repo);
        if (this.mainRepo === repo.name) this.mainRepo = this.repos[0]?.name;
        this.say(`✓ removed ${repo.name}`, 'info', { repo: repo.name });
        return { ...(await this.snapshot()), summary: `Removed repo ${repo.name}` };
      }
      case 'workflow_change': {
        if (!change.gitUrl?.trim()) {
          this.workflow = undefined;
          return { ...(await this.snapshot()), summary: 'Workflow cleared' };
        }
        const spec = {
          gitUrl: change.gitUrl.trim(),
          ...opt('branch', change.branch?.trim() || undefined),
          ...opt('path', change.path?.trim() || undefined),
        };
        const wf = await this.bringInWorkflow(spec, false);
        this.workflow = wf;
        return {
          ...(await this.snapshot()),
          summary: `Workflow ${wf.name} active at ${wf.dir}`,
          ...opt('startupPrompt', wf.startupPrompt),
        };
      }
      default: {
        const unknown = change as { type?: unknown };
        throw new UserError(
          'workspace',
          `unknown workspace change ${JSON.stringify(unknown.type)}`,
        );
      }
    }
  }

  // --- what the runner gets ---------------------------------------------------------------

  private async snapshot(): Promise<PreparedWorkspace> {
    const main = this.repos.find((r) => r.name === this.mainRepo);
    const cwd = this.workflow?.dir ?? main?.dir ?? this.layout.artifacts;
    const additionalDirectories = [...this.repos.map((r) => r.dir), this.layout.artifacts].filter(
      (d) => d !== cwd,
    );
    const mcp = await loadMcpConfig({
      ...opt('configPath', this.config.workspace.mcpConfigPath),
      cwd,
      root: this.layout.root,
      allowStdio: this.allowStdio,
      warn: (m) => this.warnOnce(m),
    });
    const remotes: RemoteInfo[] = [];
    for (const r of this.repos) {
      remotes.push(parseRemote(r.spec.input.url));
      if (r.spec.output) remotes.push(parseRemote(r.spec.output.url));
    }
    if (this.workflow) remotes.push(parseRemote(this.workflow.spec.gitUrl));
    const { userName, userEmail } = this.config.git;
    const cliEnv = {
      ...(await this.creds.cliEnv(remotes)),
      GIT_AUTHOR_NAME: userName,
      GIT_AUTHOR_EMAIL: userEmail,
      GIT_COMMITTER_NAME: userName,
      GIT_COMMITTER_EMAIL: userEmail,
    };
    const contextRepos: ContextRepo[] = this.repos.map((r) => {
      const out = this.outputOf(r);
      return {
        name: r.name,
        dir: r.dir,
        branch: r.branch,
        outputBranch: out.branch,
        outputRemote: out.remoteName,
      };
    });
    const systemPromptAppend = workspaceContext({
      sessionName: this.config.session.name,
      root: this.layout.root,
      cwd,
      artifactsDir: this.layout.artifacts,
      repos: contextRepos,
      ...opt('mainRepo', main?.name),
      autoPush: this.config.workspace.autoPush,
      createPr: this.config.workspace.createPr,
      ...opt(
        'workflow',
        this.workflow
          ? {
              name: this.workflow.name,
              dir: this.workflow.dir,
              ...opt('systemPrompt', this.workflow.systemPrompt),
            }
          : undefined,
      ),
    });
    return {
      cwd,
      additionalDirectories,
      systemPromptAppend,
      mcpServers: mcp.servers,
      extraAllowedTools: mcp.allowedTools,
      cliEnv,
      secrets: this.creds.mintedTokens,
    };
  }

  // --- results out ------------------------------------------------------------------------

  private async doFinalize(): Promise<FinalizeReport> {
    const outcomes: RepoOutcome[] = [];
    const prUrls: string[] = [];
    for (const repo of this.repos) {
      const outcome = await this.finalizeRepo(repo);
      outcomes.push(outcome);
      if (outcome.prUrl) prUrls.push(outcome.prUrl);
    }
    return this.redactor.redactDeep({ repos: outcomes, prUrls });
  }

  private async finalizeRepo(repo: RepoState): Promise<RepoOutcome> {
    const { autoPush, createPr } = this.config.workspace;
    const data = { repo: repo.name };
    const out = this.outputOf(repo);
    let stats: DiffStats;
    try {
      stats = await changesSince(this.ctx, repo.dir, `refs/remotes/origin/${repo.branch}`);
    } catch (e) {
      const error = this.message(e);
      this.say(`✗ ${repo.name}: cannot read its changes: ${error}`, 'error', data);
      return { name: repo.name, status: 'failed', error };
    }
    const counts = { added: stats.added, removed: stats.removed };
    if (!stats.files) {
      this.say(`${repo.name}: no changes`, 'info', { ...data, status: 'nodiff' });
      return { name: repo.name, status: 'nodiff', ...counts };
    }
    if (!autoPush) {
      this.say(
        `${repo.name}: ${describeStats(stats)}, not pushed (AUTO_PUSH_ON_COMPLETE is off)`,
        'info',
        { ...data, status: 'diff', ...counts },
      );
      return { name: repo.name, status: 'diff', ...counts };
    }

    this.say(`Pushing ${repo.name} to ${out.branch}…`, 'info', data);
    try {
      await commitAll(this.ctx, repo.dir, this.commitMessage());
      await pushHead(this.ctx, repo.dir, { what: `repo ${repo.name}`, ...out });
    } catch (e) {
      const error = `${this.message(e)}; the commit stays in ${repo.dir}`;
      this.say(`✗ ${error}`, 'error', { ...data, status: 'failed' });
      return { name: repo.name, status: 'failed', branch: out.branch, ...counts, error };
    }
    this.say(`✓ ${repo.name} pushed to ${out.branch} (${describeStats(stats)})`, 'info', {
      ...data,
      status: 'pushed',
      branch: out.branch,
      ...counts,
    });
    const outcome: RepoOutcome = {
      name: repo.name,
      status: 'pushed',
      branch: out.branch,
      ...counts,
    };
    if (!createPr) return outcome;

    try {
      const prUrl = await this.openPullRequest(repo, out, stats);
      if (prUrl) {
        outcome.prUrl = prUrl;
        this.say(`✓ Pull request for ${repo.name}: ${prUrl}`, 'info', { ...data, prUrl });
      }
    } catch (e) {
      outcome.error = `pull request not opened: ${this.message(e)}`;
      this.say(`✗ ${repo.name}: ${outcome.error}`, 'error', data);
    }
    return outcome;
  }

  private async openPullRequest(
    repo: RepoState,
    out: { url: string; branch: string },
    stats: DiffStats,
  ): Promise<string | undefined> {
    const base = parseRemote(repo.spec.input.url);
    const head = parseRemote(out.url);
    const baseBranch = this.config.workspace.prTargetBranch ?? repo.branch;
    if (sameRepo(base, head) && baseBranch === out.branch) {
      this.say(`${repo.name}: pushed straight to ${baseBranch}; no pull request needed`, 'info', {
        repo: repo.name,
      });
      return undefined;
    }
    const kind = this.creds.kindOf(base);
    if (
      (kind !== 'github' && kind !== 'gitlab') ||
      this.creds.kindOf(head) !== kind ||
      base.host !== head.host
    )
      throw new UserError(
        'workspace',
        `${base.scheme === 'file' ? repo.spec.input.url : base.host} is not a GitHub or GitLab host this runner recognises (for a self-hosted server set GITHUB_API_URL or GITLAB_API_URL)`,
      );
    const cred = await this.creds.resolve(base);
    const title = this.title();
    const req = {
      token: cred.token,
      tokenVar: kind === 'gitlab' ? 'GITLAB_TOKEN' : 'GITHUB_TOKEN',
      base,
      head,
      headBranch: out.branch,
      baseBranch,
      title,
      body: [
        `Changes made by Claude Code in session \`${this.config.session.name}\` (project \`${this.config.session.project}\`).`,
        '',
        `${describeStats(stats)}, pushed to \`${out.branch}\`.`,
      ].join('\n'),
    };
    return kind === 'github'
      ? openGithubPullRequest(this.http, { ...req, api: githubApiBase(base, this.apis) })
      : openGitlabMergeRequest(this.http, { ...req, api: gitlabApiBase(base, this.apis) });
  }

  private title(): string {
    const first =
      this.config.session.prompt
        .split('\n')
        .find((l) => l.trim())
        ?.trim() ?? '';
    const text = first
      ? `Claude Code: ${first}`
      : `Claude Code session ${this.config.session.name}`;
    return this.redactor.redact(text.length > 100 ? `${text.slice(0, 99)}…` : text);
  }

  private commitMessage(): string {
    return `${this.title()}\n\nSession: ${this.config.session.id}\nProject: ${this.config.session.project}\n`;
  }

  // --- plumbing ---------------------------------------------------------------------------

  private say(
    message: string,
    level: 'info' | 'warn' | 'error' = 'info',
    data?: Record<string, unknown>,
  ): void {
    const text = this.redactor.redact(message);
    // The sink is the channel (socket and, at the runner's choice, the log); debug avoids doubles.
    this.deps.logger.debug(`progress (${level}): ${text}`);
    try {
      this.deps.progress(text, level, data ? this.redactor.redactDeep(data) : undefined);
    } catch (e) {
      this.deps.logger.warn(`progress sink failed: ${(e as Error).message}`);
    }
  }

  private warnOnce(message: string): void {
    if (this.warned.has(message)) return;
    this.warned.add(message);
    this.say(message, 'warn');
  }

  private message(e: unknown): string {
    return this.redactor.redact(e instanceof AppError ? e.message : describeError(e));
  }

  /** Every error leaves as an AppError with phase 'workspace' and a redacted message. */
  private async guard<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      if (e instanceof UserError) throw new UserError('workspace', this.redactor.redact(e.message));
      if (e instanceof SystemError)
        throw new SystemError('workspace', this.redactor.redact(e.message));
      throw new SystemError('workspace', this.redactor.redact(describeError(e)));
    }
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.chain.then(fn, fn);
    this.chain = run.catch(() => undefined);
    return run;
  }
}

function describeStats(s: DiffStats): string {
  return `${s.files} file${s.files === 1 ? '' : 's'} changed, +${s.added} −${s.removed}`;
}

function opt<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
}
