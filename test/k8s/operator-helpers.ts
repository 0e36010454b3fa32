/**
 * Shared pieces of the operator's k8s-tier tests (not a test file itself): a real control plane
 * and node agent (./harness.js), the CRD from deploy/crd.yaml, the scripted model, the model
 * Secret under the original platform's name, `serve --executor kubernetes` and the operator as
 * child processes of this checkout.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { loadYaml, type V1CustomResourceDefinition } from '@kubernetes/client-node';
import { CRD_GROUP, CRD_NAME, CRD_PLURAL, CRD_VERSION } from '../../src/protocol/crd.js';
import type { AgenticSession } from '../../src/protocol/crd.js';
import {
  startScriptedModelServer,
  type Scenario,
  type ScriptedModelServer,
} from '../../src/testing/scripted-model/index.js';
import { startServe, type ServeHandle } from '../../src/testing/serve-process.js';
import { PROJECT } from '../../src/testing/session-api.js';
import { SCENARIOS, API_KEY } from '../control-plane-e2e/helpers.js';
import { startK8s, waitFor, type K8s } from './harness.js';

export { PROJECT, waitFor };

/** This tier's scenarios on top of the control plane's: a file written, then read back. */
export const K8S_SCENARIOS: Scenario[] = [
  ...SCENARIOS,
  {
    // Two turns: the first session writes, its continuation (same conversation) reads back.
    name: 'k8s-note',
    turns: [
      {
        match: 'write a note',
        steps: [
          {
            tools: [
              {
                name: 'Bash',
                input: { command: 'echo cluster-memory-42 > note.txt', description: 'Write' },
              },
            ],
          },
          { text: 'Wrote the note.' },
        ],
      },
      {
        match: 'read the note',
        steps: [
          { tools: [{ name: 'Bash', input: { command: 'cat note.txt', description: 'Read' } }] },
          { text: 'The note says: {{lastToolResult}}' },
        ],
      },
    ],
  },
];
export const MODEL_SECRET = 'ambient-non-vertex-integrations';

const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

export interface OperatorProcess {
  child: ChildProcess;
  output(): string;
  stop(): Promise<void>;
}

/** `claude-code-runner operator` against the test cluster (its own process, ended by pid). */
export function startOperator(
  k8s: K8s,
  backendApiUrl: string,
  env: Record<string, string> = {},
): OperatorProcess {
  let out = '';
  const child = spawn(process.execPath, [CLI, 'operator'], {
    env: {
      PATH: process.env.PATH,
      KUBECONFIG: k8s.kubeconfigPath,
      OPERATOR_IMAGE: 'quay.io/ambient/claude-code-runner:test',
      OPERATOR_BACKEND_API_URL: backendApiUrl,
      OPERATOR_LEASE_NAMESPACE: PROJECT,
      OPERATOR_LEASE_SECONDS: '4',
      // The node agent enforces memory limits by RSS: leave the runner and its CLI room.
      OPERATOR_MEMORY_LIMIT: '4Gi',
      LOG_LEVEL: 'info',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const add = (b: Buffer) => {
    out = (out + b.toString()).slice(-200_000);
  };
  child.stdout!.on('data', add);
  child.stderr!.on('data', add);
  return {
    child,
    output: () => out,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

export async function applyCrd(k8s: K8s): Promise<void> {
  const crd = loadYaml<V1CustomResourceDefinition>(
    readFileSync(fileURLToPath(new URL('../../../deploy/crd.yaml', import.meta.url)), 'utf8'),
  );
  await k8s.apiext.createCustomResourceDefinition({ body: crd });
  await waitFor('the CRD to be established', async () => {
    const c = await k8s.apiext.readCustomResourceDefinition({ name: CRD_NAME });
    return c.status?.conditions?.some((x) => x.type === 'Established' && x.status === 'True')
      ? true
      : undefined;
  });
  // For a moment after Established, lists answer 429 (storage initialising).
  await waitFor('the CRD to be listable', () =>
    k8s.custom.listNamespacedCustomObject({
      group: CRD_GROUP,
      version: CRD_VERSION,
      namespace: PROJECT,
      plural: CRD_PLURAL,
    }),
  );
}

export interface Cluster {
  k8s: K8s;
  model: ScriptedModelServer;
  serve: ServeHandle;
  operator: OperatorProcess;
  close(): Promise<void>;
}

/** Everything of the Kubernetes mode, in the namespace `demo` (serve's default project). */
export async function startCluster(): Promise<Cluster> {
  const model = await startScriptedModelServer({ scenarios: K8S_SCENARIOS, quiet: true });
  let k8s: K8s | undefined;
  let serve: ServeHandle | undefined;
  let operator: OperatorProcess | undefined;
  const close = async () => {
    await operator?.stop();
    await serve?.stop();
    await k8s?.stop();
    await model.close();
  };
  try {
    k8s = await startK8s({
      namespace: PROJECT,
      agentEnv: {
        CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
        CLAUDE_CODE_MAX_RETRIES: '1',
        RUNNER_RECONNECT_MAX_DELAY_MS: '300',
      },
    });
    await applyCrd(k8s);
    await k8s.core.createNamespacedSecret({
      namespace: PROJECT,
      body: {
        metadata: { name: MODEL_SECRET },
        stringData: { ANTHROPIC_API_KEY: API_KEY, ANTHROPIC_BASE_URL: model.url },
      },
    });
    await k8s.core.createNamespacedServiceAccount({
      namespace: PROJECT,
      body: { metadata: { name: 'claude-code-runner-session' } },
    });
    serve = await startServe({
      args: ['--executor', 'kubernetes'],
      env: { KUBECONFIG: k8s.kubeconfigPath, LOG_LEVEL: 'info' },
      graceMs: 3000,
    });
    operator = startOperator(k8s, serve.apiUrl);
    return { k8s, model, serve, operator, close };
  } catch (e) {
    await close();
    throw e;
  }
}

export async function getCr(k8s: K8s, name: string, namespace = PROJECT) {
  try {
    return (await k8s.custom.getNamespacedCustomObject({
      group: CRD_GROUP,
      version: CRD_VERSION,
      namespace,
      plural: CRD_PLURAL,
      name,
    })) as AgenticSession;
  } catch (err) {
    if ((err as { code?: number }).code === 404) return undefined;
    throw err;
  }
}

export async function createCr(
  k8s: K8s,
  name: string,
  spec: AgenticSession['spec'],
  namespace = PROJECT,
) {
  return (await k8s.custom.createNamespacedCustomObject({
    group: CRD_GROUP,
    version: CRD_VERSION,
    namespace,
    plural: CRD_PLURAL,
    body: {
      apiVersion: `${CRD_GROUP}/${CRD_VERSION}`,
      kind: 'AgenticSession',
      metadata: { name, namespace },
      spec,
    },
  })) as AgenticSession;
}

/** Polls the CR until its status satisfies `ok`; returns it. */
export function waitForCr(
  k8s: K8s,
  name: string,
  what: string,
  ok: (cr: AgenticSession) => boolean,
  timeoutMs = 120_000,
  namespace = PROJECT,
): Promise<AgenticSession> {
  return waitFor(
    `${namespace}/${name}: ${what}`,
    async () => {
      const cr = await getCr(k8s, name, namespace);
      return cr && ok(cr) ? cr : undefined;
    },
    timeoutMs,
  );
}
