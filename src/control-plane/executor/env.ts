/**
 * The environment of a runner (contract §2), built from the session, the run and serve's own
 * settings. Layers, later ones winning: what serve passes on from its own environment (model
 * credentials and endpoint, tuning), then the session's `environmentVariables` minus reserved
 * names, then the platform's own variables. So a session can tune its runner (LOG_LEVEL,
 * CLAUDE_CODE_*) but never replace BOT_TOKEN, SESSION_ID or serve's model endpoint and
 * credentials (the API refuses such names up front as well).
 */
import path from 'node:path';
import { isReservedEnv } from '../../protocol/api.js';
import type { SessionRow } from '../store/index.js';

export interface RunnerEnvInput {
  session: SessionRow;
  run: number;
  botToken: string;
  /** `http://host:port/api` */
  apiUrl: string;
  /** `ws://host:port/api/projects/{p}/sessions/{name}/ws` */
  websocketUrl: string;
  inherited: Readonly<Record<string, string>>;
}

export function buildRunnerEnv(input: RunnerEnvInput): Record<string, string> {
  const { session, run } = input;
  const spec = session.spec;
  const env: Record<string, string> = { ...input.inherited };
  for (const [k, v] of Object.entries(spec.environmentVariables ?? {}))
    if (!isReservedEnv(k) && !isIsolationSetting(k)) env[k] = v;
  const set = (k: string, v: string | number | boolean | undefined) => {
    if (v !== undefined) env[k] = String(v);
  };
  set('SESSION_ID', session.name);
  set('AGENTIC_SESSION_NAME', session.name);
  set('AGENTIC_SESSION_NAMESPACE', session.project);
  set('PROJECT_NAME', session.project);
  set('WORKSPACE_PATH', session.workspace);
  set('WEBSOCKET_URL', input.websocketUrl);
  set('BACKEND_API_URL', input.apiUrl);
  set('BOT_TOKEN', input.botToken);
  set('PROMPT', spec.prompt);
  set('INTERACTIVE', spec.interactive ? 'true' : 'false');
  set('LLM_MODEL', spec.llmSettings?.model);
  set('LLM_TEMPERATURE', spec.llmSettings?.temperature);
  set('LLM_MAX_TOKENS', spec.llmSettings?.maxTokens);
  if (spec.timeout) set('TIMEOUT', spec.timeout);
  if (spec.repos?.length) set('REPOS_JSON', JSON.stringify(spec.repos));
  set('MAIN_REPO_INDEX', spec.mainRepoIndex);
  if (spec.autoPushOnComplete !== undefined)
    set('AUTO_PUSH_ON_COMPLETE', spec.autoPushOnComplete ? 'true' : 'false');
  set('PARENT_SESSION_ID', spec.parent_session_id);
  set('USER_ID', spec.userContext?.userId);
  set('USER_NAME', spec.userContext?.displayName);
  set('ACTIVE_WORKFLOW_GIT_URL', spec.activeWorkflow?.gitUrl);
  set('ACTIVE_WORKFLOW_BRANCH', spec.activeWorkflow?.branch);
  set('ACTIVE_WORKFLOW_PATH', spec.activeWorkflow?.path);
  // Extension (docs/agents.md): sub-agents the platform defines for this session.
  if (spec.agents?.length) set('AGENTS_JSON', JSON.stringify(spec.agents));
  // Extension: which run of the session this is (1 for the first, +1 per /start).
  set('AGENTIC_SESSION_RUN', run);
  return env;
}

/** The sandbox settings are the operator's (serve's environment), never a session's. */
function isIsolationSetting(name: string): boolean {
  return name.startsWith('RUNNER_SANDBOX');
}

/**
 * What a runner on serve's own machine adds (docs/runner.md, "Isolation"): the agent runs in
 * Claude Code's sandbox unless the operator said otherwise (RUNNER_SANDBOX in serve's
 * environment), and its commands cannot read serve's data dir (the user token, the store, the
 * logs, other sessions' workspaces) or serve's home; the runner lets its own workspace through.
 */
export function withLocalIsolation(
  env: Readonly<Record<string, string>>,
  hidden: readonly string[],
): Record<string, string> {
  const out = { ...env };
  out.RUNNER_SANDBOX = env.RUNNER_SANDBOX ?? 'required';
  const deny = [
    ...(env.RUNNER_SANDBOX_DENY_READ ?? '').split(path.delimiter),
    ...hidden,
    env.HOME,
  ].filter((p): p is string => !!p && path.isAbsolute(p) && path.resolve(p) !== path.parse(p).root);
  out.RUNNER_SANDBOX_DENY_READ = [...new Set(deny)].join(path.delimiter);
  return out;
}
