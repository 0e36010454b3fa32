/**
 * What the runner needs from the workspace, and what it hands the workspace. The runner calls
 * `prepare()` before the first turn, `apply()` when the backend adds or removes a repo or
 * switches the workflow, and `finalize()` once at the end (push, pull requests).
 */
import type { McpServerConfig } from '@anthropic-ai/claude-agent-sdk';

export interface PreparedWorkspace {
  /** The agent's working directory: the main repo, the workflow, or `artifacts/`. */
  cwd: string;
  /** Other directories the agent may use (other repos, `artifacts/`). */
  additionalDirectories: string[];
  /** Workspace context appended to the Claude Code system prompt preset. */
  systemPromptAppend: string;
  /** MCP servers accepted from `.mcp.json` (and the platform's own). */
  mcpServers: Record<string, McpServerConfig>;
  /** Tools allowed beyond the built-in list (e.g. `mcp__<server>`). */
  extraAllowedTools: string[];
  /**
   * Variables for the CLI (and so the agent's shell): a git credential helper that reads the
   * token from the environment (GIT_CONFIG_COUNT/KEY/VALUE + CCR_GIT_TOKEN_<n>), GH_TOKEN /
   * GITLAB_TOKEN, the git identity. They hold tokens: pass them on, never print them.
   */
  cliEnv: Record<string, string>;
  /**
   * Secrets the workspace obtained at run time (a token minted by the backend). The runner
   * must redact them too, e.g. `redactor = redactor.with(...secrets)`.
   */
  secrets?: string[];
}

export interface AppliedChange extends PreparedWorkspace {
  /** Sent as a user message after the change (a workflow's `startupPrompt`). */
  startupPrompt?: string;
  /** One line for the socket, e.g. "Added repo app". */
  summary: string;
}

export type WorkspaceChange =
  | { type: 'repo_added'; url: string; branch?: string; name?: string }
  | { type: 'repo_removed'; name: string }
  | { type: 'workflow_change'; gitUrl: string; branch?: string; path?: string };

export interface RepoOutcome {
  name: string;
  status: 'pushed' | 'nodiff' | 'diff' | 'failed';
  branch?: string;
  added?: number;
  removed?: number;
  prUrl?: string;
  error?: string;
}

export interface FinalizeReport {
  repos: RepoOutcome[];
  prUrls: string[];
}

export interface WorkspaceManager {
  prepare(): Promise<PreparedWorkspace>;
  apply(change: WorkspaceChange): Promise<AppliedChange>;
  finalize(): Promise<FinalizeReport>;
}

/** Progress lines for the socket ("Cloning app…", "✓ app ready"). */
export type ProgressSink = (
  message: string,
  level?: 'info' | 'warn' | 'error',
  data?: Record<string, unknown>,
) => void;
