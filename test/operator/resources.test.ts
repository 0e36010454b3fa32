import assert from 'node:assert/strict';
import fs from 'node:fs';
import { describe, it } from 'node:test';
import { loadYaml } from '@kubernetes/client-node';
import { loadOperatorConfig } from '../../src/config/operator-config.js';
import { buildJob, buildTokenSecret, buildWorkspacePvc } from '../../src/operator/resources.js';
import {
  CrSpec,
  CrStatus,
  crSpecFromCreateRequest,
  crStatusFromReport,
  type AgenticSession,
} from '../../src/protocol/crd.js';

const config = loadOperatorConfig({
  OPERATOR_IMAGE: 'claude-code-runner:9.9.9',
  OPERATOR_BACKEND_API_URL: 'http://serve.ambient-code.svc:8080/api',
});

function cr(spec: CrSpec = { initialPrompt: 'hello' }): AgenticSession {
  return {
    apiVersion: 'vteam.ambient-code/v1alpha1',
    kind: 'AgenticSession',
    metadata: { name: 's1', namespace: 'proj', uid: 'uid-1' },
    spec,
  };
}

describe('the CR spec from the API create body', () => {
  it('names fields as the original platform does', () => {
    const spec = crSpecFromCreateRequest({
      prompt: 'fix it',
      displayName: 'Fix',
      interactive: true,
      llmSettings: { model: 'claude-sonnet-4-5', temperature: 0.5, maxTokens: 1000 },
      timeout: 600,
      repos: [{ input: { url: 'https://example.com/a.git', branch: 'dev' } }],
      autoPushOnComplete: true,
      parent_session_id: 'parent',
      environmentVariables: { FOO: 'bar' },
      userContext: { userId: 'u1', displayName: 'U' },
      activeWorkflow: { gitUrl: 'https://example.com/w.git' },
    });
    assert.deepEqual(spec, {
      initialPrompt: 'fix it',
      displayName: 'Fix',
      interactive: true,
      llmSettings: { model: 'claude-sonnet-4-5', temperature: 0.5, maxTokens: 1000 },
      timeout: 600,
      environmentVariables: { FOO: 'bar' },
      userContext: { userId: 'u1', displayName: 'U' },
      activeWorkflow: { gitUrl: 'https://example.com/w.git' },
      parentSessionId: 'parent',
      repos: [{ url: 'https://example.com/a.git', branch: 'dev', autoPush: true }],
    });
    assert.equal(CrSpec.safeParse(spec).success, true);
  });

  it('maps a runner status report to the CR status, Error as Failed', () => {
    const s = crStatusFromReport({
      phase: 'Error',
      message: 'boom',
      num_turns: 2,
      total_cost_usd: 0.01,
      session_id: 'sdk-1',
      usage: { input_tokens: 3 },
    });
    assert.equal(s.phase, 'Failed');
    assert.equal(s.sdkSessionId, 'sdk-1');
    assert.deepEqual(s.result, { numTurns: 2, totalCostUsd: 0.01, usage: { input_tokens: 3 } });
    assert.equal(CrStatus.safeParse(s).success, true);
  });
});

describe('deploy/crd.yaml', () => {
  const doc = loadYaml<{
    spec: {
      versions: {
        schema: { openAPIV3Schema: { properties: Record<string, { properties: object }> } };
      }[];
    };
  }>(fs.readFileSync(new URL('../../../deploy/crd.yaml', import.meta.url), 'utf8'));
  const props = doc.spec.versions[0]!.schema.openAPIV3Schema.properties;
  it('has the same spec and status fields as the zod schemas', () => {
    assert.deepEqual(Object.keys(props.spec!.properties).sort(), Object.keys(CrSpec.shape).sort());
    assert.deepEqual(
      Object.keys(props.status!.properties).sort(),
      Object.keys(CrStatus.shape).sort(),
    );
  });
});

describe('the runner Job', () => {
  it('runs once, bounded by the timeout, as non-root without privileges or API token', () => {
    const job = buildJob(cr({ initialPrompt: 'hi', timeout: 120 }), 2, config);
    assert.equal(job.metadata?.name, 's1-run-2');
    assert.equal(job.spec?.backoffLimit, 0);
    assert.equal(job.spec?.activeDeadlineSeconds, 120);
    assert.equal(job.metadata?.ownerReferences?.[0]?.uid, 'uid-1');
    const pod = job.spec!.template.spec!;
    assert.equal(pod.automountServiceAccountToken, false);
    assert.equal(pod.restartPolicy, 'Never');
    assert.equal(pod.serviceAccountName, 'claude-code-runner-session');
    const c = pod.containers[0]!;
    assert.equal(c.image, 'claude-code-runner:9.9.9');
    assert.deepEqual(c.args, ['run']);
    assert.equal(c.securityContext?.allowPrivilegeEscalation, false);
    assert.equal(c.securityContext?.runAsNonRoot, true);
    assert.deepEqual(c.securityContext?.capabilities?.drop, ['ALL']);
    assert.deepEqual(c.resources?.limits, { cpu: '2', memory: '4Gi' });
    assert.equal(pod.volumes?.[0]?.persistentVolumeClaim?.claimName, 's1-workspace');
  });

  it('has no timeout bound when the session has none', () => {
    assert.equal(buildJob(cr(), 1, config).spec?.activeDeadlineSeconds, undefined);
  });

  it('gives the contract environment, credentials only by reference', () => {
    const job = buildJob(
      cr({
        initialPrompt: 'hi',
        interactive: true,
        llmSettings: { model: 'm' },
        repos: [{ url: 'https://example.com/a.git', branch: 'b', autoPush: true }],
        environmentVariables: { FOO: 'bar', BOT_TOKEN: 'forged', ANTHROPIC_API_KEY: 'x' },
      }),
      1,
      config,
    );
    const env = job.spec!.template.spec!.containers[0]!.env!;
    const value = (k: string) => env.find((e) => e.name === k);
    assert.equal(value('SESSION_ID')?.value, 's1');
    assert.equal(value('PROJECT_NAME')?.value, 'proj');
    assert.equal(value('PROMPT')?.value, 'hi');
    assert.equal(value('INTERACTIVE')?.value, 'true');
    assert.equal(value('LLM_MODEL')?.value, 'm');
    assert.equal(value('AUTO_PUSH_ON_COMPLETE')?.value, 'true');
    assert.deepEqual(JSON.parse(value('REPOS_JSON')!.value!), [
      { input: { url: 'https://example.com/a.git', branch: 'b' } },
    ]);
    assert.equal(
      value('WEBSOCKET_URL')?.value,
      'ws://serve.ambient-code.svc:8080/api/projects/proj/sessions/s1/ws',
    );
    assert.equal(value('FOO')?.value, 'bar');
    assert.deepEqual(value('BOT_TOKEN')?.valueFrom?.secretKeyRef, {
      name: 's1-runner-token',
      key: 'BOT_TOKEN',
      optional: false,
    });
    assert.deepEqual(value('ANTHROPIC_API_KEY')?.valueFrom?.secretKeyRef, {
      name: 'ambient-non-vertex-integrations',
      key: 'ANTHROPIC_API_KEY',
      optional: false,
    });
    assert.equal(
      value('LANGFUSE_HOST')?.valueFrom?.configMapKeyRef?.name,
      'ambient-langfuse-config',
    );
    // Each name once: a session cannot shadow the platform's variables.
    assert.equal(new Set(env.map((e) => e.name)).size, env.length);
    assert.ok(!JSON.stringify(job).includes('forged'));
  });

  it('mounts Vertex credentials as a file when Vertex is on', () => {
    const vertex = loadOperatorConfig({
      OPERATOR_VERTEX_ENABLED: 'true',
      OPERATOR_VERTEX_PROJECT_ID: 'gcp-proj',
    });
    const pod = buildJob(cr(), 1, vertex).spec!.template.spec!;
    const env = pod.containers[0]!.env!;
    assert.ok(!env.some((e) => e.name === 'ANTHROPIC_API_KEY'));
    assert.equal(
      env.find((e) => e.name === 'GOOGLE_APPLICATION_CREDENTIALS')?.value,
      '/var/run/secrets/vertex/ambient-code-key.json',
    );
    assert.equal(
      pod.volumes?.find((v) => v.name === 'vertex')?.secret?.secretName,
      'ambient-vertex',
    );
  });

  it("runs a continuation in its parent's workspace PVC", () => {
    const job = buildJob(cr({ initialPrompt: 'more', parentSessionId: 'p0' }), 1, config);
    assert.equal(
      job.spec!.template.spec!.volumes?.[0]?.persistentVolumeClaim?.claimName,
      'p0-workspace',
    );
    assert.equal(
      job.spec!.template.spec!.containers[0]!.env!.find((e) => e.name === 'PARENT_SESSION_ID')
        ?.value,
      'p0',
    );
  });

  it('owns the token Secret and the workspace PVC', () => {
    const secret = buildTokenSecret(cr(), 'tok');
    assert.equal(secret.metadata?.name, 's1-runner-token');
    assert.equal(secret.metadata?.ownerReferences?.[0]?.kind, 'AgenticSession');
    const pvc = buildWorkspacePvc(cr(), config);
    assert.equal(pvc.metadata?.name, 's1-workspace');
    assert.equal(pvc.spec?.resources?.requests?.storage, '5Gi');
  });
});

describe('the operator configuration', () => {
  it('names the variable and the fix', () => {
    assert.throws(
      () => loadOperatorConfig({ OPERATOR_MEMORY_LIMIT: 'lots' }),
      /OPERATOR_MEMORY_LIMIT: must be a Kubernetes quantity/,
    );
    assert.throws(
      () => loadOperatorConfig({ OPERATOR_VERTEX_ENABLED: 'true' }),
      /OPERATOR_VERTEX_PROJECT_ID is required/,
    );
  });
});
