import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { V1ContainerState, V1Job, V1Pod } from '@kubernetes/client-node';
import { verdictFromPod } from '../../src/operator/phase.js';

const pod = (state: V1ContainerState, phase = 'Pending'): V1Pod => ({
  status: {
    phase,
    containerStatuses: [
      { name: 'runner', image: 'i', imageID: '', ready: false, restartCount: 0, state },
    ],
  },
});
const failedJob = (reason: string, message = ''): V1Job => ({
  status: { conditions: [{ type: 'Failed', status: 'True', reason, message }] },
});

describe('the phase from the pod when the runner could not report', () => {
  it('says nothing while the pod is starting or running', () => {
    assert.equal(verdictFromPod(undefined, undefined), undefined);
    assert.equal(verdictFromPod({}, pod({ waiting: { reason: 'ContainerCreating' } })), undefined);
    assert.equal(verdictFromPod({}, pod({ running: {} }, 'Running')), undefined);
  });

  it('names a missing Secret', () => {
    const v = verdictFromPod(
      {},
      pod({
        waiting: {
          reason: 'CreateContainerConfigError',
          message: 'secret "ambient-non-vertex-integrations" not found',
        },
      }),
    );
    assert.equal(v?.phase, 'Failed');
    assert.equal(v?.reason, 'SecretNotFound');
    assert.match(v!.message, /ambient-non-vertex-integrations/);
  });

  it('names a missing key', () => {
    const v = verdictFromPod(
      {},
      pod({
        waiting: {
          reason: 'CreateContainerConfigError',
          message:
            "couldn't find key ANTHROPIC_API_KEY in Secret proj/ambient-non-vertex-integrations",
        },
      }),
    );
    assert.equal(v?.reason, 'SecretKeyNotFound');
    assert.match(v!.message, /ANTHROPIC_API_KEY/);
  });

  it('names an image that cannot be pulled', () => {
    const v = verdictFromPod(
      {},
      pod({ waiting: { reason: 'ImagePullBackOff', message: 'nope:1' } }),
    );
    assert.equal(v?.phase, 'Failed');
    assert.equal(v?.reason, 'ImagePullBackOff');
  });

  it('exit 0 is Completed; a non-zero exit is Failed with its code and message', () => {
    assert.equal(
      verdictFromPod({}, pod({ terminated: { exitCode: 0, reason: 'Completed' } }, 'Succeeded'))
        ?.phase,
      'Completed',
    );
    const v = verdictFromPod(
      {},
      pod({ terminated: { exitCode: 3, reason: 'Error', message: 'bad REPOS_JSON' } }, 'Failed'),
    );
    assert.deepEqual(v, {
      phase: 'Failed',
      reason: 'Error',
      message: 'runner exited with code 3 (Error): bad REPOS_JSON',
      exitCode: 3,
    });
  });

  it('names OOMKilled', () => {
    const v = verdictFromPod(
      {},
      pod({ terminated: { exitCode: 137, reason: 'OOMKilled' } }, 'Failed'),
    );
    assert.equal(v?.reason, 'OOMKilled');
    assert.match(v!.message, /memory limit/);
  });

  it('names the deadline before the kill it caused', () => {
    const v = verdictFromPod(
      failedJob('DeadlineExceeded', 'Job was active longer than specified deadline'),
      pod({ terminated: { exitCode: 137, reason: 'Error' } }, 'Failed'),
      30,
    );
    assert.equal(v?.reason, 'DeadlineExceeded');
    assert.match(v!.message, /timeout of 30s/);
  });

  it('names the deadline from the FailureTarget condition that comes first', () => {
    const job: V1Job = {
      status: {
        conditions: [{ type: 'FailureTarget', status: 'True', reason: 'DeadlineExceeded' }],
      },
    };
    assert.equal(verdictFromPod(job, undefined)?.reason, 'DeadlineExceeded');
  });

  it('reports a failed Job without a pod', () => {
    const v = verdictFromPod(
      failedJob('BackoffLimitExceeded', 'Job has reached the specified backoff limit'),
      undefined,
    );
    assert.equal(v?.phase, 'Failed');
    assert.equal(v?.reason, 'BackoffLimitExceeded');
  });
});
