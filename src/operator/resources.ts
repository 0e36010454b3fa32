/**
 * What the operator creates for one AgenticSession, as pure functions of the CR and the
 * operator's configuration: the runner-token Secret, the workspace PVC and the Job of a run.
 * Everything carries an owner reference to the CR, so deleting the CR deletes it all (a
 * continuation's PVC belongs to the session that created it). Credentials never appear here by
 * value: the pod reads them from the project's Secrets and ConfigMaps (secretKeyRef,
 * configMapKeyRef, a Secret volume for Vertex).
 */
import { randomBytes } from 'node:crypto';
import type {
  V1EnvVar,
  V1Job,
  V1OwnerReference,
  V1PersistentVolumeClaim,
  V1Secret,
  V1Volume,
  V1VolumeMount,
} from '@kubernetes/client-node';
import type { OperatorConfig } from '../config/operator-config.js';
import { isReservedEnv } from '../protocol/api.js';
import {
  CRD_GROUP,
  CRD_KIND,
  CRD_VERSION,
  reposJsonFromCr,
  RUN_LABEL,
  SESSION_LABEL,
  sessionResourceNames,
  type AgenticSession,
} from '../protocol/crd.js';

export const WORKSPACE_MOUNT = '/workspace';
export const VERTEX_MOUNT = '/var/run/secrets/vertex';
export const RUNNER_CONTAINER = 'runner';
export const TOKEN_KEY = 'BOT_TOKEN';

export function ownerReference(cr: AgenticSession): V1OwnerReference {
  if (!cr.metadata.uid) throw new Error(`AgenticSession ${cr.metadata.name} has no uid`);
  return {
    apiVersion: `${CRD_GROUP}/${CRD_VERSION}`,
    kind: CRD_KIND,
    name: cr.metadata.name,
    uid: cr.metadata.uid,
    controller: true,
    blockOwnerDeletion: true,
  };
}

const labels = (cr: AgenticSession, extra: Record<string, string> = {}) => ({
  'app.kubernetes.io/managed-by': 'claude-code-runner-operator',
  [SESSION_LABEL]: cr.metadata.name,
  ...extra,
});

export function newRunnerToken(): string {
  return randomBytes(32).toString('base64url');
}

export function buildTokenSecret(cr: AgenticSession, token: string): V1Secret {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      name: sessionResourceNames(cr.metadata.name, 1).secret,
      namespace: cr.metadata.namespace,
      labels: labels(cr),
      ownerReferences: [ownerReference(cr)],
    },
    type: 'Opaque',
    stringData: { [TOKEN_KEY]: token },
  };
}

/** The PVC a session works in; a continuation uses its parent's (see `workspaceOwner`). */
export function buildWorkspacePvc(cr: AgenticSession, config: OperatorConfig) {
  const pvc: V1PersistentVolumeClaim = {
    apiVersion: 'v1',
    kind: 'PersistentVolumeClaim',
    metadata: {
      name: sessionResourceNames(cr.metadata.name, 1).pvc,
      namespace: cr.metadata.namespace,
      labels: labels(cr),
      ownerReferences: [ownerReference(cr)],
    },
    spec: {
      accessModes: ['ReadWriteOnce'],
      resources: { requests: { storage: config.workspaceSize } },
      ...(config.storageClass ? { storageClassName: config.storageClass } : {}),
    },
  };
  return pvc;
}

/** The session whose PVC this session works in: itself, or the parent it continues. */
export function workspaceOwner(cr: AgenticSession): string {
  return cr.spec.parentSessionId ?? cr.metadata.name;
}

function runnerEnv(cr: AgenticSession, run: number, config: OperatorConfig): V1EnvVar[] {
  const { name, namespace } = cr.metadata;
  const spec = cr.spec;
  const env: V1EnvVar[] = [];
  const seen = new Set<string>();
  const set = (k: string, v: string | number | boolean | undefined) => {
    if (v === undefined || seen.has(k)) return;
    seen.add(k);
    env.push({ name: k, value: String(v) });
  };
  const fromSecret = (k: string, secret: string, key: string, optional: boolean) => {
    seen.add(k);
    env.push({ name: k, valueFrom: { secretKeyRef: { name: secret, key, optional } } });
  };
  const fromConfigMap = (k: string, configMap: string, key: string) => {
    seen.add(k);
    env.push({ name: k, valueFrom: { configMapKeyRef: { name: configMap, key, optional: true } } });
  };
  const api = config.backendApiUrl;
  const p = encodeURIComponent(namespace);
  const s = encodeURIComponent(name);
  set('SESSION_ID', name);
  set('AGENTIC_SESSION_NAME', name);
  set('AGENTIC_SESSION_NAMESPACE', namespace);
  set('PROJECT_NAME', namespace);
  set('AGENTIC_SESSION_RUN', run);
  set('WORKSPACE_PATH', WORKSPACE_MOUNT);
  // The CLI's state lives on the PVC too, so a continuation resumes the conversation.
  set('CLAUDE_STATE_DIR', WORKSPACE_MOUNT);
  set('HOME', `${WORKSPACE_MOUNT}/.home`);
  set('BACKEND_API_URL', api);
  set('WEBSOCKET_URL', `${api.replace(/^http/, 'ws')}/projects/${p}/sessions/${s}/ws`);
  fromSecret('BOT_TOKEN', sessionResourceNames(name, run).secret, TOKEN_KEY, false);
  set('PROMPT', spec.initialPrompt ?? '');
  set('INTERACTIVE', spec.interactive ? 'true' : 'false');
  set('LLM_MODEL', spec.llmSettings?.model);
  set('LLM_TEMPERATURE', spec.llmSettings?.temperature);
  set('LLM_MAX_TOKENS', spec.llmSettings?.maxTokens);
  if (spec.timeout) set('TIMEOUT', spec.timeout);
  if (spec.repos?.length) {
    set('REPOS_JSON', reposJsonFromCr(spec.repos));
    if (spec.repos.some((r) => r.autoPush)) set('AUTO_PUSH_ON_COMPLETE', 'true');
  }
  set('MAIN_REPO_INDEX', spec.mainRepoIndex);
  set('PARENT_SESSION_ID', spec.parentSessionId);
  set('USER_ID', spec.userContext?.userId);
  set('USER_NAME', spec.userContext?.displayName);
  set('ACTIVE_WORKFLOW_GIT_URL', spec.activeWorkflow?.gitUrl);
  set('ACTIVE_WORKFLOW_BRANCH', spec.activeWorkflow?.branch);
  set('ACTIVE_WORKFLOW_PATH', spec.activeWorkflow?.path);
  if (spec.agents?.length) set('AGENTS_JSON', JSON.stringify(spec.agents));
  if (config.vertex.enabled) {
    set('CLAUDE_CODE_USE_VERTEX', '1');
    set('ANTHROPIC_VERTEX_PROJECT_ID', config.vertex.projectId);
    set('CLOUD_ML_REGION', config.vertex.region);
    set('GOOGLE_APPLICATION_CREDENTIALS', `${VERTEX_MOUNT}/${config.vertex.keyFile}`);
  } else {
    // Required: a missing Secret or key stops the pod before it starts, with the cause in
    // its status (CreateContainerConfigError), which the operator copies to the CR.
    fromSecret('ANTHROPIC_API_KEY', config.modelSecret, 'ANTHROPIC_API_KEY', false);
    fromSecret('ANTHROPIC_BASE_URL', config.modelSecret, 'ANTHROPIC_BASE_URL', true);
  }
  fromConfigMap('LANGFUSE_ENABLED', config.langfuseConfigMap, 'LANGFUSE_ENABLED');
  fromConfigMap('LANGFUSE_HOST', config.langfuseConfigMap, 'LANGFUSE_HOST');
  fromSecret('LANGFUSE_PUBLIC_KEY', config.langfuseSecret, 'LANGFUSE_PUBLIC_KEY', true);
  fromSecret('LANGFUSE_SECRET_KEY', config.langfuseSecret, 'LANGFUSE_SECRET_KEY', true);
  // The session's own variables last, and never over the platform's (the API refuses them too).
  for (const [k, v] of Object.entries(spec.environmentVariables ?? {}))
    if (!isReservedEnv(k) && !k.startsWith('LANGFUSE_')) set(k, v);
  return env;
}

/** The Job of run `run` of a session: one pod, never retried, bounded by the session's timeout. */
export function buildJob(cr: AgenticSession, run: number, config: OperatorConfig): V1Job {
  const names = sessionResourceNames(cr.metadata.name, run, workspaceOwner(cr));
  const volumes: V1Volume[] = [
    { name: 'workspace', persistentVolumeClaim: { claimName: names.pvc } },
  ];
  const mounts: V1VolumeMount[] = [{ name: 'workspace', mountPath: WORKSPACE_MOUNT }];
  if (config.vertex.enabled) {
    volumes.push({ name: 'vertex', secret: { secretName: config.vertex.secret } });
    mounts.push({ name: 'vertex', mountPath: VERTEX_MOUNT, readOnly: true });
  }
  const podLabels = labels(cr, { [RUN_LABEL]: String(run) });
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: {
      name: names.job,
      namespace: cr.metadata.namespace,
      labels: podLabels,
      ownerReferences: [ownerReference(cr)],
    },
    spec: {
      backoffLimit: 0,
      ...(cr.spec.timeout ? { activeDeadlineSeconds: cr.spec.timeout } : {}),
      // The Job is deleted with its CR; keep a finished one so its pod's cause stays readable.
      template: {
        metadata: { labels: podLabels },
        spec: {
          restartPolicy: 'Never',
          serviceAccountName: config.runnerServiceAccount,
          automountServiceAccountToken: false,
          enableServiceLinks: false,
          securityContext: {
            runAsNonRoot: true,
            ...(config.runAsUser !== undefined ? { runAsUser: config.runAsUser } : {}),
            ...(config.fsGroup !== undefined ? { fsGroup: config.fsGroup } : {}),
            seccompProfile: { type: 'RuntimeDefault' },
          },
          volumes,
          containers: [
            {
              name: RUNNER_CONTAINER,
              image: config.image,
              imagePullPolicy: config.imagePullPolicy,
              // The image's entrypoint is `claude-code-runner`; `run` is the runner's command.
              ...(config.runnerCommand ? { command: config.runnerCommand } : { args: ['run'] }),
              env: runnerEnv(cr, run, config),
              // A runner that dies without a word still leaves its last lines in the status.
              terminationMessagePolicy: 'FallbackToLogsOnError',
              volumeMounts: mounts,
              resources: {
                requests: { ...config.resources.requests },
                limits: { ...config.resources.limits },
              },
              securityContext: {
                runAsNonRoot: true,
                allowPrivilegeEscalation: false,
                readOnlyRootFilesystem: false,
                capabilities: { drop: ['ALL'] },
              },
            },
          ],
        },
      },
    },
  };
}
