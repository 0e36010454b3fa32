/**
 * The environment of the Claude Code CLI child. The SDK's `env` option replaces the child's
 * environment entirely, which is what we want. Layers, later ones winning: the process basics
 * (PATH, HOME, proxies), the variables meant for the agent (a session's `environmentVariables`,
 * CLI tuning: the runner's environment minus its own variables and the platform's credentials,
 * src/config/agent-env.ts), then what the runner sets for the CLI (its state dir, the model
 * credentials) and what the workspace adds (git credentials). Never the bot token, the backend's
 * address, the raw git tokens, the Langfuse keys or the runner's own settings.
 */
import path from 'node:path';
import type { RunnerConfig } from '../config/runner-config.js';
import type { PreparedWorkspace } from '../workspace/types.js';

export function cliStateDir(config: Readonly<RunnerConfig>): string {
  return path.join(config.workspace.stateDir, '.claude');
}

export function cliScratchDir(config: Readonly<RunnerConfig>): string {
  return path.join(cliStateDir(config), 'tmp');
}

export function buildCliEnv(
  config: Readonly<RunnerConfig>,
  prepared: PreparedWorkspace,
): Record<string, string> {
  const env: Record<string, string> = {
    ...config.runtime.passthroughEnv,
    ...config.runtime.agentEnv,
  };
  env.CLAUDE_CONFIG_DIR = cliStateDir(config);
  // The CLI's scratch files (command output) of this session alone: a shared temp dir would show
  // one session's command output to the others' sandboxed commands, which may write there.
  if (config.sandbox.mode !== 'off') env.CLAUDE_CODE_TMPDIR = cliScratchDir(config);
  // Not a secret, and useful to the agent; it also tags the CLI and every command it runs, so a
  // control plane can find and end them if this runner dies without stopping them (SIGKILL).
  env.AGENTIC_SESSION_NAME = config.session.name;
  const { model } = config;
  if (model.provider === 'vertex' && model.vertex) {
    env.CLAUDE_CODE_USE_VERTEX = '1';
    env.ANTHROPIC_VERTEX_PROJECT_ID = model.vertex.projectId;
    env.CLOUD_ML_REGION = model.vertex.region;
    if (model.vertex.baseUrl) env.ANTHROPIC_VERTEX_BASE_URL = model.vertex.baseUrl;
    if (model.vertex.userToken) {
      // A user's access token goes to Vertex as is; the CLI's own Google auth is skipped.
      env.CLAUDE_CODE_SKIP_VERTEX_AUTH = '1';
      env.ANTHROPIC_CUSTOM_HEADERS = `Authorization: Bearer ${model.vertex.userToken}`;
    } else if (model.vertex.credentialsFile) {
      env.GOOGLE_APPLICATION_CREDENTIALS = model.vertex.credentialsFile;
    }
  } else {
    if (model.anthropicApiKey) env.ANTHROPIC_API_KEY = model.anthropicApiKey;
    if (model.anthropicBaseUrl) env.ANTHROPIC_BASE_URL = model.anthropicBaseUrl;
  }
  if (model.maxTokens) env.CLAUDE_CODE_MAX_OUTPUT_TOKENS = String(model.maxTokens);
  if (config.runtime.cliMaxRetries !== undefined)
    env.CLAUDE_CODE_MAX_RETRIES = String(config.runtime.cliMaxRetries);
  Object.assign(env, prepared.cliEnv);
  return env;
}
