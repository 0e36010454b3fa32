/**
 * The k8s tier's harness (docs/kubernetes-testing.md): a real control plane (etcd,
 * kube-apiserver, kube-controller-manager, kube-scheduler built by `scripts/k8s.sh build`) on
 * 127.0.0.1 with free ports and a fresh run dir, plus the project's node agent as the one Node,
 * and a namespace for the test.
 *
 *   import { startK8s, waitFor } from './harness.js';
 *
 *   const k8s = await startK8s({ namespace: 'demo', agentEnv: { ANTHROPIC_BASE_URL: model.url } });
 *   try {
 *     await k8s.installCrd('deploy/crd.yaml'); // Established, and its first list answered (no 429)
 *     await k8s.core.createNamespacedSecret({ namespace: k8s.namespace, body: { … } });
 *     await k8s.batch.createNamespacedJob({ namespace: k8s.namespace, body: job });
 *     const pod = await k8s.waitForPod(k8s.namespace, 'job-name=my-job', (p) => p.status?.phase === 'Succeeded');
 *     k8s.agent!.logs(k8s.namespace, pod.metadata!.name!); // the container's output
 *     // an operator as a child process: KUBECONFIG=k8s.kubeconfigPath (admin, client cert),
 *     // or k8s.server + k8s.token + k8s.caPem; every URL a pod gets must be on 127.0.0.1
 *     await k8s.cp.restartApiServer(); // SIGKILL + start again, same port and etcd
 *   } finally {
 *     await k8s.stop();
 *   }
 *
 * A failed container's `terminated.message` is its termination-message file, or with
 * `terminationMessagePolicy: FallbackToLogsOnError` the tail of its output (as a kubelet does).
 * `startK8s({ runtime: 'podman' })` runs pods in the built image under podman instead.
 *
 * Exports: startK8s, K8s, StartK8sOptions, waitFor, k8sAvailable, plus from src/testing/k8s/:
 * startControlPlane (the API alone), NodeAgent (the kubelet stand-in), k8sBinDir.
 * Pods run as local processes: image `…/claude-code-runner:<tag>` → `node dist/src/cli/main.js
 * <args>` of this checkout, `node:<tag>` → this Node; any other image → ErrImagePull.
 * Paths a pod is given (env values, args, workingDir) that point into a volume mount, /workspace,
 * /data, /tmp or the termination log are rewritten to the host dirs standing in for them.
 */
import {
  ApiextensionsV1Api,
  AppsV1Api,
  BatchV1Api,
  CoreV1Api,
  CustomObjectsApi,
  loadAllYaml,
  type KubeConfig,
  type V1CustomResourceDefinition,
  type V1Pod,
} from '@kubernetes/client-node';
import { readFileSync } from 'node:fs';
import {
  k8sBinariesBuilt,
  k8sBinDir,
  startControlPlane,
  type ControlPlane,
  type StartControlPlaneOptions,
} from '../../src/testing/k8s/control-plane.js';
import { NodeAgent } from '../../src/testing/k8s/node-agent.js';

export { startControlPlane, k8sBinDir } from '../../src/testing/k8s/control-plane.js';
export { NodeAgent } from '../../src/testing/k8s/node-agent.js';

export interface StartK8sOptions extends StartControlPlaneOptions {
  /** Created (with its `default` ServiceAccount awaited); default `test`. */
  namespace?: string;
  /** Without it: the API, controllers and scheduler, but no Node runs pods. Default true. */
  nodeAgent?: boolean;
  /** Added to every pod container's environment (under the pod's own variables). */
  agentEnv?: Record<string, string>;
  /** The node agent's runtime: local processes (default) or podman with the project's image. */
  runtime?: 'process' | 'podman';
  /** Print the node agent's diagnostics to stderr. */
  verbose?: boolean;
}

export interface K8s {
  cp: ControlPlane;
  /** The node agent (undefined with `nodeAgent: false`). */
  agent: NodeAgent | undefined;
  namespace: string;
  server: string;
  apiPort: number;
  kubeconfigPath: string;
  kubeConfig: KubeConfig;
  token: string;
  caPem: string;
  core: CoreV1Api;
  batch: BatchV1Api;
  apps: AppsV1Api;
  apiext: ApiextensionsV1Api;
  custom: CustomObjectsApi;
  /**
   * Creates a CustomResourceDefinition (an object, or the first CRD of a YAML file), waits for
   * it to be Established and for its first list to answer (not 429 "storage is
   * (re)initializing"), and returns it.
   */
  installCrd(crd: V1CustomResourceDefinition | string): Promise<V1CustomResourceDefinition>;
  /** Polls the pods of a label selector until one satisfies `ok`. */
  waitForPod(
    namespace: string,
    labelSelector: string,
    ok: (p: V1Pod) => boolean,
    timeoutMs?: number,
  ): Promise<V1Pod>;
  stop(): Promise<void>;
}

/** Whether `scripts/k8s.sh build` has run on this machine. */
export function k8sAvailable(): boolean {
  return k8sBinariesBuilt(k8sBinDir());
}

/**
 * Polls `probe` until it returns a value other than undefined (errors count as not yet: 429
 * while a new CRD's storage initialises, a restarting apiserver); the last error names a timeout.
 */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 60_000,
  intervalMs = 250,
): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > end) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`, { cause: last });
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

export async function startK8s(opts: StartK8sOptions = {}): Promise<K8s> {
  const cp = await startControlPlane(opts);
  let agent: NodeAgent | undefined;
  const stop = async (): Promise<void> => {
    await agent?.stop();
    await cp.stop();
  };
  try {
    const kc = cp.kubeConfig;
    const core = kc.makeApiClient(CoreV1Api);
    const namespace = opts.namespace ?? 'test';
    await core.createNamespace({ body: { metadata: { name: namespace } } });
    if (opts.controllerManager === false) {
      // No ServiceAccount controller: make the `default` account pods are admitted with.
      await core.createNamespacedServiceAccount({
        namespace,
        body: { metadata: { name: 'default' } },
      });
      // …and what its root-CA publisher writes, which every pod's API access volume reads.
      await core.createNamespacedConfigMap({
        namespace,
        body: { metadata: { name: 'kube-root-ca.crt' }, data: { 'ca.crt': cp.caPem } },
      });
    } else {
      // Pods are refused until the ServiceAccount controller made the namespace's `default`.
      await waitFor(`ServiceAccount ${namespace}/default`, () =>
        core.readNamespacedServiceAccount({ name: 'default', namespace }),
      );
    }
    if (opts.nodeAgent !== false) {
      agent = new NodeAgent({
        kubeConfig: kc,
        apiPort: cp.apiPort,
        extraEnv: opts.agentEnv,
        runtime: opts.runtime,
        log: opts.verbose ? (l) => process.stderr.write(`${l}\n`) : undefined,
      });
      await agent.start();
    }
    const apiext = kc.makeApiClient(ApiextensionsV1Api);
    const custom = kc.makeApiClient(CustomObjectsApi);
    const installCrd = async (
      crd: V1CustomResourceDefinition | string,
    ): Promise<V1CustomResourceDefinition> => {
      const body =
        typeof crd === 'string'
          ? (loadAllYaml(readFileSync(crd, 'utf8')) as V1CustomResourceDefinition[]).find(
              (d) => d?.kind === 'CustomResourceDefinition',
            )
          : crd;
      if (!body?.spec) throw new Error(`no CustomResourceDefinition in ${String(crd)}`);
      const name = body.metadata?.name ?? '';
      await apiext.createCustomResourceDefinition({ body });
      const established = await waitFor(`CRD ${name} Established`, async () => {
        const c = await apiext.readCustomResourceDefinition({ name });
        return c.status?.conditions?.some((x) => x.type === 'Established' && x.status === 'True')
          ? c
          : undefined;
      });
      const version =
        body.spec.versions.find((v) => v.storage)?.name ?? body.spec.versions[0]!.name;
      const { group, names, scope } = body.spec;
      await waitFor(`the first list of ${name}`, async () =>
        scope === 'Namespaced'
          ? custom.listNamespacedCustomObject({ group, version, namespace, plural: names.plural })
          : custom.listClusterCustomObject({ group, version, plural: names.plural }),
      );
      return established;
    };
    return {
      cp,
      agent,
      namespace,
      server: cp.server,
      apiPort: cp.apiPort,
      kubeconfigPath: cp.kubeconfigPath,
      kubeConfig: kc,
      token: cp.token,
      caPem: cp.caPem,
      core,
      batch: kc.makeApiClient(BatchV1Api),
      apps: kc.makeApiClient(AppsV1Api),
      apiext,
      custom,
      installCrd,
      waitForPod: (ns, labelSelector, ok, timeoutMs = 90_000) =>
        waitFor(
          `a pod ${labelSelector} in ${ns}`,
          async () =>
            (await core.listNamespacedPod({ namespace: ns, labelSelector })).items.find(ok),
          timeoutMs,
        ),
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
