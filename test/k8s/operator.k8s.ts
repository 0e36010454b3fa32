/**
 * The Kubernetes mode end to end, on a real API server, controller-manager and scheduler with the
 * node agent running pods as local processes (./harness.js): `serve --executor kubernetes`, the
 * operator, the real runner in a Job's pod driving the real CLI against the scripted model.
 *
 *  - the seed's flow: the CR appears, a Job and a pod, phases in order, history streamed,
 *    Completed with the result in the CR's status, delete -> CR, Job, Secret and PVC gone;
 *  - stop -> Stopped, the pod gone;
 *  - failures with their cause in the CR's status alone: the model Secret missing, a key
 *    missing, the deadline exceeded.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { CRD_GROUP, CRD_PLURAL, CRD_VERSION, SESSION_LABEL } from '../../src/protocol/crd.js';
import { startLangfuseStandin } from '../../src/testing/langfuse-standin/index.js';
import { createSession, getSession, type SessionJson } from '../../src/testing/session-api.js';
import { history, phasesOf } from '../control-plane/helpers.js';
import {
  createCr,
  getCr,
  MODEL_SECRET,
  PROJECT,
  startCluster,
  waitFor,
  waitForCr,
  type Cluster,
} from './operator-helpers.js';

let c: Cluster;

before(async () => {
  c = await startCluster();
});
after(async () => {
  await c?.close();
});

const terminal = (s: SessionJson) => ['Completed', 'Failed', 'Stopped'].includes(s.status.phase);

describe('serve --executor kubernetes with the operator', () => {
  it("runs the seed's flow in a Job and cleans up on delete", async () => {
    const created = await createSession(c.serve, { prompt: 'Say hello from the cluster.' });
    const name = created.metadata.name;
    const cr = await waitForCr(c.k8s, name, 'exists', () => true, 30_000);
    assert.equal(cr.spec.initialPrompt, 'Say hello from the cluster.');
    const final = await waitFor(
      `${name} to end`,
      async () => {
        const s = await getSession(c.serve, name);
        return terminal(s) ? s : undefined;
      },
      180_000,
    ).catch((e: unknown) => {
      throw new Error(`${(e as Error).message}\noperator:\n${c.operator.output().slice(-4000)}`);
    });
    assert.equal(final.status.phase, 'Completed', final.status.message);
    const done = await waitForCr(
      c.k8s,
      name,
      'Completed with its pod gone',
      (x) => !!x.status?.conditions?.some((k) => k.type === 'JobFinished' && k.status === 'True'),
    );
    assert.equal(done.status?.phase, 'Completed');
    assert.equal(done.status?.run, 1);
    assert.ok((done.status?.result?.numTurns ?? 0) >= 1, JSON.stringify(done.status));
    assert.equal(done.status?.jobName, `${name}-run-1`);
    const jobs = await c.k8s.batch.listNamespacedJob({
      namespace: PROJECT,
      labelSelector: `${SESSION_LABEL}=${name}`,
    });
    assert.deepEqual(
      jobs.items.map((j) => j.metadata?.name),
      [`${name}-run-1`],
    );
    const job = jobs.items[0]!;
    assert.equal(job.spec?.backoffLimit, 0);
    const podSpec = job.spec!.template.spec!;
    assert.equal(podSpec.automountServiceAccountToken, false);
    assert.equal(podSpec.containers[0]!.securityContext?.allowPrivilegeEscalation, false);
    // Credentials by reference only, never by value in the Job.
    assert.ok(!JSON.stringify(job).includes('sk-ant-'));
    const entries = await history(c.serve, name);
    const phases = phasesOf(entries);
    assert.deepEqual(
      phases.filter((p) => ['Pending', 'Creating', 'Running', 'Completed'].includes(p)),
      ['Pending', 'Creating', 'Running', 'Completed'],
    );
    assert.ok(entries.some((e) => e.type === 'agent.message'));

    const del = await c.serve.api('DELETE', `/projects/${PROJECT}/agentic-sessions/${name}`);
    assert.ok(del.status < 300, del.text);
    await waitFor(
      `${name}: CR, Job, Secret and PVC gone`,
      async () => {
        const [crGone, jobsLeft, secret, pvc] = await Promise.all([
          getCr(c.k8s, name).then((x) => !x),
          c.k8s.batch
            .listNamespacedJob({ namespace: PROJECT, labelSelector: `${SESSION_LABEL}=${name}` })
            .then((l) => l.items.length),
          c.k8s.core
            .readNamespacedSecret({ name: `${name}-runner-token`, namespace: PROJECT })
            .then(
              () => true,
              () => false,
            ),
          c.k8s.core
            .readNamespacedPersistentVolumeClaim({ name: `${name}-workspace`, namespace: PROJECT })
            .then(
              () => true,
              () => false,
            ),
        ]);
        return crGone && jobsLeft === 0 && !secret && !pvc ? true : undefined;
      },
      120_000,
    );
  });

  it('runs an interactive session driven by messages, ended by the user', async () => {
    const created = await createSession(c.serve, { prompt: '', interactive: true });
    const name = created.metadata.name;
    const messages = `/projects/${PROJECT}/sessions/${name}/messages`;
    const waits = async () =>
      (await history(c.serve, name)).filter((e) => e.type === 'agent.waiting').length;
    await waitFor(
      `${name} waiting`,
      async () => ((await waits()) >= 1 ? true : undefined),
      180_000,
    );
    const sent = await c.serve.api('POST', messages, {
      content: 'first question [[scenario:cp-chat]]',
    });
    assert.equal(sent.status, 202, sent.text);
    await waitFor(
      `${name} answered`,
      async () => ((await waits()) >= 2 ? true : undefined),
      120_000,
    );
    const end = await c.serve.api('POST', messages, { type: 'end_session' });
    assert.equal(end.status, 202, end.text);
    const done = await waitForCr(
      c.k8s,
      name,
      'Completed',
      (x) => !!x.status?.conditions?.some((k) => k.type === 'JobFinished' && k.status === 'True'),
    );
    assert.equal(done.status?.phase, 'Completed', JSON.stringify(done.status));
    const text = JSON.stringify(await history(c.serve, name));
    assert.match(text, /First answer\./);
  });

  it("continues a session in its parent's workspace PVC", async () => {
    const first = await createSession(c.serve, { prompt: '[[scenario:k8s-note]] write a note' });
    const parent = first.metadata.name;
    await waitForCr(c.k8s, parent, 'Completed', (x) => x.status?.phase === 'Completed', 180_000);
    const second = await createSession(c.serve, {
      prompt: 'read the note',
      parent_session_id: parent,
    });
    const child = second.metadata.name;
    const cr = await waitForCr(
      c.k8s,
      child,
      'Completed',
      (x) => x.status?.phase === 'Completed',
      180_000,
    );
    assert.equal(cr.spec.parentSessionId, parent);
    const job = await c.k8s.batch.readNamespacedJob({ name: `${child}-run-1`, namespace: PROJECT });
    assert.equal(
      job.spec?.template.spec?.volumes?.[0]?.persistentVolumeClaim?.claimName,
      `${parent}-workspace`,
    );
    assert.match(JSON.stringify(await history(c.serve, child)), /cluster-memory-42/);
  });

  it('stops a running session: Stopped, its pod gone', async () => {
    const created = await createSession(c.serve, { prompt: '[[scenario:cp-stuck]] wait' });
    const name = created.metadata.name;
    await waitFor(
      `${name} Running`,
      async () => ((await getSession(c.serve, name)).status.phase === 'Running' ? true : undefined),
      180_000,
    );
    const stop = await c.serve.api('POST', `/projects/${PROJECT}/agentic-sessions/${name}/stop`);
    assert.ok(stop.status < 300, stop.text);
    const cr = await waitForCr(c.k8s, name, 'Stopped', (x) => x.status?.phase === 'Stopped');
    assert.equal(cr.status?.stoppedReason, 'user');
    const s = await waitFor(`${name} Stopped in serve`, async () => {
      const x = await getSession(c.serve, name);
      return terminal(x) ? x : undefined;
    });
    assert.equal(s.status.phase, 'Stopped');
    const pods = await c.k8s.core.listNamespacedPod({
      namespace: PROJECT,
      labelSelector: `${SESSION_LABEL}=${name}`,
    });
    assert.equal(pods.items.length, 0);
  });

  it('fails with DeadlineExceeded when the run outlasts its timeout', async () => {
    const created = await createSession(c.serve, {
      prompt: '[[scenario:cp-stuck]] wait',
      timeout: 20,
    });
    const name = created.metadata.name;
    const cr = await waitForCr(c.k8s, name, 'Failed', (x) => x.status?.phase === 'Failed', 180_000);
    const pods = await c.k8s.core.listNamespacedPod({
      namespace: PROJECT,
      labelSelector: `${SESSION_LABEL}=${name}`,
    });
    const job = await c.k8s.batch.readNamespacedJob({ name: `${name}-run-1`, namespace: PROJECT });
    assert.equal(
      cr.status?.reason,
      'DeadlineExceeded',
      `${JSON.stringify(cr.status)}\njob: ${JSON.stringify(job.status)}\npods: ${JSON.stringify(pods.items.map((p) => p.status))}\nserve: ${c.serve.output().stderr.slice(-3000)}\noperator: ${c.operator.output().slice(-3000)}`,
    );
    assert.match(cr.status?.message ?? '', /timeout of 20s/);
  });
});

describe('the operator alone: causes in the CR status', () => {
  const other = async (ns: string, secret?: Record<string, string>) => {
    await c.k8s.core.createNamespace({ body: { metadata: { name: ns } } });
    await waitFor(`ServiceAccount ${ns}/default`, () =>
      c.k8s.core.readNamespacedServiceAccount({ name: 'default', namespace: ns }),
    );
    await c.k8s.core.createNamespacedServiceAccount({
      namespace: ns,
      body: { metadata: { name: 'claude-code-runner-session' } },
    });
    if (secret)
      await c.k8s.core.createNamespacedSecret({
        namespace: ns,
        body: { metadata: { name: MODEL_SECRET }, stringData: secret },
      });
  };

  it('names a missing model Secret', async () => {
    await other('no-secret');
    await createCr(c.k8s, 's1', { initialPrompt: 'hi' }, 'no-secret');
    const cr = await waitForCr(
      c.k8s,
      's1',
      'Failed',
      (x) => x.status?.phase === 'Failed',
      120_000,
      'no-secret',
    );
    assert.equal(cr.status?.reason, 'SecretNotFound');
    assert.match(cr.status?.message ?? '', /ambient-non-vertex-integrations/);
    // The operator made the runner token Secret itself (no serve created this CR).
    const token = await c.k8s.core.readNamespacedSecret({
      name: 's1-runner-token',
      namespace: 'no-secret',
    });
    assert.equal(token.metadata?.ownerReferences?.[0]?.kind, 'AgenticSession');
  });

  it('names a missing key', async () => {
    await other('no-key', { SOMETHING_ELSE: 'x' });
    await createCr(c.k8s, 's1', { initialPrompt: 'hi' }, 'no-key');
    const cr = await waitForCr(
      c.k8s,
      's1',
      'Failed',
      (x) => x.status?.phase === 'Failed',
      120_000,
      'no-key',
    );
    assert.equal(cr.status?.reason, 'SecretKeyNotFound');
    assert.match(cr.status?.message ?? '', /ANTHROPIC_API_KEY/);
  });

  it('keeps the printer columns on the CRD', async () => {
    const crd = await c.k8s.apiext.readCustomResourceDefinition({
      name: `${CRD_PLURAL}.${CRD_GROUP}`,
    });
    const v = crd.spec.versions.find((x) => x.name === CRD_VERSION)!;
    assert.ok(v.subresources?.status);
    assert.deepEqual(v.additionalPrinterColumns?.map((p) => p.name).slice(0, 3), [
      'Phase',
      'Reason',
      'Run',
    ]);
  });
});

describe("the seed's Langfuse end-to-end test against the Kubernetes mode", () => {
  it('passes with the Langfuse stand-in, configured per project by ConfigMap and Secret', async () => {
    const standin = await startLangfuseStandin();
    try {
      await c.k8s.core.createNamespacedConfigMap({
        namespace: PROJECT,
        body: {
          metadata: { name: 'ambient-langfuse-config' },
          data: { LANGFUSE_ENABLED: 'true', LANGFUSE_HOST: standin.url },
        },
      });
      await c.k8s.core.createNamespacedSecret({
        namespace: PROJECT,
        body: {
          metadata: { name: 'ambient-langfuse-keys' },
          stringData: {
            LANGFUSE_PUBLIC_KEY: standin.publicKey,
            LANGFUSE_SECRET_KEY: standin.secretKey,
          },
        },
      });
      // What ./run-langfuse-test.sh runs once the build is current.
      const program = fileURLToPath(new URL('../../src/e2e/langfuse/main.js', import.meta.url));
      const child = spawn(process.execPath, [program], {
        env: {
          PATH: process.env.PATH,
          BACKEND_URL: c.serve.url,
          CLAUDE_RUNNER_API_TOKEN: c.serve.token,
          PROJECT,
          LANGFUSE_HOST: standin.url,
          LANGFUSE_PUBLIC_KEY: standin.publicKey,
          LANGFUSE_SECRET_KEY: standin.secretKey,
          E2E_SESSION_TIMEOUT: '240',
          E2E_POLL_INTERVAL: '1',
          E2E_LANGFUSE_WAIT: '1',
          E2E_VERIFY_TIMEOUT: '30',
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      child.stdout.on('data', (b: Buffer) => (out += b.toString()));
      child.stderr.on('data', (b: Buffer) => (out += b.toString()));
      const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
      assert.equal(code, 0, out.slice(-4000));
      // Its keys reached the runner only by reference: never in a Job.
      const jobs = await c.k8s.batch.listNamespacedJob({ namespace: PROJECT });
      assert.ok(!JSON.stringify(jobs.items).includes(standin.secretKey));
    } finally {
      await standin.close();
    }
  });
});
