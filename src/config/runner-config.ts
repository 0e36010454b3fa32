/**
 * The runner's configuration: every variable of contract §2, read and validated here and nowhere
 * else. All problems are collected and reported at once (each names the variable and the fix);
 * the result is frozen.
 */
import path from 'node:path';
import { ConfigError } from '../errors.js';
import { EnvReader, PROCESS_BASICS_ENV, sanitizeId, sanitizeText, type Env } from './env.js';
import { toVertexModelId } from './models.js';
import type { RepoSpec } from '../protocol/repos.js';
import { parseRepos } from './repos.js';
import { parseAgentsJson } from './agents.js';
import type { AgentSpec } from '../protocol/agents.js';
import type { LogLevel } from './log-level.js';
import { agentEnvironment, secretLookingValues } from './agent-env.js';

export interface VertexConfig {
  projectId: string;
  region: string;
  /** A user's OAuth access token, sent as is (`Authorization: Bearer`). */
  userToken?: string;
  /** A service-account key file, used by the CLI's own Google auth. */
  credentialsFile?: string;
  /** Override of the Vertex endpoint (a proxy, or the scripted model server). */
  baseUrl?: string;
}

export interface WorkflowSpec {
  gitUrl: string;
  branch?: string;
  path?: string;
}

export interface LangfuseConfig {
  enabled: boolean;
  host?: string;
  publicKey?: string;
  secretKey?: string;
  flushTimeoutMs: number;
  maskMessages: boolean;
}

/**
 * How the agent is kept inside its workspace (docs/runner.md, "Isolation"): Claude Code's own
 * sandbox for its commands (bubblewrap on Linux) and bounds on its file tools.
 * `required`: no sandbox, no run. `auto`: sandboxed where the sandbox can run, otherwise the
 * commands run as they are (with a warning). `off`: neither (the pod or container is the boundary).
 */
export type SandboxMode = 'required' | 'auto' | 'off';

export interface SandboxConfig {
  mode: SandboxMode;
  /** Absolute paths the agent's commands may not read (the control plane's data dir…). */
  denyRead: string[];
  /** Hosts the agent's commands may reach; `*` is any. */
  allowedDomains: string[];
}

export interface RunnerConfig {
  session: {
    id: string;
    name: string;
    namespace: string;
    project: string;
    prompt: string;
    interactive: boolean;
    /** Wall-clock bound for the whole run, in ms; undefined means none. */
    timeoutMs?: number;
    parentSessionId?: string;
    userId?: string;
    userName?: string;
    /** Which run of the session this is (AGENTIC_SESSION_RUN, set by serve); names the outbox file. */
    run?: number;
  };
  backend: {
    websocketUrl: string;
    /** Base of the REST API (`…/api`); derived from WEBSOCKET_URL when not given. */
    apiUrl?: string;
    botToken?: string;
  };
  model: {
    provider: 'anthropic' | 'vertex';
    /** As the CLI must see it (a Vertex id on Vertex); undefined lets the CLI choose. */
    name?: string;
    /** As the user asked for it. */
    requested?: string;
    /** Validated and recorded; the Claude Code CLI has no temperature setting, so not applied. */
    temperature?: number;
    maxTokens?: number;
    anthropicApiKey?: string;
    anthropicBaseUrl?: string;
    vertex?: VertexConfig;
  };
  workspace: {
    path: string;
    /** Holds the CLI's `.claude/` state on the volume so that a continuation can resume. */
    stateDir: string;
    repos: RepoSpec[];
    mainRepoName?: string;
    autoPush: boolean;
    createPr: boolean;
    prTargetBranch?: string;
    workflow?: WorkflowSpec;
    mcpConfigPath?: string;
    /** Accept `stdio` servers from `.mcp.json` (they run commands inside the pod). */
    mcpAllowStdio: boolean;
  };
  git: {
    githubToken?: string;
    gitlabToken?: string;
    userName: string;
    userEmail: string;
    /** GitHub REST base (GitHub Enterprise under any name, or a stand-in). */
    githubApiUrl?: string;
    /** GitLab REST base including `/api/v4`. */
    gitlabApiUrl?: string;
  };
  langfuse: LangfuseConfig;
  /** Sub-agents the platform defined (AGENTS_JSON), next to the workspace's `.claude/agents/`. */
  agents: AgentSpec[];
  runtime: {
    logLevel: LogLevel;
    /** Bound on frames held for an unreachable backend (bytes of JSON). */
    maxBufferedBytes: number;
    reconnectMaxDelayMs: number;
    /** Time between SIGTERM to the CLI and SIGKILL, and the bound on reporting after SIGTERM. */
    shutdownGraceMs: number;
    /**
     * How long a finished run keeps trying to hand its last frames and final status to an
     * unreachable control plane before it exits and leaves them in its workspace (docs/runner.md).
     */
    finalDeliveryTimeoutMs: number;
    cliPath?: string;
    /** How many times the CLI retries a failed model call (CLAUDE_CODE_MAX_RETRIES). */
    cliMaxRetries?: number;
    /** Variables passed through to the CLI untouched (PATH, HOME, proxies, …). */
    passthroughEnv: Record<string, string>;
    /**
     * The variables meant for the agent (a session's `environmentVariables`, CLI tuning): the
     * environment minus the runner's own and the platform's credentials (src/config/agent-env.ts).
     */
    agentEnv: Record<string, string>;
  };
  sandbox: SandboxConfig;
  /** Every secret value, for redaction. */
  secrets: string[];
  /** Non-fatal notes (e.g. tracing requested but incomplete), reported once at start. */
  warnings: string[];
}

/** Variables handed to the CLI as they are: the process basics and network settings. */
const PASSTHROUGH = [
  ...PROCESS_BASICS_ENV,
  'CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC',
  'CLAUDE_CODE_TMPDIR',
  'CLAUDE_CODE_OVERLOADED_RETRY_BASE_DELAY_MS',
  'CLAUDE_CODE_OVERLOADED_RETRY_MAX_DELAY_MS',
  'CLAUDE_CODE_OVERLOADED_RETRY_MAX_WAIT_MS',
];

export const DEFAULT_LANGFUSE_HOST = 'http://langfuse-web.langfuse.svc.cluster.local:3000';

export function loadRunnerConfig(env: Env): Readonly<RunnerConfig> {
  const r = new EnvReader(env);

  // --- session identity ---------------------------------------------------------------------
  const id = r.required(
    'SESSION_ID',
    "set it to the session's id (the operator sets it for each pod)",
  );
  if (id && !/^[A-Za-z0-9][A-Za-z0-9._-]{0,252}$/.test(id))
    r.problems.push(
      `SESSION_ID: "${id}" is not a valid session id: use letters, digits, ".", "_" or "-"`,
    );
  const namespace = r.str('AGENTIC_SESSION_NAMESPACE') ?? r.str('PROJECT_NAME') ?? 'default';
  const project = r.str('PROJECT_NAME') ?? namespace;
  const interactive = r.bool('INTERACTIVE', false);
  const prompt = r.raw('PROMPT') ?? '';
  if (!interactive && !prompt)
    r.problems.push(
      'PROMPT: is empty and INTERACTIVE is not true: give a prompt, or set INTERACTIVE=true to take the first message over the socket',
    );
  const timeoutSeconds = r.number('TIMEOUT', {
    min: 0,
    fix: 'use a number of seconds ≥ 0 (0 means no limit)',
  });

  // --- backend ------------------------------------------------------------------------------
  const websocketUrl = r.required(
    'WEBSOCKET_URL',
    'set it to the backend socket, e.g. ws://backend:8080/api/projects/P/sessions/S/ws',
  );
  const wsOk = websocketUrl
    ? r.checkUrl('WEBSOCKET_URL', websocketUrl, ['ws:', 'wss:'])
    : undefined;
  const apiUrl =
    r.url('BACKEND_API_URL', ['http:', 'https:']) ?? (wsOk ? deriveApiUrl(wsOk) : undefined);
  const botToken = r.str('BOT_TOKEN');

  // --- model --------------------------------------------------------------------------------
  const vertexRequested =
    r.bool('VERTEX_ENABLED', false) || r.bool('CLAUDE_CODE_USE_VERTEX', false);
  const requested = r.str('LLM_MODEL');
  const temperature = r.number('LLM_TEMPERATURE', {
    min: 0,
    max: 1,
    fix: 'use a number from 0 to 1',
  });
  const maxTokens = r.number('LLM_MAX_TOKENS', { min: 1, max: 1_000_000, integer: true });
  const anthropicApiKey = r.str('ANTHROPIC_API_KEY');
  const anthropicBaseUrl = r.url('ANTHROPIC_BASE_URL', ['http:', 'https:']);
  let vertex: VertexConfig | undefined;
  if (vertexRequested) {
    const projectId = r.str('VERTEX_PROJECT_ID') ?? r.str('ANTHROPIC_VERTEX_PROJECT_ID');
    const region = r.str('VERTEX_REGION') ?? r.str('CLOUD_ML_REGION');
    const userToken = r.str('VERTEX_USER_TOKEN');
    const credentialsFile = r.str('GOOGLE_APPLICATION_CREDENTIALS');
    if (!projectId)
      r.problems.push(
        'VERTEX_PROJECT_ID: is required with Vertex AI: set VERTEX_PROJECT_ID (or ANTHROPIC_VERTEX_PROJECT_ID)',
      );
    if (!region)
      r.problems.push(
        'VERTEX_REGION: is required with Vertex AI: set VERTEX_REGION (or CLOUD_ML_REGION), e.g. us-east5',
      );
    if (!userToken && !credentialsFile)
      r.problems.push(
        'VERTEX_USER_TOKEN: Vertex AI needs credentials: set VERTEX_USER_TOKEN (a user access token) or GOOGLE_APPLICATION_CREDENTIALS (a service-account key file)',
      );
    const baseUrl = r.url('ANTHROPIC_VERTEX_BASE_URL', ['http:', 'https:']);
    if (projectId && region)
      vertex = {
        projectId,
        region,
        ...(userToken ? { userToken } : {}),
        ...(credentialsFile ? { credentialsFile } : {}),
        ...(baseUrl ? { baseUrl } : {}),
      };
  } else if (!anthropicApiKey) {
    r.problems.push(
      'ANTHROPIC_API_KEY: no model credentials: set ANTHROPIC_API_KEY, or VERTEX_ENABLED=true with VERTEX_PROJECT_ID, VERTEX_REGION and VERTEX_USER_TOKEN or GOOGLE_APPLICATION_CREDENTIALS',
    );
  }
  const provider = vertexRequested ? 'vertex' : 'anthropic';
  const modelName = requested && provider === 'vertex' ? toVertexModelId(requested) : requested;

  // --- workspace ----------------------------------------------------------------------------
  const workspacePath = r.str('WORKSPACE_PATH') ?? '/workspace';
  if (!path.isAbsolute(workspacePath))
    r.problems.push(
      `WORKSPACE_PATH: "${workspacePath}" is not an absolute path: use e.g. /workspace`,
    );
  const stateDir = r.str('CLAUDE_STATE_DIR') ?? workspacePath;
  const selection = parseRepos(
    {
      REPOS_JSON: r.str('REPOS_JSON'),
      INPUT_REPO_URL: r.str('INPUT_REPO_URL'),
      INPUT_BRANCH: r.str('INPUT_BRANCH'),
      OUTPUT_REPO_URL: r.str('OUTPUT_REPO_URL'),
      OUTPUT_BRANCH: r.str('OUTPUT_BRANCH'),
      MAIN_REPO_NAME: r.str('MAIN_REPO_NAME'),
      MAIN_REPO_INDEX: r.str('MAIN_REPO_INDEX'),
    },
    r.problems,
  );
  const workflowUrl = r.str('ACTIVE_WORKFLOW_GIT_URL');
  const workflowPath = r.str('ACTIVE_WORKFLOW_PATH');
  if (workflowPath && (path.isAbsolute(workflowPath) || workflowPath.split(/[\\/]/).includes('..')))
    r.problems.push(
      `ACTIVE_WORKFLOW_PATH: "${workflowPath}" points outside the workflow repo: use a relative path inside it`,
    );

  // --- git ----------------------------------------------------------------------------------
  const githubToken = r.str('GITHUB_TOKEN');
  const gitlabToken = r.str('GITLAB_TOKEN');

  // --- sub-agents (docs/agents.md) -----------------------------------------------------------
  const agents = parseAgentsJson(r.str('AGENTS_JSON'), r.problems);

  // --- Langfuse (contract §5): incomplete settings are a warning, never fatal ---------------
  const langfuse = readLangfuse(r);

  // --- runtime ------------------------------------------------------------------------------
  const logLevel = r.oneOf(
    'LOG_LEVEL',
    ['debug', 'info', 'warn', 'error', 'silent'] as const,
    'info',
  );
  const maxBufferedBytes =
    r.number('RUNNER_MAX_BUFFERED_BYTES', { min: 65_536, integer: true }) ?? 32 * 1024 * 1024;
  const reconnectMaxDelayMs =
    r.number('RUNNER_RECONNECT_MAX_DELAY_MS', { min: 100, integer: true }) ?? 10_000;
  const shutdownGraceMs =
    r.number('RUNNER_SHUTDOWN_GRACE_MS', { min: 100, max: 60_000, integer: true }) ?? 5_000;
  const finalDeliveryTimeoutMs =
    r.number('RUNNER_FINAL_DELIVERY_TIMEOUT_MS', { min: 1_000, max: 3_600_000, integer: true }) ??
    300_000;
  const run = r.number('AGENTIC_SESSION_RUN', { min: 1, integer: true });
  const cliMaxRetries = r.number('CLAUDE_CODE_MAX_RETRIES', { min: 0, max: 50, integer: true });
  const passthroughEnv: Record<string, string> = {};
  for (const k of PASSTHROUGH) {
    const v = env[k];
    if (v !== undefined && v !== '') passthroughEnv[k] = v;
  }
  const agentEnv = agentEnvironment(env);
  const sandbox = readSandbox(r);

  // Values that can be wrong are read before the check below: read inside the object literal,
  // a bad AUTO_PUSH_ON_COMPLETE, CREATE_PR, MCP_ALLOW_STDIO, GITHUB_API_URL or GITLAB_API_URL
  // would reach `problems` after it and be silently ignored.
  const autoPush = r.bool('AUTO_PUSH_ON_COMPLETE', false);
  const createPr = r.bool('CREATE_PR', false);
  const mcpAllowStdio = r.bool('MCP_ALLOW_STDIO', false);
  const githubApiUrl = r.url('GITHUB_API_URL', ['http:', 'https:']);
  const gitlabApiUrl = r.url('GITLAB_API_URL', ['http:', 'https:']);

  if (r.problems.length) throw new ConfigError(r.problems);

  const config: RunnerConfig = {
    session: {
      id: id!,
      name: r.str('AGENTIC_SESSION_NAME') ?? id!,
      namespace,
      project,
      prompt,
      interactive,
      ...(timeoutSeconds ? { timeoutMs: Math.round(timeoutSeconds * 1000) } : {}),
      ...optional('parentSessionId', r.str('PARENT_SESSION_ID')),
      ...optional('userId', sanitizeId(r.str('USER_ID'))),
      ...optional('userName', sanitizeText(r.str('USER_NAME'))),
      ...optional('run', run),
    },
    backend: {
      websocketUrl: wsOk!,
      ...optional('apiUrl', apiUrl?.replace(/\/+$/, '')),
      ...optional('botToken', botToken),
    },
    model: {
      provider,
      ...optional('name', modelName),
      ...optional('requested', requested),
      ...optional('temperature', temperature),
      ...optional('maxTokens', maxTokens),
      ...optional('anthropicApiKey', anthropicApiKey),
      ...optional('anthropicBaseUrl', anthropicBaseUrl),
      ...optional('vertex', vertex),
    },
    workspace: {
      path: workspacePath,
      stateDir,
      repos: selection.repos,
      ...optional('mainRepoName', selection.mainRepoName),
      autoPush,
      createPr,
      ...optional('prTargetBranch', r.str('PR_TARGET_BRANCH')),
      ...optional(
        'workflow',
        workflowUrl
          ? {
              gitUrl: workflowUrl,
              ...optional('branch', r.str('ACTIVE_WORKFLOW_BRANCH')),
              ...optional('path', workflowPath),
            }
          : undefined,
      ),
      ...optional('mcpConfigPath', r.str('MCP_CONFIG_PATH')),
      mcpAllowStdio,
    },
    git: {
      ...optional('githubToken', githubToken),
      ...optional('gitlabToken', gitlabToken),
      userName: sanitizeText(r.str('GIT_USER_NAME')) ?? 'Claude Code Runner',
      userEmail: sanitizeText(r.str('GIT_USER_EMAIL')) ?? 'claude-code-runner@localhost',
      ...optional('githubApiUrl', githubApiUrl?.replace(/\/+$/, '')),
      ...optional('gitlabApiUrl', gitlabApiUrl?.replace(/\/+$/, '')),
    },
    langfuse,
    agents,
    runtime: {
      logLevel,
      maxBufferedBytes,
      reconnectMaxDelayMs,
      shutdownGraceMs,
      finalDeliveryTimeoutMs,
      ...optional('cliPath', r.str('CLAUDE_CODE_PATH')),
      ...optional('cliMaxRetries', cliMaxRetries),
      passthroughEnv,
      agentEnv,
    },
    sandbox,
    secrets: [
      anthropicApiKey,
      botToken,
      githubToken,
      gitlabToken,
      vertex?.userToken,
      langfuse.publicKey,
      langfuse.secretKey,
      // A session's own credentials (MY_API_TOKEN=…) have no token shape to be caught by.
      ...secretLookingValues(agentEnv),
    ].filter((s): s is string => !!s),
    warnings: r.warnings,
  };
  return deepFreeze(config);
}

function readSandbox(r: EnvReader): SandboxConfig {
  // Default `off`: a pod the platform starts is its own boundary, and its agent may need what a
  // sandbox takes away (a sidecar on the pod's loopback, tools outside the workspace). `serve`
  // asks for `required` for the runners it starts on its own machine.
  const mode = r.oneOf('RUNNER_SANDBOX', ['required', 'auto', 'off'] as const, 'off');
  const denyRead: string[] = [];
  for (const p of (r.str('RUNNER_SANDBOX_DENY_READ') ?? '').split(path.delimiter)) {
    if (!p) continue;
    if (!path.isAbsolute(p) || p.split('/').includes('..'))
      r.problems.push(
        `RUNNER_SANDBOX_DENY_READ: "${p}" is not an absolute path: list absolute paths separated by "${path.delimiter}"`,
      );
    else denyRead.push(path.normalize(p));
  }
  const allowedDomains = (r.str('RUNNER_SANDBOX_ALLOWED_DOMAINS') ?? '*')
    .split(',')
    .map((d) => d.trim())
    .filter(Boolean);
  for (const d of allowedDomains)
    if (!/^(\*|(\*\.)?[A-Za-z0-9.-]+)$/.test(d))
      r.problems.push(
        `RUNNER_SANDBOX_ALLOWED_DOMAINS: "${d}" is not a host name: use host names separated by commas, *.example.com for a domain and its subdomains, or * for any`,
      );
  return { mode, denyRead, allowedDomains };
}

function readLangfuse(r: EnvReader): LangfuseConfig {
  const requested = r.bool('LANGFUSE_ENABLED', false);
  const flushTimeoutMs = Math.round(
    (r.number('LANGFUSE_FLUSH_TIMEOUT', { min: 0.1, max: 600, fix: 'use seconds, e.g. 30' }) ??
      30) * 1000,
  );
  const maskMessages = r.bool('LANGFUSE_MASK_MESSAGES', false);
  const publicKey = r.str('LANGFUSE_PUBLIC_KEY');
  const secretKey = r.str('LANGFUSE_SECRET_KEY');
  const hostRaw = r.str('LANGFUSE_HOST') ?? DEFAULT_LANGFUSE_HOST;
  if (!requested)
    return {
      enabled: false,
      flushTimeoutMs,
      maskMessages,
      ...optional('publicKey', publicKey),
      ...optional('secretKey', secretKey),
    };
  const missing: string[] = [];
  if (!publicKey) missing.push('LANGFUSE_PUBLIC_KEY');
  if (!secretKey) missing.push('LANGFUSE_SECRET_KEY');
  let host: string | undefined;
  try {
    const u = new URL(hostRaw);
    if (u.protocol === 'http:' || u.protocol === 'https:') host = hostRaw.replace(/\/+$/, '');
  } catch {
    /* reported below */
  }
  if (!host) missing.push('a valid http(s) LANGFUSE_HOST');
  if (missing.length) {
    r.warnings.push(
      `Langfuse tracing is off: LANGFUSE_ENABLED is true but ${missing.join(' and ')} ${missing.length > 1 ? 'are' : 'is'} missing; the session runs untraced`,
    );
    return {
      enabled: false,
      flushTimeoutMs,
      maskMessages,
      ...optional('publicKey', publicKey),
      ...optional('secretKey', secretKey),
    };
  }
  return { enabled: true, host, publicKey, secretKey, flushTimeoutMs, maskMessages };
}

/** `ws://h:8080/api/projects/p/sessions/s/ws` -> `http://h:8080/api`. */
export function deriveApiUrl(websocketUrl: string): string | undefined {
  const u = new URL(websocketUrl);
  const idx = u.pathname.indexOf('/api/');
  if (idx < 0) return undefined;
  u.protocol = u.protocol === 'wss:' ? 'https:' : 'http:';
  u.pathname = u.pathname.slice(0, idx + 4);
  u.search = '';
  return u.toString().replace(/\/+$/, '');
}

function optional<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object' && !Object.isFrozen(o)) {
    Object.freeze(o);
    for (const v of Object.values(o)) deepFreeze(v);
  }
  return o;
}

/**
 * When the configuration is invalid the run cannot start, but the failure must still reach the
 * platform (socket and status). This reads, best effort, only what reporting needs.
 */
export interface ReportingTarget {
  websocketUrl?: string;
  apiUrl?: string;
  botToken?: string;
  project: string;
  sessionName?: string;
  secrets: string[];
}

export function loadReportingTarget(env: Env): ReportingTarget {
  const r = new EnvReader(env);
  const ws = r.url('WEBSOCKET_URL', ['ws:', 'wss:']);
  const apiUrl =
    r.url('BACKEND_API_URL', ['http:', 'https:']) ?? (ws ? deriveApiUrl(ws) : undefined);
  const sessionName = r.str('AGENTIC_SESSION_NAME') ?? r.str('SESSION_ID');
  const secretNames = [
    'ANTHROPIC_API_KEY',
    'BOT_TOKEN',
    'GITHUB_TOKEN',
    'GITLAB_TOKEN',
    'VERTEX_USER_TOKEN',
    'LANGFUSE_PUBLIC_KEY',
    'LANGFUSE_SECRET_KEY',
  ];
  return {
    ...optional('websocketUrl', ws),
    ...optional('apiUrl', apiUrl?.replace(/\/+$/, '')),
    ...optional('botToken', r.str('BOT_TOKEN')),
    project: r.str('PROJECT_NAME') ?? r.str('AGENTIC_SESSION_NAMESPACE') ?? 'default',
    ...optional('sessionName', sessionName),
    secrets: [
      ...secretNames.map((n) => r.str(n)),
      ...secretLookingValues(agentEnvironment(env)),
    ].filter((s): s is string => !!s),
  };
}
