/**
 * The control plane's REST schemas (contract §4): one zod schema per request and response. The
 * server validates requests with them and generates its OpenAPI document (`/api/openapi.json`)
 * from the same schemas, so the two cannot drift. Request schemas are strict: unknown fields are
 * rejected (400), except `PUT …/status`, whose contract is "accepted fields kept, others dropped".
 */
import { z } from 'zod';
import { checkRepoName, checkRepoUrl } from './repos.js';
import { PHASES, resultSummaryFields, StatusUpdate } from './status.js';
import { AgentSpecList } from './agents.js';
import { CLIENT_COMMAND_TYPES } from './commands.js';
import { HistoryEntry, HistoryPage, SendResult } from './history.js';

export const API_VERSION = 'vteam.ambient-code/v1alpha1';
export const SESSION_KIND = 'AgenticSession';

/** A DNS label, as Kubernetes namespaces and object names: lowercase letters, digits, "-". */
export const NAME_PATTERN = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
export const ProjectName = z
  .string()
  .regex(NAME_PATTERN, 'must be a DNS label: lowercase letters, digits and "-", at most 63');
export const SessionName = ProjectName;

/**
 * NUL and the other control characters except tab, newline and carriage return: refused in every
 * free text of a request (a NUL cannot reach a process's environment or argv, and would make the
 * run fail only at start, with the value in the error). The message never echoes the value.
 */
// eslint-disable-next-line no-control-regex -- finding control characters is the point
export const CONTROL_CHARS = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F]/;
export const CONTROL_CHARS_MESSAGE =
  'contains a NUL or another control character (only tab, newline and carriage return are allowed): remove it';

/** A string without control characters (but tab, newline, CR), at most `max` long. */
export const freeText = (max: number) =>
  z
    .string()
    .max(max)
    .refine((v) => !CONTROL_CHARS.test(v), CONTROL_CHARS_MESSAGE);

/** Label and annotation keys as Kubernetes spells them: `[prefix/]name`. */
const META_KEY_SOURCE =
  '([a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?\\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?';
const LABEL_VALUE_SOURCE = '(([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9])?';
const META_KEY = new RegExp(`^${META_KEY_SOURCE}$`);
const MetaKey = z.string().regex(META_KEY, 'must be a key like "name" or "example.com/name"');
const LabelValue = z
  .string()
  .regex(
    new RegExp(`^${LABEL_VALUE_SOURCE}$`),
    'must be at most 63 letters, digits, "-", "_" or "."',
  );
/** `key=value[,key=value]`, each a label key and value (spaces around them allowed). */
const LABEL_SELECTOR = new RegExp(
  `^\\s*${META_KEY_SOURCE}\\s*=\\s*${LABEL_VALUE_SOURCE}\\s*(,\\s*${META_KEY_SOURCE}\\s*=\\s*${LABEL_VALUE_SOURCE}\\s*)*$`,
);
const AnnotationValue = freeText(65_536);
export const Labels = z.record(MetaKey, LabelValue);
export const Annotations = z.record(MetaKey, AnnotationValue);

/** Environment variable names a session may set; the platform's own are refused (see RESERVED_ENV). */
const EnvName = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_]{0,127}$/, 'must be a variable name: letters, digits and "_"');

/**
 * Variables the platform sets for each run (contract §2) or that carry serve's own model
 * credentials and endpoint: a session's `environmentVariables` may not set them, so a session can
 * neither impersonate another nor send serve's API key to an endpoint of its choosing.
 */
export const RESERVED_ENV = new Set([
  'SESSION_ID',
  'AGENTIC_SESSION_NAME',
  'AGENTIC_SESSION_NAMESPACE',
  'PROJECT_NAME',
  'WORKSPACE_PATH',
  'WEBSOCKET_URL',
  'BACKEND_API_URL',
  'BOT_TOKEN',
  'PROMPT',
  'INTERACTIVE',
  'LLM_MODEL',
  'LLM_TEMPERATURE',
  'LLM_MAX_TOKENS',
  'TIMEOUT',
  'REPOS_JSON',
  'MAIN_REPO_INDEX',
  'MAIN_REPO_NAME',
  'INPUT_REPO_URL',
  'INPUT_BRANCH',
  'OUTPUT_REPO_URL',
  'OUTPUT_BRANCH',
  'AUTO_PUSH_ON_COMPLETE',
  'PARENT_SESSION_ID',
  'AGENTS_JSON',
  'USER_ID',
  'USER_NAME',
  'CLAUDE_STATE_DIR',
  'ACTIVE_WORKFLOW_GIT_URL',
  'ACTIVE_WORKFLOW_BRANCH',
  'ACTIVE_WORKFLOW_PATH',
  'GITHUB_TOKEN',
  'GITLAB_TOKEN',
  'GOOGLE_APPLICATION_CREDENTIALS',
  'CLOUD_ML_REGION',
  'NODE_OPTIONS',
  'LD_PRELOAD',
  'LD_LIBRARY_PATH',
  'PATH',
  'HOME',
]);
export const RESERVED_ENV_PREFIXES = [
  'ANTHROPIC_',
  'VERTEX_',
  'CLAUDE_CODE_USE_',
  'CLAUDE_RUNNER_',
  // the operator's sandbox settings (docs/runner.md, "Isolation")
  'RUNNER_SANDBOX',
];

export function isReservedEnv(name: string): boolean {
  return RESERVED_ENV.has(name) || RESERVED_ENV_PREFIXES.some((p) => name.startsWith(p));
}

const EnvironmentVariables = z.record(EnvName, freeText(65_536)).superRefine((vars, ctx) => {
  for (const k of Object.keys(vars))
    if (isReservedEnv(k))
      ctx.addIssue({
        code: 'custom',
        path: [k],
        message: 'is set by the platform and cannot be overridden',
      });
});

/** The forms `checkRepoUrl` accepts, for the OpenAPI document (the server checks more). */
const GIT_URL_PATTERN = '^([A-Za-z][A-Za-z0-9+.-]*://\\S+|[\\w.-]+@[\\w.-]+:[\\w./~-]+)$';

const gitUrl = (what: string) =>
  z
    .string()
    .min(1)
    .max(2048)
    .superRefine((url, ctx) => {
      // The URL parser would silently drop a tab or newline: refuse every control character.
      // eslint-disable-next-line no-control-regex -- finding control characters is the point
      const problem = /[\u0000-\u0020\u007F]/.test(url)
        ? 'contains whitespace or a control character: remove it'
        : checkRepoUrl(url);
      if (problem) ctx.addIssue({ code: 'custom', message: `${what} ${problem}` });
    })
    .meta({
      description:
        'A git URL: https://host/org/repo.git, http://, ssh://, git://, file:///path or git@host:org/repo; without credentials (serve passes GITHUB_TOKEN or GITLAB_TOKEN).',
      pattern: GIT_URL_PATTERN,
    });

export const RepoRef = z.strictObject({
  url: gitUrl('url'),
  branch: freeText(255).min(1).optional(),
});
export const Repo = z.strictObject({
  name: z
    .string()
    .superRefine((name, ctx) => {
      const problem = checkRepoName(name);
      if (problem) ctx.addIssue({ code: 'custom', message: `name ${problem}` });
    })
    .optional(),
  input: RepoRef,
  output: RepoRef.optional(),
});

export const LlmSettings = z.strictObject({
  model: freeText(200).min(1).optional(),
  temperature: z.number().min(0).max(1).optional(),
  maxTokens: z.number().int().min(1).max(1_000_000).optional(),
});

export const UserContext = z.strictObject({
  userId: freeText(256).optional(),
  displayName: freeText(256).optional(),
  groups: z.array(freeText(256)).max(100).optional(),
});

export const ActiveWorkflow = z.strictObject({
  gitUrl: gitUrl('gitUrl'),
  branch: freeText(255).min(1).optional(),
  path: freeText(1024)
    .refine(
      (p) => !p.startsWith('/') && !p.split(/[\\/]/).includes('..'),
      'must be a relative path inside the workflow repo',
    )
    .optional(),
});

/** What a session runs: every field of the create request except metadata. */
const specFields = {
  prompt: freeText(1_000_000).meta({
    description:
      'The first user message. Must not be empty or blank unless `interactive` is true. No NUL or other control characters but tab, newline and carriage return.',
  }),
  displayName: freeText(256).optional(),
  interactive: z
    .boolean()
    .optional()
    .meta({ description: 'Keep the session open for further messages until it is ended.' }),
  llmSettings: LlmSettings.optional(),
  timeout: z
    .number()
    .int()
    .min(0)
    .max(7 * 24 * 3600)
    .optional()
    .meta({ description: 'Wall-clock bound of a run, in seconds; 0 or absent: none.' }),
  repos: z.array(Repo).max(50).optional(),
  mainRepoIndex: z.number().int().min(0).optional(),
  autoPushOnComplete: z.boolean().optional(),
  parent_session_id: SessionName.optional().meta({
    description: 'Continue this session: reuse its workspace and resume its conversation.',
  }),
  environmentVariables: EnvironmentVariables.optional(),
  userContext: UserContext.optional(),
  activeWorkflow: ActiveWorkflow.optional().meta({
    description: 'Extension: a workflow repo (ACTIVE_WORKFLOW_* for the runner).',
  }),
  agents: AgentSpecList.optional(),
};

function checkSpec(
  spec: { prompt?: string; interactive?: boolean; repos?: unknown[]; mainRepoIndex?: number },
  ctx: z.RefinementCtx,
): void {
  if (spec.prompt !== undefined && !spec.interactive && spec.prompt.trim() === '')
    ctx.addIssue({
      code: 'custom',
      path: ['prompt'],
      message: 'is empty: give a prompt, or set interactive: true',
    });
  if (
    spec.mainRepoIndex !== undefined &&
    spec.mainRepoIndex >= Math.max(spec.repos?.length ?? 0, 1)
  )
    ctx.addIssue({
      code: 'custom',
      path: ['mainRepoIndex'],
      message: `is not an index into the ${spec.repos?.length ?? 0} repo(s)`,
    });
}

export const SessionSpec = z.strictObject(specFields).superRefine(checkSpec);
export type SessionSpec = z.infer<typeof SessionSpec>;

export const CreateSessionRequest = z
  .strictObject({
    ...specFields,
    labels: Labels.optional(),
    annotations: Annotations.optional(),
  })
  .superRefine(checkSpec);
export type CreateSessionRequest = z.infer<typeof CreateSessionRequest>;

/** JSON merge patch (RFC 7396): `null` removes a key. `spec` only while the session is not running. */
export const PatchSessionRequest = z.strictObject({
  metadata: z
    .strictObject({
      labels: z.record(MetaKey, LabelValue.nullable()).nullable().optional(),
      annotations: z.record(MetaKey, AnnotationValue.nullable()).nullable().optional(),
    })
    .optional(),
  spec: z
    .record(z.string(), z.unknown())
    .optional()
    .meta({ description: 'Fields of the spec to merge; the result must be a valid spec.' }),
});
export type PatchSessionRequest = z.infer<typeof PatchSessionRequest>;

/** `PUT …/status`: the contract's fields; anything else is dropped before validation. */
export const StatusUpdateRequest = StatusUpdate;

export const SessionStatus = z
  .object({
    phase: z.enum(PHASES),
    message: z.string().optional(),
    startTime: z.string().optional(),
    completionTime: z.string().optional(),
    run: z.number().int().meta({
      description: 'Extension: the number of the current run (1 for the first, +1 per /start).',
    }),
    exitCode: z
      .number()
      .int()
      .nullable()
      .optional()
      .meta({ description: 'Extension: the runner process exit code, when it has exited.' }),
    ...resultSummaryFields,
  })
  .meta({ description: 'What the control plane and the runner report about the current run.' });
export type SessionStatus = z.infer<typeof SessionStatus>;

export const SessionMetadata = z.object({
  name: SessionName,
  namespace: ProjectName,
  uid: z.string(),
  labels: z.record(z.string(), z.string()),
  annotations: z.record(z.string(), z.string()),
  creationTimestamp: z.string(),
});

export const SessionResource = z.object({
  apiVersion: z.literal(API_VERSION),
  kind: z.literal(SESSION_KIND),
  metadata: SessionMetadata,
  spec: z.object(specFields).meta({
    description: 'As created; secret-looking environment variable values read "[REDACTED]".',
  }),
  status: SessionStatus,
});
export type SessionResource = z.infer<typeof SessionResource>;

export const SessionList = z.object({
  items: z.array(SessionResource),
  metadata: z
    .object({
      continue: z
        .string()
        .optional()
        .meta({ description: 'Pass as `continue` to get the next page; absent on the last page.' }),
    })
    .optional()
    .meta({ description: 'Extension: present when `limit` was given.' }),
});

/** `POST …/sessions/{id}/messages`: `{"type"?, ...payload}`; the type defaults to `user_message`. */
export const SendMessageRequest = z
  .object({
    type: z.enum(CLIENT_COMMAND_TYPES).optional(),
  })
  .catchall(z.unknown())
  .meta({
    description:
      'The command for the runner: its type and, as the other fields, its payload (e.g. {"content": "…"}).',
  });

export const SendMessageResponse = SendResult;

/** One history entry as stored and as sent to watchers (typed kinds: history.ts). */
export { HistoryEntry };

export const HistoryResponse = HistoryPage;

export const GithubTokenResponse = z.object({ token: z.string() });
export const ErrorResponse = z.object({
  error: z.string(),
  fields: z
    .array(z.string())
    .optional()
    .meta({ description: 'The invalid fields, for 400 answers.' }),
});
export const HealthResponse = z.object({ status: z.literal('ok'), version: z.string() });

export const HistoryQuery = z.strictObject({
  after_seq: z.coerce.number().int().min(0).optional(),
  limit: z.coerce.number().int().min(1).max(10_000).optional(),
  tail: z.coerce
    .number()
    .int()
    .min(1)
    .max(10_000)
    .optional()
    .meta({ description: 'Extension: only the last N entries (after `after_seq`).' }),
});
export const LogsQuery = z.strictObject({
  run: z.coerce.number().int().min(1).optional(),
  tail: z.coerce.number().int().min(1).optional().meta({ description: 'Only the last N bytes.' }),
});
export const ListQuery = z.strictObject({
  labelSelector: z
    .string()
    .max(4096)
    .regex(LABEL_SELECTOR, 'must be key=value[,key=value], each a label key and value')
    .optional()
    .meta({ description: 'Extension: `key=value[,key=value]`.' }),
  phase: z.enum(PHASES).optional(),
  limit: z.coerce
    .number()
    .int()
    .min(1)
    .max(1_000)
    .optional()
    .meta({ description: 'Extension: at most N sessions per page.' }),
  continue: z
    .string()
    .regex(
      NAME_PATTERN,
      'is not a token from a previous page: pass the metadata.continue of the previous answer, or leave it out for the first page',
    )
    .optional()
    .meta({ description: 'Extension: the `metadata.continue` of the previous page.' }),
});
