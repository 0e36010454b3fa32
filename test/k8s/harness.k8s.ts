/**
 * The k8s tier's own proof (docs/kubernetes-testing.md): a real control plane, the scheduler
 * binding Job pods to the node agent's Node, the agent running them as processes and reporting
 * what a kubelet reports, and the controllers (Jobs, garbage collection, claims) around it.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { V1Job, V1Pod } from '@kubernetes/client-node';
import { defaultPodmanImage } from '../../src/testing/k8s/node-agent.js';
import { podmanImageExists } from '../../src/testing/k8s/podman.js';
import { NodeAgent, startK8s, waitFor, type K8s } from './harness.js';

const PROJECT_IMAGE = 'localhost/claude-code-runner:test';

function job(
  name: string,
  container: Record<string, unknown>,
  extra: Record<string, unknown> = {},
): V1Job {
  return {
    metadata: { name },
    spec: {
      backoffLimit: 0,
      ...extra,
      template: {
        spec: {
          restartPolicy: 'Never',
          terminationGracePeriodSeconds: 5,
          containers: [{ name: 'main', image: PROJECT_IMAGE, ...container }],
        },
      },
    },
  } as V1Job;
}

function pod(
  name: string,
  container: Record<string, unknown>,
  spec: Record<string, unknown> = {},
): V1Pod {
  return {
    metadata: { name, labels: { test: name } },
    spec: {
      restartPolicy: 'Never',
      terminationGracePeriodSeconds: 5,
      ...spec,
      containers: [{ name: 'main', image: 'node:20', ...container }],
    },
  } as V1Pod;
}

const terminated = (p: V1Pod) => p.status?.containerStatuses?.[0]?.state?.terminated;
const waiting = (p: V1Pod) => p.status?.containerStatuses?.[0]?.state?.waiting;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('k8s harness and node agent', () => {
  let k8s: K8s;
  let ns: string;

  before(async () => {
    k8s = await startK8s({ namespace: 'harness' });
    ns = k8s.namespace;
  });
  after(async () => {
    await k8s?.stop();
  });

  it("runs a Job's pod, bound by the scheduler to the agent's Node, to Succeeded", async () => {
    await k8s.batch.createNamespacedJob({
      namespace: ns,
      body: job('version', { command: ['claude-code-runner', '--version'] }),
    });
    const p = await k8s.waitForPod(ns, 'job-name=version', (x) => x.status?.phase === 'Succeeded');
    assert.equal(p.spec?.nodeName, k8s.agent!.nodeName);
    assert.equal(terminated(p)?.exitCode, 0);
    assert.equal(terminated(p)?.reason, 'Completed');
    assert.match(k8s.agent!.logs(ns, p.metadata!.name!), /^\d+\.\d+\.\d+\n$/);
    const done = await waitFor('the Job to complete', async () => {
      const j = await k8s.batch.readNamespacedJob({ name: 'version', namespace: ns });
      return j.status?.conditions?.find((c) => c.type === 'Complete' && c.status === 'True');
    });
    assert.ok(done);
  });

  it('installs a CRD and serves its objects at once (no 429 on the first list)', async () => {
    await k8s.installCrd({
      apiVersion: 'apiextensions.k8s.io/v1',
      kind: 'CustomResourceDefinition',
      metadata: { name: 'widgets.test.claude-code-runner.dev' },
      spec: {
        group: 'test.claude-code-runner.dev',
        scope: 'Namespaced',
        names: { plural: 'widgets', singular: 'widget', kind: 'Widget' },
        versions: [
          {
            name: 'v1',
            served: true,
            storage: true,
            subresources: { status: {} },
            schema: {
              openAPIV3Schema: {
                type: 'object',
                properties: {
                  spec: { type: 'object', x_kubernetes_preserve_unknown_fields: true },
                  status: { type: 'object', x_kubernetes_preserve_unknown_fields: true },
                },
              },
            },
          },
        ],
      },
    });
    const created = (await k8s.custom.createNamespacedCustomObject({
      group: 'test.claude-code-runner.dev',
      version: 'v1',
      namespace: ns,
      plural: 'widgets',
      body: {
        apiVersion: 'test.claude-code-runner.dev/v1',
        kind: 'Widget',
        metadata: { name: 'w' },
        spec: { size: 3 },
      },
    })) as { spec?: { size?: number } };
    assert.equal(created.spec?.size, 3);
  });

  it('holds a pod with a missing Secret key in CreateContainerConfigError, then starts it', async () => {
    await k8s.core.createNamespacedSecret({
      namespace: ns,
      body: { metadata: { name: 'creds' }, stringData: { other: 'x' } },
    });
    await k8s.core.createNamespacedPod({
      namespace: ns,
      body: pod(
        'needs-secret',
        {
          command: ['node', '-e', 'console.log(process.env.KEY.length)'],
          env: [{ name: 'KEY', valueFrom: { secretKeyRef: { name: 'creds', key: 'api-key' } } }],
        },
        { nodeName: k8s.agent!.nodeName },
      ),
    });
    const blocked = await k8s.waitForPod(ns, 'test=needs-secret', (x) => !!waiting(x)?.message);
    assert.equal(blocked.status?.phase, 'Pending');
    assert.equal(waiting(blocked)?.reason, 'CreateContainerConfigError');
    assert.match(waiting(blocked)?.message ?? '', /key api-key in Secret harness\/creds/);
    await k8s.core.replaceNamespacedSecret({
      name: 'creds',
      namespace: ns,
      body: { metadata: { name: 'creds' }, stringData: { other: 'x', 'api-key': 'sk-12345' } },
    });
    const ran = await k8s.waitForPod(
      ns,
      'test=needs-secret',
      (x) => x.status?.phase === 'Succeeded',
    );
    assert.equal(terminated(ran)?.exitCode, 0);
    // The value reached the process (its length), and no log holds the value itself.
    assert.equal(k8s.agent!.logs(ns, 'needs-secret'), '8\n');
  });

  it('kills a pod over its memory limit and reports OOMKilled', async () => {
    await k8s.core.createNamespacedPod({
      namespace: ns,
      body: pod(
        'hog',
        {
          command: [
            'node',
            '-e',
            'const a = []; setInterval(() => a.push(Buffer.alloc(16 << 20, 1)), 20);',
          ],
          resources: { limits: { memory: '96Mi' } },
        },
        { nodeName: k8s.agent!.nodeName },
      ),
    });
    const p = await k8s.waitForPod(ns, 'test=hog', (x) => x.status?.phase === 'Failed');
    assert.equal(terminated(p)?.reason, 'OOMKilled');
    assert.equal(terminated(p)?.exitCode, 137);
  });

  it('reports ErrImagePull for an image it cannot run, and failures with their message', async () => {
    await k8s.core.createNamespacedPod({
      namespace: ns,
      body: pod(
        'no-image',
        { image: 'quay.io/nobody/nothing:1' },
        { nodeName: k8s.agent!.nodeName },
      ),
    });
    await k8s.core.createNamespacedPod({
      namespace: ns,
      body: pod(
        'fails',
        {
          command: ['node', '-e', 'console.error("config is broken: FOO"); process.exit(3)'],
          terminationMessagePolicy: 'FallbackToLogsOnError',
        },
        { nodeName: k8s.agent!.nodeName },
      ),
    });
    await k8s.core.createNamespacedPod({
      namespace: ns,
      body: pod(
        'says-why',
        {
          // The path reaches the process as an argument: the agent maps it to the pod's file.
          command: [
            'node',
            '-e',
            'require("fs").writeFileSync(process.argv[1], "quota exhausted"); process.exit(4)',
            '/termination/reason',
          ],
          terminationMessagePath: '/termination/reason',
        },
        { nodeName: k8s.agent!.nodeName },
      ),
    });
    const noImage = await k8s.waitForPod(ns, 'test=no-image', (x) => !!waiting(x)?.message);
    assert.match(waiting(noImage)?.reason ?? '', /^(ErrImagePull|ImagePullBackOff)$/);
    assert.match(waiting(noImage)?.message ?? '', /quay\.io\/nobody\/nothing:1/);
    const failed = await k8s.waitForPod(ns, 'test=fails', (x) => x.status?.phase === 'Failed');
    assert.equal(terminated(failed)?.exitCode, 3);
    assert.equal(terminated(failed)?.reason, 'Error');
    assert.match(terminated(failed)?.message ?? '', /config is broken: FOO/);
    const why = await k8s.waitForPod(ns, 'test=says-why', (x) => x.status?.phase === 'Failed');
    assert.equal(terminated(why)?.exitCode, 4);
    assert.equal(terminated(why)?.message, 'quota exhausted');
  });

  it('gives a claim a volume that a later pod on the same claim sees', async () => {
    await k8s.core.createNamespacedPersistentVolumeClaim({
      namespace: ns,
      body: {
        metadata: { name: 'workspace' },
        spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } },
      },
    });
    const withClaim = (name: string, script: string): V1Pod =>
      pod(
        name,
        {
          command: ['node', '-e', script],
          env: [{ name: 'NOTE', value: '/workspace/session/note.txt' }],
          volumeMounts: [{ name: 'ws', mountPath: '/workspace' }],
        },
        { volumes: [{ name: 'ws', persistentVolumeClaim: { claimName: 'workspace' } }] },
      );
    const fs = 'const fs = require("fs"), p = require("path");';
    await k8s.core.createNamespacedPod({
      namespace: ns,
      body: withClaim(
        'writer',
        `${fs} fs.mkdirSync(p.dirname(process.env.NOTE), {recursive: true}); fs.writeFileSync(process.env.NOTE, "kept")`,
      ),
    });
    const w = await k8s.waitForPod(
      ns,
      'test=writer',
      (x) => !!x.status?.phase?.match(/Succeeded|Failed/),
      120_000,
    );
    assert.equal(w.status?.phase, 'Succeeded', JSON.stringify(w.status));
    await k8s.core.createNamespacedPod({
      namespace: ns,
      body: withClaim('reader', `${fs} console.log(fs.readFileSync(process.env.NOTE, "utf8"))`),
    });
    const r = await k8s.waitForPod(
      ns,
      'test=reader',
      (x) => !!x.status?.phase?.match(/Succeeded|Failed/),
      120_000,
    );
    assert.equal(r.status?.phase, 'Succeeded', JSON.stringify(r.status));
    assert.equal(k8s.agent!.logs(ns, 'reader'), 'kept\n');
  });

  it("fails a Job past its activeDeadlineSeconds and ends its pod's process", async () => {
    await k8s.batch.createNamespacedJob({
      namespace: ns,
      body: job(
        'deadline',
        { image: 'node:20', command: ['node', '-e', 'setInterval(() => {}, 1000)'] },
        { activeDeadlineSeconds: 4 },
      ),
    });
    const running = await k8s.waitForPod(
      ns,
      'job-name=deadline',
      (x) => x.status?.phase === 'Running',
    );
    const pids = k8s.agent!.pids(ns, running.metadata!.name!);
    assert.equal(pids.length, 1);
    const failed = await waitFor('the Job to fail by its deadline', async () => {
      const j = await k8s.batch.readNamespacedJob({ name: 'deadline', namespace: ns });
      return j.status?.conditions?.find((c) => c.type === 'Failed' && c.status === 'True');
    });
    assert.equal(failed.reason, 'DeadlineExceeded');
    await waitFor('the process to end', () => (pids.every((p) => !alive(p)) ? true : undefined));
  });

  it('deletes the pods of a deleted owner (garbage collector) and ends their processes', async () => {
    await k8s.batch.createNamespacedJob({
      namespace: ns,
      body: job('owned', {
        image: 'node:20',
        command: ['node', '-e', 'setInterval(() => {}, 1000)'],
      }),
    });
    const running = await k8s.waitForPod(
      ns,
      'job-name=owned',
      (x) => x.status?.phase === 'Running',
    );
    assert.equal(running.metadata?.ownerReferences?.[0]?.kind, 'Job');
    const pids = k8s.agent!.pids(ns, running.metadata!.name!);
    assert.equal(pids.length, 1);
    await k8s.batch.deleteNamespacedJob({
      name: 'owned',
      namespace: ns,
      propagationPolicy: 'Background',
    });
    await waitFor('the owned pod to be gone', async () => {
      const list = await k8s.core.listNamespacedPod({
        namespace: ns,
        labelSelector: 'job-name=owned',
      });
      return list.items.length === 0 ? true : undefined;
    });
    assert.ok(
      pids.every((p) => !alive(p)),
      'the container process ended',
    );
  });

  const image = defaultPodmanImage();
  const podmanReady = podmanImageExists(image);
  it(
    'runs pods in the project image with podman (runtime: podman)',
    { skip: !podmanReady && `no image ${image} here: scripts/image.sh builds it` },
    async () => {
      const agent = new NodeAgent({
        kubeConfig: k8s.kubeConfig,
        apiPort: k8s.apiPort,
        nodeName: 'ccr-podman-node',
        runtime: 'podman',
      });
      await agent.start();
      try {
        await k8s.core.createNamespacedSecret({
          namespace: ns,
          body: { metadata: { name: 'podman-creds' }, stringData: { token: 'tok-1234567' } },
        });
        const script =
          'const fs = require("fs"); fs.writeFileSync("/workspace/out", "w"); ' +
          'console.log(process.env.TOKEN.length, process.getuid(), fs.readFileSync("/workspace/out", "utf8")); ' +
          'fs.writeFileSync("/dev/termination-log", "done in a container"); process.exit(5)';
        await k8s.core.createNamespacedPod({
          namespace: ns,
          body: pod(
            'in-podman',
            {
              image: PROJECT_IMAGE,
              command: ['node', '-e', script],
              env: [
                {
                  name: 'TOKEN',
                  valueFrom: { secretKeyRef: { name: 'podman-creds', key: 'token' } },
                },
              ],
              volumeMounts: [{ name: 'ws', mountPath: '/workspace' }],
            },
            { nodeName: 'ccr-podman-node', volumes: [{ name: 'ws', emptyDir: {} }] },
          ),
        });
        await k8s.core.createNamespacedPod({
          namespace: ns,
          body: pod(
            'podman-hog',
            {
              image: PROJECT_IMAGE,
              command: [
                'node',
                '-e',
                'const a = []; setInterval(() => a.push(Buffer.alloc(16 << 20, 1)), 20);',
              ],
              resources: { limits: { memory: '96Mi' } },
            },
            { nodeName: 'ccr-podman-node' },
          ),
        });
        const p = await k8s.waitForPod(
          ns,
          'test=in-podman',
          (x) => x.status?.phase === 'Failed',
          120_000,
        );
        assert.equal(terminated(p)?.exitCode, 5);
        assert.equal(terminated(p)?.message, 'done in a container');
        // The image's own user (1001), the secret's value by its length, the volume writable.
        assert.equal(agent.logs(ns, 'in-podman'), '11 1001 w\n');
        const hog = await k8s.waitForPod(
          ns,
          'test=podman-hog',
          (x) => x.status?.phase === 'Failed',
          120_000,
        );
        assert.equal(terminated(hog)?.reason, 'OOMKilled');
      } finally {
        await agent.stop();
      }
    },
  );

  it('keeps serving its pods across an apiserver restart (re-lists after the watch breaks)', async () => {
    const listsBefore = k8s.agent!.lists;
    await k8s.cp.restartApiServer();
    await k8s.core.createNamespacedPod({
      namespace: ns,
      body: pod(
        'after-restart',
        { command: ['node', '-e', 'console.log("hi")'] },
        { nodeName: k8s.agent!.nodeName },
      ),
    });
    const p = await k8s.waitForPod(
      ns,
      'test=after-restart',
      (x) => x.status?.phase === 'Succeeded',
    );
    assert.equal(terminated(p)?.exitCode, 0);
    assert.ok(k8s.agent!.lists > listsBefore, 'the agent listed its pods again');
  });
});
