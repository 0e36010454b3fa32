/**
 * The Kubernetes operator's configuration (`claude-code-runner operator`), from its environment
 * (the Deployment in deploy/operator.yaml sets it). Every problem is reported at once, naming the
 * variable and the fix. Nothing here is a secret: credentials stay in the projects' Secrets and
 * reach runner pods only through secretKeyRef.
 */
import { z } from 'zod';
import { ConfigError } from '../errors.js';
import type { Env } from './env.js';
import type { LogLevel } from './log-level.js';

const quantity = z.string().regex(/^[0-9]+(\.[0-9]+)?(m|Ki|Mi|Gi|Ti|k|M|G|T)?$/, {
  message: 'must be a Kubernetes quantity such as 500m, 1, 512Mi or 2Gi',
});
const name = z
  .string()
  .regex(/^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/, { message: 'must be a Kubernetes name' });
const bool = z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1');
const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

const Schema = z.object({
  KUBECONFIG: z.string().min(1).optional(),
  OPERATOR_NAMESPACES: z.string().optional(),
  OPERATOR_IMAGE: z.string().min(1).default('claude-code-runner:0.1.0'),
  OPERATOR_IMAGE_PULL_POLICY: z.enum(['Always', 'IfNotPresent', 'Never']).default('IfNotPresent'),
  OPERATOR_BACKEND_API_URL: z
    .url({ message: 'must be the http(s) URL of serve’s API, e.g. http://serve:8080/api' })
    .default('http://claude-code-runner.ambient-code.svc:8080/api'),
  OPERATOR_RUNNER_SERVICE_ACCOUNT: name.default('claude-code-runner-session'),
  OPERATOR_RUNNER_COMMAND: z.string().optional(),
  OPERATOR_CPU_REQUEST: quantity.default('250m'),
  OPERATOR_CPU_LIMIT: quantity.default('2'),
  OPERATOR_MEMORY_REQUEST: quantity.default('512Mi'),
  OPERATOR_MEMORY_LIMIT: quantity.default('4Gi'),
  OPERATOR_RUN_AS_USER: int(1, 2_147_483_647).optional(),
  OPERATOR_FS_GROUP: int(0, 2_147_483_647).optional(),
  OPERATOR_WORKSPACE_SIZE: quantity.default('5Gi'),
  OPERATOR_STORAGE_CLASS: z.string().min(1).optional(),
  OPERATOR_MODEL_SECRET: name.default('ambient-non-vertex-integrations'),
  OPERATOR_LANGFUSE_CONFIGMAP: name.default('ambient-langfuse-config'),
  OPERATOR_LANGFUSE_SECRET: name.default('ambient-langfuse-keys'),
  OPERATOR_VERTEX_ENABLED: bool.default(false),
  OPERATOR_VERTEX_SECRET: name.default('ambient-vertex'),
  OPERATOR_VERTEX_KEY_FILE: z.string().min(1).default('ambient-code-key.json'),
  OPERATOR_VERTEX_PROJECT_ID: z.string().optional(),
  OPERATOR_VERTEX_REGION: z.string().default('us-east5'),
  OPERATOR_LEADER_ELECTION: bool.default(true),
  OPERATOR_LEASE_NAMESPACE: name.default('ambient-code'),
  OPERATOR_LEASE_NAME: name.default('claude-code-runner-operator'),
  OPERATOR_LEASE_SECONDS: int(2, 3600).default(15),
  OPERATOR_IDENTITY: z.string().min(1).optional(),
  OPERATOR_WATCH_TIMEOUT_SECONDS: int(5, 3600).default(300),
  HOSTNAME: z.string().optional(),
  LOG_LEVEL: z.enum(['debug', 'info', 'warn', 'error']).default('info'),
});

export interface OperatorConfig {
  kubeconfig?: string;
  /** Empty: every namespace (a ClusterRole). */
  namespaces: string[];
  image: string;
  imagePullPolicy: 'Always' | 'IfNotPresent' | 'Never';
  backendApiUrl: string;
  runnerServiceAccount: string;
  /** The container's command; absent: the image's entrypoint (`claude-code-runner run`). */
  runnerCommand?: string[];
  resources: {
    requests: { cpu: string; memory: string };
    limits: { cpu: string; memory: string };
  };
  /** Unset: the image's user (OpenShift assigns its own UID; any UID in group 0 works). */
  runAsUser?: number;
  fsGroup?: number;
  workspaceSize: string;
  storageClass?: string;
  modelSecret: string;
  langfuseConfigMap: string;
  langfuseSecret: string;
  vertex: { enabled: boolean; secret: string; keyFile: string; projectId?: string; region: string };
  leaderElection: {
    enabled: boolean;
    namespace: string;
    name: string;
    leaseSeconds: number;
    identity: string;
  };
  /** Each watch is renewed after this long (a silent watch recovers within it). */
  watchTimeoutSeconds: number;
  logLevel: LogLevel;
}

export function loadOperatorConfig(env: Env): OperatorConfig {
  const parsed = Schema.safeParse(env);
  if (!parsed.success)
    throw new ConfigError(parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`));
  const c = parsed.data;
  let runnerCommand: string[] | undefined;
  if (c.OPERATOR_RUNNER_COMMAND) {
    let cmd: unknown;
    try {
      cmd = JSON.parse(c.OPERATOR_RUNNER_COMMAND);
    } catch {
      cmd = undefined;
    }
    if (!Array.isArray(cmd) || !cmd.every((a) => typeof a === 'string') || cmd.length === 0)
      throw new ConfigError([
        'OPERATOR_RUNNER_COMMAND: must be a JSON array of strings, e.g. ["claude-code-runner","run"]',
      ]);
    runnerCommand = cmd as string[];
  }
  if (c.OPERATOR_VERTEX_ENABLED && !c.OPERATOR_VERTEX_PROJECT_ID)
    throw new ConfigError([
      'OPERATOR_VERTEX_PROJECT_ID is required when OPERATOR_VERTEX_ENABLED is true',
    ]);
  return Object.freeze({
    ...(c.KUBECONFIG ? { kubeconfig: c.KUBECONFIG } : {}),
    namespaces: (c.OPERATOR_NAMESPACES ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
    image: c.OPERATOR_IMAGE,
    imagePullPolicy: c.OPERATOR_IMAGE_PULL_POLICY,
    backendApiUrl: c.OPERATOR_BACKEND_API_URL.replace(/\/+$/, ''),
    runnerServiceAccount: c.OPERATOR_RUNNER_SERVICE_ACCOUNT,
    ...(runnerCommand ? { runnerCommand } : {}),
    resources: {
      requests: { cpu: c.OPERATOR_CPU_REQUEST, memory: c.OPERATOR_MEMORY_REQUEST },
      limits: { cpu: c.OPERATOR_CPU_LIMIT, memory: c.OPERATOR_MEMORY_LIMIT },
    },
    ...(c.OPERATOR_RUN_AS_USER !== undefined ? { runAsUser: c.OPERATOR_RUN_AS_USER } : {}),
    ...(c.OPERATOR_FS_GROUP !== undefined ? { fsGroup: c.OPERATOR_FS_GROUP } : {}),
    workspaceSize: c.OPERATOR_WORKSPACE_SIZE,
    ...(c.OPERATOR_STORAGE_CLASS ? { storageClass: c.OPERATOR_STORAGE_CLASS } : {}),
    modelSecret: c.OPERATOR_MODEL_SECRET,
    langfuseConfigMap: c.OPERATOR_LANGFUSE_CONFIGMAP,
    langfuseSecret: c.OPERATOR_LANGFUSE_SECRET,
    vertex: {
      enabled: c.OPERATOR_VERTEX_ENABLED,
      secret: c.OPERATOR_VERTEX_SECRET,
      keyFile: c.OPERATOR_VERTEX_KEY_FILE,
      ...(c.OPERATOR_VERTEX_PROJECT_ID ? { projectId: c.OPERATOR_VERTEX_PROJECT_ID } : {}),
      region: c.OPERATOR_VERTEX_REGION,
    },
    leaderElection: {
      enabled: c.OPERATOR_LEADER_ELECTION,
      namespace: c.OPERATOR_LEASE_NAMESPACE,
      name: c.OPERATOR_LEASE_NAME,
      leaseSeconds: c.OPERATOR_LEASE_SECONDS,
      identity: c.OPERATOR_IDENTITY ?? `${c.HOSTNAME ?? 'operator'}-${process.pid}`,
    },
    watchTimeoutSeconds: c.OPERATOR_WATCH_TIMEOUT_SECONDS,
    logLevel: c.LOG_LEVEL,
  });
}
