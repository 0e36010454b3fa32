/**
 * What a run's Job and pod say about it, for when the runner could not say it itself (it never
 * started, or died without reporting): the phase and the real cause, in words a user of
 * `kubectl get agenticsession` can act on. Pure, so every case is unit-tested.
 */
import type { V1ContainerStatus, V1Job, V1Pod } from '@kubernetes/client-node';
import type { CrPhase } from '../protocol/crd.js';
import { RUNNER_CONTAINER } from './resources.js';

export interface PodVerdict {
  phase: CrPhase;
  reason: string;
  message: string;
  exitCode?: number;
}

/** Waiting reasons that will not resolve by themselves within a run. */
const FATAL_WAITING = new Set([
  'CreateContainerConfigError',
  'CreateContainerError',
  'ErrImagePull',
  'ImagePullBackOff',
  'InvalidImageName',
  'ErrImageNeverPull',
  'RunContainerError',
]);

function runnerStatus(pod: V1Pod | undefined): V1ContainerStatus | undefined {
  const all = pod?.status?.containerStatuses ?? [];
  return all.find((c) => c.name === RUNNER_CONTAINER) ?? all[0];
}

/** `secret "x" not found` / `couldn't find key K in Secret ns/x`: a precise reason. */
function configReason(message: string): string {
  if (/couldn't find key/i.test(message)) return 'SecretKeyNotFound';
  if (/secret .* not found/i.test(message)) return 'SecretNotFound';
  if (/configmap .* not found/i.test(message)) return 'ConfigMapNotFound';
  return 'CreateContainerConfigError';
}

/**
 * The verdict of the Job and its pod, or undefined while they say nothing final (still
 * scheduling, pulling, running).
 */
export function verdictFromPod(
  job: V1Job | undefined,
  pod: V1Pod | undefined,
  timeoutSeconds?: number,
): PodVerdict | undefined {
  // FailureTarget comes first (the controller then ends the pods), Failed once they are gone.
  const failed = job?.status?.conditions?.find(
    (k) => (k.type === 'Failed' || k.type === 'FailureTarget') && k.status === 'True',
  );
  // The deadline kills the container too: name the deadline, not the kill's exit code.
  if (failed?.reason === 'DeadlineExceeded')
    return {
      phase: 'Failed',
      reason: 'DeadlineExceeded',
      message: `DeadlineExceeded: the run took longer than its timeout${timeoutSeconds ? ` of ${timeoutSeconds}s` : ''}`,
    };
  const c = runnerStatus(pod);
  const waiting = c?.state?.waiting;
  if (waiting?.reason && FATAL_WAITING.has(waiting.reason)) {
    const message = waiting.message ?? waiting.reason;
    const reason =
      waiting.reason === 'CreateContainerConfigError' ? configReason(message) : waiting.reason;
    const hint = reason.startsWith('Secret')
      ? ' (create it in the project namespace: see docs/kubernetes.md, "Secrets")'
      : '';
    return { phase: 'Failed', reason, message: `${reason}: ${message}${hint}` };
  }
  const term = c?.state?.terminated ?? c?.lastState?.terminated;
  if (term) {
    if (term.exitCode === 0 && term.reason !== 'OOMKilled')
      return { phase: 'Completed', reason: 'Completed', message: 'runner exited 0', exitCode: 0 };
    const reason = term.reason && term.reason !== 'Error' ? term.reason : 'Error';
    const text = term.message?.trim() ? `: ${term.message.trim().slice(-500)}` : '';
    const message =
      reason === 'OOMKilled'
        ? `OOMKilled: the runner exceeded its memory limit (exit code ${term.exitCode})${text}`
        : `runner exited with code ${term.exitCode} (${reason})${text}`;
    return { phase: 'Failed', reason, message, exitCode: term.exitCode };
  }
  if (failed) {
    const reason = failed.reason ?? 'JobFailed';
    return { phase: 'Failed', reason, message: `${reason}: ${failed.message ?? 'the Job failed'}` };
  }
  if (pod?.status?.phase === 'Failed')
    return {
      phase: 'Failed',
      reason: pod.status.reason ?? 'PodFailed',
      message: `${pod.status.reason ?? 'PodFailed'}: ${pod.status.message ?? 'the pod failed'}`,
    };
  if (pod?.status?.phase === 'Succeeded')
    return { phase: 'Completed', reason: 'Completed', message: 'runner exited 0', exitCode: 0 };
  const complete = job?.status?.conditions?.find(
    (k) => k.type === 'Complete' && k.status === 'True',
  );
  if (complete) return { phase: 'Completed', reason: 'Completed', message: 'the Job completed' };
  return undefined;
}
