/**
 * The operator's robustness on a real API server (./harness.js), without serve (CRs made
 * directly, as `kubectl apply` would):
 *
 *  - RBAC: the operator works with exactly the ClusterRole and Lease Role of deploy/operator.yaml
 *    (a ServiceAccount token, not the admin), and the runner pods' ServiceAccount can read nothing;
 *  - two replicas: one holds the Lease and only it acts; killed, the other takes over;
 *  - the operator killed mid-session and the API server restarted: the session goes on to its end
 *    with one Job, not two.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import {
  CoordinationV1Api,
  CoreV1Api,
  KubeConfig,
  loadAllYaml,
  PatchStrategy,
  RbacAuthorizationV1Api,
  setHeaderOptions,
  type V1ClusterRole,
  type V1Role,
} from '@kubernetes/client-node';
import { SESSION_LABEL } from '../../src/protocol/crd.js';
import { startK8s, type K8s } from './harness.js';
import {
  applyCrd,
  createCr,
  MODEL_SECRET,
  PROJECT,
  startOperator,
  waitFor,
  waitForCr,
  type OperatorProcess,
} from './operator-helpers.js';

let k8s: K8s;
let dir: string;
const operators: OperatorProcess[] = [];
/** No serve here: runners find nothing on this port. */
const NO_BACKEND = 'http://127.0.0.1:9/api';

before(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'ccr-op-ha-'));
  k8s = await startK8s({ namespace: PROJECT });
  await applyCrd(k8s);
  await k8s.core.createNamespacedServiceAccount({
    namespace: PROJECT,
    body: { metadata: { name: 'claude-code-runner-session' } },
  });
  await k8s.core.createNamespacedSecret({
    namespace: PROJECT,
    body: { metadata: { name: MODEL_SECRET }, stringData: { ANTHROPIC_API_KEY: 'sk-test-1' } },
  });
});
after(async () => {
  for (const o of operators) await o.stop();
  await k8s?.stop();
  rmSync(dir, { recursive: true, force: true });
});

function run(env: Record<string, string> = {}): OperatorProcess {
  const o = startOperator(k8s, NO_BACKEND, env);
  operators.push(o);
  return o;
}

/** A kubeconfig file for a ServiceAccount's token (TokenRequest). */
async function tokenKubeconfig(namespace: string, sa: string): Promise<string> {
  const tr = await k8s.core.createNamespacedServiceAccountToken({
    name: sa,
    namespace,
    body: { spec: { audiences: [], expirationSeconds: 3600 } },
  });
  const file = path.join(dir, `${namespace}-${sa}.kubeconfig`);
  const ca = Buffer.from(k8s.caPem).toString('base64');
  writeFileSync(
    file,
    `apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "${k8s.server}", certificate-authority-data: ${ca}}}]
users: [{name: u, user: {token: "${tr.status!.token}"}}]
contexts: [{name: x, context: {cluster: c, user: u}}]
current-context: x
`,
    { mode: 0o600 },
  );
  return file;
}

async function jobsOf(name: string, namespace = PROJECT): Promise<string[]> {
  const l = await k8s.batch.listNamespacedJob({
    namespace,
    labelSelector: `${SESSION_LABEL}=${name}`,
  });
  return l.items.map((j) => j.metadata!.name!).sort();
}

async function leaseHolder(): Promise<string | undefined> {
  const api = k8s.kubeConfig.makeApiClient(CoordinationV1Api);
  try {
    const l = await api.readNamespacedLease({
      name: 'claude-code-runner-operator',
      namespace: PROJECT,
    });
    return l.spec?.holderIdentity ?? undefined;
  } catch {
    return undefined;
  }
}

describe('RBAC', () => {
  it('the operator works with exactly the ClusterRole of deploy/', async () => {
    const docs = loadAllYaml(
      readFileSync(
        fileURLToPath(new URL('../../../deploy/operator.yaml', import.meta.url)),
        'utf8',
      ),
    ) as { kind: string; metadata: { name: string } }[];
    const rbac = k8s.kubeConfig.makeApiClient(RbacAuthorizationV1Api);
    const clusterRole = docs.find((d) => d.kind === 'ClusterRole') as V1ClusterRole;
    const leaseRole = docs.find((d) => d.kind === 'Role') as V1Role;
    await k8s.core.createNamespacedServiceAccount({
      namespace: PROJECT,
      body: { metadata: { name: 'claude-code-runner-operator' } },
    });
    await rbac.createClusterRole({ body: clusterRole });
    await rbac.createClusterRoleBinding({
      body: {
        metadata: { name: 'claude-code-runner-operator' },
        roleRef: {
          apiGroup: 'rbac.authorization.k8s.io',
          kind: 'ClusterRole',
          name: clusterRole.metadata!.name!,
        },
        subjects: [
          { kind: 'ServiceAccount', name: 'claude-code-runner-operator', namespace: PROJECT },
        ],
      },
    });
    await rbac.createNamespacedRole({ namespace: PROJECT, body: leaseRole });
    await rbac.createNamespacedRoleBinding({
      namespace: PROJECT,
      body: {
        metadata: { name: 'claude-code-runner-operator-leader' },
        roleRef: {
          apiGroup: 'rbac.authorization.k8s.io',
          kind: 'Role',
          name: leaseRole.metadata!.name!,
        },
        subjects: [{ kind: 'ServiceAccount', name: 'claude-code-runner-operator' }],
      },
    });
    const op = run({
      KUBECONFIG: await tokenKubeconfig(PROJECT, 'claude-code-runner-operator'),
      OPERATOR_IDENTITY: 'rbac-op',
    });
    try {
      // A session in a namespace without the model Secret: Secret, PVC, Job made, the pod read,
      // the status written; then a restart (annotation removed, the old Job deleted).
      await k8s.core.createNamespace({ body: { metadata: { name: 'rbac-ns' } } });
      await waitFor('rbac-ns default SA', () =>
        k8s.core.readNamespacedServiceAccount({ name: 'default', namespace: 'rbac-ns' }),
      );
      await k8s.core.createNamespacedServiceAccount({
        namespace: 'rbac-ns',
        body: { metadata: { name: 'claude-code-runner-session' } },
      });
      await createCr(k8s, 'r1', { initialPrompt: 'hi' }, 'rbac-ns');
      const failed = await waitForCr(
        k8s,
        'r1',
        'Failed: SecretNotFound',
        (x) => x.status?.reason === 'SecretNotFound',
        120_000,
        'rbac-ns',
      );
      assert.equal(failed.status?.phase, 'Failed');
      await k8s.custom.patchNamespacedCustomObject(
        {
          group: 'vteam.ambient-code',
          version: 'v1alpha1',
          namespace: 'rbac-ns',
          plural: 'agenticsessions',
          name: 'r1',
          body: { metadata: { annotations: { 'ambient-code.io/desired-phase': 'Running' } } },
        },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      );
      const second = await waitForCr(
        k8s,
        'r1',
        'run 2 failed the same way',
        (x) => x.status?.run === 2 && x.status?.phase === 'Failed',
        120_000,
        'rbac-ns',
      );
      assert.equal(second.metadata.annotations?.['ambient-code.io/desired-phase'], undefined);
      assert.deepEqual(await jobsOf('r1', 'rbac-ns'), ['r1-run-2']);
      assert.doesNotMatch(op.output(), /forbidden|HTTP 403/i, op.output().slice(-3000));
    } finally {
      await op.stop();
    }
  });

  it("the runner pods' ServiceAccount can read nothing", async () => {
    const kc = new KubeConfig();
    kc.loadFromFile(await tokenKubeconfig(PROJECT, 'claude-code-runner-session'));
    const core = kc.makeApiClient(CoreV1Api);
    for (const call of [
      () => core.listNamespacedSecret({ namespace: PROJECT }),
      () => core.listNamespacedPod({ namespace: PROJECT }),
      () => core.readNamespacedSecret({ name: MODEL_SECRET, namespace: PROJECT }),
    ])
      await assert.rejects(call, (e: { code?: number }) => e.code === 403);
  });
});

describe('two replicas, restarts', () => {
  it('only the leader acts; the follower takes over when it dies', async () => {
    const a = run({ OPERATOR_IDENTITY: 'op-a' });
    const b = run({ OPERATOR_IDENTITY: 'op-b' });
    const leader = await waitFor('a lease holder', async () => {
      const h = await leaseHolder();
      return h === 'op-a' || h === 'op-b' ? h : undefined;
    });
    await createCr(k8s, 'ha1', { initialPrompt: 'hi', timeout: 15 });
    await waitForCr(k8s, 'ha1', 'Creating', (x) => !!x.status?.jobName);
    const [lead, follow] = leader === 'op-a' ? [a, b] : [b, a];
    assert.match(lead.output(), /created the Job/);
    assert.doesNotMatch(follow.output(), /created the Job/);
    // The leader dies without giving the lease up: the follower waits it out, then acts.
    lead.child.kill('SIGKILL');
    await waitFor(
      'the follower to hold the lease',
      async () =>
        (await leaseHolder()) === (leader === 'op-a' ? 'op-b' : 'op-a') ? true : undefined,
      60_000,
    );
    await createCr(k8s, 'ha2', { initialPrompt: 'hi', timeout: 15 });
    await waitForCr(k8s, 'ha2', 'Creating', (x) => !!x.status?.jobName, 60_000);
    assert.match(follow.output(), /created the Job/);
    // ha1 reaches its end under the new leader, with one Job.
    await waitForCr(k8s, 'ha1', 'ended', (x) => x.status?.phase === 'Failed', 120_000);
    assert.deepEqual(await jobsOf('ha1'), ['ha1-run-1']);
    await follow.stop();
  });

  it('survives its own restart and the API server restart: one Job per run', async () => {
    let op = run({ OPERATOR_IDENTITY: 'op-c' });
    await createCr(k8s, 'rs1', { initialPrompt: 'hi', timeout: 20 });
    await waitForCr(k8s, 'rs1', 'Creating', (x) => !!x.status?.jobName, 60_000);
    op.child.kill('SIGKILL');
    await k8s.cp.restartApiServer();
    // A session created while no operator runs.
    await waitFor('the API server back', () => createCr(k8s, 'rs2', { initialPrompt: 'hi' }));
    // A lease longer than the API server's restart below: a leader that cannot renew in time
    // exits (as controller-runtime's does) and its Deployment would restart it.
    op = run({
      OPERATOR_IDENTITY: 'op-d',
      OPERATOR_LEASE_SECONDS: '30',
      // A watch left silent by the restart is replaced within this bound.
      OPERATOR_WATCH_TIMEOUT_SECONDS: '20',
    });
    const rs1 = await waitForCr(
      k8s,
      'rs1',
      'ended',
      (x) => x.status?.phase === 'Failed' || x.status?.phase === 'Completed',
      120_000,
    );
    assert.equal(rs1.status?.run, 1);
    assert.deepEqual(await jobsOf('rs1'), ['rs1-run-1']);
    await waitForCr(k8s, 'rs2', 'a Job', (x) => !!x.status?.jobName, 60_000);
    assert.deepEqual(await jobsOf('rs2'), ['rs2-run-1']);
    // And the API server restarting under a running operator: its watches come back.
    await k8s.cp.restartApiServer();
    await waitFor('the API server back', () => createCr(k8s, 'rs3', { initialPrompt: 'hi' }));
    await waitForCr(k8s, 'rs3', 'a Job', (x) => !!x.status?.jobName, 90_000).catch((e: unknown) => {
      throw new Error(
        `${(e as Error).message}\noperator (exit ${op.child.exitCode}, signal ${op.child.signalCode}):\n${op.output().slice(-6000)}`,
      );
    });
    assert.deepEqual(await jobsOf('rs3'), ['rs3-run-1']);
    await op.stop();
  });

  it("names a non-zero exit with its code and the runner's message", async () => {
    const op = run({ OPERATOR_IDENTITY: 'op-e' });
    try {
      await createCr(k8s, 'bad1', { initialPrompt: 'hi', repos: [{ url: 'not a url' }] });
      const cr = await waitForCr(k8s, 'bad1', 'Failed', (x) => x.status?.phase === 'Failed');
      assert.equal(cr.status?.reason, 'Error', JSON.stringify(cr.status));
      assert.equal(cr.status?.exitCode, 2);
      assert.match(cr.status?.message ?? '', /runner exited with code 2/);
    } finally {
      await op.stop();
    }
  });

  it('names OOMKilled when the runner exceeds its memory limit', async () => {
    await k8s.core.createNamespace({ body: { metadata: { name: 'oom-ns' } } });
    await waitFor('oom-ns default SA', () =>
      k8s.core.readNamespacedServiceAccount({ name: 'default', namespace: 'oom-ns' }),
    );
    await k8s.core.createNamespacedServiceAccount({
      namespace: 'oom-ns',
      body: { metadata: { name: 'claude-code-runner-session' } },
    });
    await k8s.core.createNamespacedSecret({
      namespace: 'oom-ns',
      body: { metadata: { name: MODEL_SECRET }, stringData: { ANTHROPIC_API_KEY: 'sk-test-1' } },
    });
    // An operator for this namespace alone whose pods get far less memory than Node needs.
    const op = run({
      OPERATOR_IDENTITY: 'op-oom',
      OPERATOR_NAMESPACES: 'oom-ns',
      OPERATOR_LEASE_NAME: 'oom-operator',
      OPERATOR_MEMORY_REQUEST: '8Mi',
      OPERATOR_MEMORY_LIMIT: '16Mi',
    });
    try {
      await createCr(k8s, 'oom1', { initialPrompt: 'hi' }, 'oom-ns');
      const cr = await waitForCr(
        k8s,
        'oom1',
        'Failed',
        (x) => x.status?.phase === 'Failed',
        120_000,
        'oom-ns',
      );
      assert.equal(cr.status?.reason, 'OOMKilled', JSON.stringify(cr.status));
      assert.match(cr.status?.message ?? '', /memory limit/);
    } finally {
      await op.stop();
    }
  });
});
