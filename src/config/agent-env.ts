/**
 * Which of the runner's variables the agent gets. The platform hands a session's own variables
 * (`environmentVariables`: a Jira URL, a package registry token) to the runner as plain
 * environment variables, mixed with the runner's own settings and credentials; an operator that
 * only sets plain variables cannot say which is which. So the agent gets the runner's environment
 * minus everything the runner itself consumes and every platform credential: what is left is
 * what the platform meant for the agent. The runner then adds what the CLI needs (model
 * credentials, its state dir), which the user cannot override.
 */
import { PROCESS_BASICS_ENV, type Env } from './env.js';

/** A variable whose name says it holds a credential: its value is redacted wherever it appears. */
export const SECRET_ENV_NAME = /TOKEN|SECRET|PASSW|KEY|CREDENTIAL|AUTH|PRIVATE|COOKIE/i;

/**
 * Every variable the runner reads (src/config/runner-config.ts) or the platform sets for it, and
 * the credentials of the platform. None reaches the agent; the runner sets again, explicitly,
 * the few the CLI needs.
 */
const RUNNER_OWN = new Set([
  // identity and the session (contract §2)
  'SESSION_ID',
  'AGENTIC_SESSION_NAME',
  'AGENTIC_SESSION_NAMESPACE',
  'AGENTIC_SESSION_RUN',
  'PROJECT_NAME',
  'PROMPT',
  'INTERACTIVE',
  'TIMEOUT',
  'PARENT_SESSION_ID',
  'USER_ID',
  'USER_NAME',
  'AGENTS_JSON',
  // the backend and its credential
  'WEBSOCKET_URL',
  'BACKEND_API_URL',
  'BOT_TOKEN',
  // the model
  'LLM_MODEL',
  'LLM_TEMPERATURE',
  'LLM_MAX_TOKENS',
  'CLOUD_ML_REGION',
  'GOOGLE_APPLICATION_CREDENTIALS',
  // the workspace and git (git tokens reach the agent only the workspace's way: docs/workspace.md)
  'WORKSPACE_PATH',
  'CLAUDE_STATE_DIR',
  'CLAUDE_CONFIG_DIR',
  'REPOS_JSON',
  'INPUT_REPO_URL',
  'INPUT_BRANCH',
  'OUTPUT_REPO_URL',
  'OUTPUT_BRANCH',
  'MAIN_REPO_NAME',
  'MAIN_REPO_INDEX',
  'AUTO_PUSH_ON_COMPLETE',
  'CREATE_PR',
  'PR_TARGET_BRANCH',
  'ACTIVE_WORKFLOW_GIT_URL',
  'ACTIVE_WORKFLOW_BRANCH',
  'ACTIVE_WORKFLOW_PATH',
  'MCP_CONFIG_PATH',
  'MCP_ALLOW_STDIO',
  'GITHUB_TOKEN',
  'GITLAB_TOKEN',
  'GH_TOKEN',
  'GITHUB_API_URL',
  'GITLAB_API_URL',
  'GIT_USER_NAME',
  'GIT_USER_EMAIL',
  // the runner itself
  'LOG_LEVEL',
  'CLAUDE_CODE_PATH',
  'CLAUDE_CODE_MAX_RETRIES',
  'CLAUDE_CODE_MAX_OUTPUT_TOKENS',
  'CLAUDE_CODE_SKIP_VERTEX_AUTH',
  // a loader or interpreter setting would run code in the CLI (the API refuses them as well)
  'NODE_OPTIONS',
  'LD_PRELOAD',
  'LD_LIBRARY_PATH',
]);

const RUNNER_OWN_PREFIXES = [
  'RUNNER_',
  'CLAUDE_RUNNER_',
  'ANTHROPIC_',
  'VERTEX_',
  'CLAUDE_CODE_USE_',
  'LANGFUSE_',
  // the workspace's git credential helper (src/workspace/credentials.ts)
  'CCR_',
];

/** Whether the runner or the platform owns this variable (it never reaches the agent as is). */
export function isRunnerOwnEnv(name: string): boolean {
  return RUNNER_OWN.has(name) || RUNNER_OWN_PREFIXES.some((p) => name.startsWith(p));
}

/**
 * The variables meant for the agent: the runner's environment minus the runner's own, the
 * platform's credentials and the process basics (those are passed on separately). Empty values
 * count as set: `FOO=` is a value a user may mean.
 */
export function agentEnvironment(env: Env): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) {
    if (v === undefined || isRunnerOwnEnv(k) || PROCESS_BASICS_ENV.includes(k)) continue;
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k)) continue; // not a name a shell can use
    out[k] = v;
  }
  return out;
}

/** The values of the agent's variables that look secret by name, for the redactor. */
export function secretLookingValues(vars: Readonly<Record<string, string>>): string[] {
  return Object.entries(vars)
    .filter(([k, v]) => v !== '' && SECRET_ENV_NAME.test(k))
    .map(([, v]) => v);
}
