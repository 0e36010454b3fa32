/**
 * The workspace manager: lays out `<WORKSPACE_PATH>` (contract §6) and prepares the agent's
 * directories. Repos, continuation, push and PRs are added by the git layer (see ./git/).
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { RunnerConfig } from '../config/runner-config.js';
import type { Logger } from '../observability/logger.js';
import type { Redactor } from '../observability/redact.js';
import { SystemError, UserError } from '../errors.js';
import type { BackendClient } from '../runner/backend-client.js';
import type {
  AppliedChange,
  FinalizeReport,
  PreparedWorkspace,
  ProgressSink,
  WorkspaceChange,
  WorkspaceManager,
} from './types.js';

export interface WorkspaceDeps {
  config: Readonly<RunnerConfig>;
  logger: Logger;
  redactor: Redactor;
  progress: ProgressSink;
  backend: BackendClient;
}

export function artifactsDir(config: Readonly<RunnerConfig>): string {
  return path.join(config.workspace.path, 'artifacts');
}

export function createWorkspaceManager(deps: WorkspaceDeps): WorkspaceManager {
  const { config } = deps;
  const build = (): PreparedWorkspace => ({
    cwd: artifactsDir(config),
    additionalDirectories: [],
    systemPromptAppend: workspaceContext(config),
    mcpServers: {},
    extraAllowedTools: [],
    cliEnv: {},
  });
  return {
    async prepare() {
      try {
        await fs.mkdir(artifactsDir(config), { recursive: true });
        await fs.mkdir(path.join(config.workspace.stateDir, '.claude'), { recursive: true });
      } catch (e) {
        throw new SystemError('workspace', `cannot create the workspace at ${config.workspace.path}: ${(e as Error).message}`, { cause: e });
      }
      if (config.workspace.repos.length || config.workspace.workflow)
        throw new UserError('workspace', 'repos and workflows need the git workspace layer, which this build does not include');
      return build();
    },
    async apply(change: WorkspaceChange): Promise<AppliedChange> {
      throw new UserError('workspace', `${change.type} needs the git workspace layer, which this build does not include`);
    },
    async finalize(): Promise<FinalizeReport> {
      return { repos: [], prUrls: [] };
    },
  };
}

function workspaceContext(config: Readonly<RunnerConfig>): string {
  return [
    '## Workspace',
    `You are running inside a session of an agentic-coding platform (session ${config.session.name}).`,
    `The workspace is ${config.workspace.path}. Put files you produce for the user in ${artifactsDir(config)}.`,
  ].join('\n');
}
