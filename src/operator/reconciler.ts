/**
 * The reconcile of one AgenticSession: level-triggered and idempotent, so it may run any number
 * of times, after any restart, and converge on the same objects. It reads the watched state
 * (the CR, its Jobs and pods from the caches), writes the desired objects with deterministic
 * names (a second create is a 409, never a second Job), and writes the CR's status only through
 * the status subresource.
 *
 *   no status            -> Pending, run 1
 *   desired-phase=Stopped -> delete the Job (and so its pod): Stopping, then Stopped when the
 *                           pod is gone
 *   terminal, desired-phase=Running -> the next run: Pending, run+1 (the annotation removed)
 *   not terminal          -> Secret, PVC, Job of the run exist: Creating; then the phase the
 *                           runner reports (through serve), or, when the pod ends first or
 *                           never starts, the verdict of the pod (phase.ts)
 */
import {
  BatchV1Api,
  CoreV1Api,
  CustomObjectsApi,
  PatchStrategy,
  setHeaderOptions,
  type KubeConfig,
  type V1Job,
  type V1Pod,
} from '@kubernetes/client-node';
import type { OperatorConfig } from '../config/operator-config.js';
import type { Logger } from '../observability/logger.js';
import {
  CR_TERMINAL,
  CRD_GROUP,
  CRD_PLURAL,
  CRD_VERSION,
  DESIRED_PHASE_ANNOTATION,
  DESIRED_RUN_ANNOTATION,
  JOB_FINISHED_CONDITION,
  RUN_LABEL,
  sessionResourceNames,
  type AgenticSession,
  type CrCondition,
  type CrStatus,
} from '../protocol/crd.js';
import { verdictFromPod } from './phase.js';
import {
  buildJob,
  buildTokenSecret,
  buildWorkspacePvc,
  newRunnerToken,
  workspaceOwner,
} from './resources.js';

export interface ReconcilerState {
  session(namespace: string, name: string): AgenticSession | undefined;
  jobs(namespace: string, session: string): V1Job[];
  pods(namespace: string, session: string): V1Pod[];
}

const MERGE = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
const code = (err: unknown) => (err as { code?: number }).code;

export class Reconciler {
  private readonly core: CoreV1Api;
  private readonly batch: BatchV1Api;
  private readonly custom: CustomObjectsApi;
  /** Session key -> when its failed pod was first seen without the Job's verdict. */
  private readonly waitingForJob = new Map<string, number>();

  constructor(
    kc: KubeConfig,
    private readonly config: OperatorConfig,
    private readonly state: ReconcilerState,
    private readonly logger: Logger,
  ) {
    this.core = kc.makeApiClient(CoreV1Api);
    this.batch = kc.makeApiClient(BatchV1Api);
    this.custom = kc.makeApiClient(CustomObjectsApi);
  }

  async reconcile(key: string): Promise<{ requeueAfterMs?: number } | void> {
    const [namespace, name] = key.split('/') as [string, string];
    const cr = this.state.session(namespace, name);
    // Gone or going: the garbage collector removes what it owned (owner references).
    if (!cr || cr.metadata.deletionTimestamp) return;
    const status = cr.status ?? {};
    const run = status.run ?? 1;
    const phase = status.phase;
    const desired = cr.metadata.annotations?.[DESIRED_PHASE_ANNOTATION];
    const names = sessionResourceNames(name, run, workspaceOwner(cr));
    const job = this.state.jobs(namespace, name).find((j) => j.metadata?.name === names.job);
    const pods = this.state
      .pods(namespace, name)
      .filter((p) => p.metadata?.labels?.[RUN_LABEL] === String(run));

    if (!phase) return this.writeStatus(cr, { phase: 'Pending', run }, 'Accepted');

    if (CR_TERMINAL.has(phase)) {
      if (desired === 'Running') return this.restart(cr, run);
      if (jobFinished(cr)) return;
      // The runner reported the end itself; its pod's end is recorded once it comes.
      if (!job && !pods.length) return this.finish(cr, {}, 'NoPod', 'no pod is left');
      const v = verdictFromPod(job, newest(pods), cr.spec.timeout);
      if (!v) return;
      if (this.awaitJobVerdict(key, job, newest(pods))) return { requeueAfterMs: 1000 };
      // A runner killed by the deadline (or the node) reports Stopped: nobody asked it to stop,
      // so the pod's cause is the truth.
      if (phase === 'Stopped' && desired !== 'Stopped' && v.phase === 'Failed')
        return this.finish(
          cr,
          {
            phase: 'Failed',
            reason: v.reason,
            message: v.message,
            ...(v.exitCode !== undefined ? { exitCode: v.exitCode } : {}),
          },
          v.reason,
          v.message,
        );
      return this.finish(
        cr,
        v.exitCode !== undefined ? { exitCode: v.exitCode } : {},
        v.reason,
        v.message,
      );
    }

    if (desired === 'Stopped') {
      if (job || pods.length) {
        // The reason first: the runner, told to stop, may report Stopped before we do.
        if (phase !== 'Stopping')
          await this.writeStatus(cr, {
            phase: 'Stopping',
            stoppedReason: status.stoppedReason ?? 'user',
            message: 'stopping the runner',
          });
        if (job) await this.deleteJob(namespace, names.job);
        return { requeueAfterMs: 2000 };
      }
      return this.finish(
        cr,
        {
          phase: 'Stopped',
          stoppedReason: status.stoppedReason ?? 'user',
          message: 'stopped',
          completionTime: new Date().toISOString(),
        },
        'Stopped',
        'stopped',
      );
    }

    if (!job && phase !== 'Pending' && !(await this.jobExists(namespace, names.job)))
      // Never a second Job for a run that had one: someone deleted it, and the run is over.
      return this.finish(
        cr,
        {
          phase: 'Failed',
          reason: 'JobDeleted',
          message: `JobDeleted: the Job ${names.job} was deleted before the run ended`,
          completionTime: new Date().toISOString(),
        },
        'JobDeleted',
        'the Job was deleted',
      );

    if (!job) {
      await this.ensureSecret(cr);
      await this.ensurePvc(cr, names.pvc);
      await this.createJob(cr, run);
      return this.writeStatus(
        cr,
        {
          phase: phase === 'Pending' ? 'Creating' : phase,
          jobName: names.job,
          startTime: status.startTime ?? new Date().toISOString(),
        },
        'JobCreated',
      );
    }

    const pod = newest(pods);
    const verdict = verdictFromPod(job, pod, cr.spec.timeout);
    if (verdict && this.awaitJobVerdict(key, job, pod)) return { requeueAfterMs: 1000 };
    if (verdict) {
      this.logger.info('run ended before the runner reported', {
        session: key,
        run,
        reason: verdict.reason,
      });
      return this.finish(
        cr,
        {
          phase: verdict.phase,
          reason: verdict.reason,
          message: verdict.message,
          ...(verdict.exitCode !== undefined ? { exitCode: verdict.exitCode } : {}),
          completionTime: new Date().toISOString(),
        },
        verdict.reason,
        verdict.message,
      );
    }
    if (phase === 'Pending') return this.writeStatus(cr, { phase: 'Creating' }, 'JobCreated');
  }

  private async restart(cr: AgenticSession, run: number): Promise<void> {
    const { namespace, name } = cr.metadata;
    const asked = Number(cr.metadata.annotations?.[DESIRED_RUN_ANNOTATION]);
    const next = Number.isInteger(asked) && asked > run ? asked : run + 1;
    // The previous run's Job goes (its pod with it); the workspace PVC stays.
    await this.deleteJob(namespace, sessionResourceNames(name, run).job);
    await this.writeStatus(
      cr,
      {
        phase: 'Pending',
        run: next,
        message: `run ${next} requested`,
        startTime: null,
        completionTime: null,
        reason: null,
        exitCode: null,
        stoppedReason: null,
        jobName: null,
        result: null,
      },
      'Restarted',
      {
        type: JOB_FINISHED_CONDITION,
        status: 'False',
        reason: 'Restarted',
        message: `run ${next}`,
      },
    );
    await this.custom.patchNamespacedCustomObject(
      {
        group: CRD_GROUP,
        version: CRD_VERSION,
        namespace,
        plural: CRD_PLURAL,
        name,
        body: {
          metadata: {
            annotations: { [DESIRED_PHASE_ANNOTATION]: null, [DESIRED_RUN_ANNOTATION]: null },
          },
        },
      },
      MERGE,
    );
  }

  /** serve writes the token before it creates the CR; a CR created with kubectl gets a new one. */
  private async ensureSecret(cr: AgenticSession): Promise<void> {
    const secret = buildTokenSecret(cr, newRunnerToken());
    try {
      const existing = await this.core.readNamespacedSecret({
        name: secret.metadata!.name!,
        namespace: cr.metadata.namespace,
      });
      if (!existing.metadata?.ownerReferences?.some((o) => o.uid === cr.metadata.uid))
        await this.core.patchNamespacedSecret(
          {
            name: secret.metadata!.name!,
            namespace: cr.metadata.namespace,
            body: { metadata: { ownerReferences: secret.metadata!.ownerReferences } },
          },
          MERGE,
        );
      return;
    } catch (err) {
      if (code(err) !== 404) throw err;
    }
    await this.createIgnoringConflict(() =>
      this.core.createNamespacedSecret({ namespace: cr.metadata.namespace, body: secret }),
    );
  }

  private async ensurePvc(cr: AgenticSession, pvcName: string): Promise<void> {
    try {
      await this.core.readNamespacedPersistentVolumeClaim({
        name: pvcName,
        namespace: cr.metadata.namespace,
      });
      return;
    } catch (err) {
      if (code(err) !== 404) throw err;
    }
    // A continuation whose parent's PVC is gone gets a fresh one under the same name.
    const pvc = buildWorkspacePvc(cr, this.config);
    pvc.metadata!.name = pvcName;
    await this.createIgnoringConflict(() =>
      this.core.createNamespacedPersistentVolumeClaim({
        namespace: cr.metadata.namespace,
        body: pvc,
      }),
    );
  }

  private async createJob(cr: AgenticSession, run: number): Promise<void> {
    const job = buildJob(cr, run, this.config);
    const created = await this.createIgnoringConflict(() =>
      this.batch.createNamespacedJob({ namespace: cr.metadata.namespace, body: job }),
    );
    if (created)
      this.logger.info('created the Job', {
        session: `${cr.metadata.namespace}/${cr.metadata.name}`,
        job: job.metadata?.name,
      });
  }

  private async deleteJob(namespace: string, name: string): Promise<void> {
    try {
      await this.batch.deleteNamespacedJob({
        name,
        namespace,
        propagationPolicy: 'Background',
        gracePeriodSeconds: 10,
      });
    } catch (err) {
      if (code(err) !== 404) throw err;
    }
  }

  /**
   * A pod that failed is followed by the Job's own verdict (backoffLimit 0), which may name a
   * cause the pod cannot (the deadline killed it): wait for it, 15 s at most.
   */
  private awaitJobVerdict(key: string, job: V1Job | undefined, pod: V1Pod | undefined): boolean {
    const term = pod?.status?.containerStatuses?.[0]?.state?.terminated;
    const settled = job?.status?.conditions?.some(
      (k) =>
        ['Failed', 'FailureTarget', 'Complete', 'SuccessCriteriaMet'].includes(k.type) &&
        k.status === 'True',
    );
    if (!job || settled || !term || term.exitCode === 0 || term.reason === 'OOMKilled') {
      this.waitingForJob.delete(key);
      return false;
    }
    const since = this.waitingForJob.get(key) ?? Date.now();
    this.waitingForJob.set(key, since);
    if (Date.now() - since < 15_000) return true;
    this.waitingForJob.delete(key);
    return false;
  }

  /** The watch cache can lag behind a Job created a moment ago: ask the API server. */
  private async jobExists(namespace: string, name: string): Promise<boolean> {
    try {
      await this.batch.readNamespacedJob({ name, namespace });
      return true;
    } catch (err) {
      if (code(err) === 404) return false;
      throw err;
    }
  }

  /** True when created; false when it existed already (an earlier reconcile made it). */
  private async createIgnoringConflict(create: () => Promise<unknown>): Promise<boolean> {
    try {
      await create();
      return true;
    } catch (err) {
      if (code(err) === 409) return false;
      throw err;
    }
  }

  /** The run's pod is gone: the status (if any change) and the JobFinished condition. */
  private finish(
    cr: AgenticSession,
    patch: StatusPatch,
    reason: string,
    message: string,
  ): Promise<void> {
    return this.writeStatus(cr, patch, reason, {
      type: JOB_FINISHED_CONDITION,
      status: 'True',
      reason,
      message,
    });
  }

  private async writeStatus(
    cr: AgenticSession,
    patch: StatusPatch,
    conditionReason?: string,
    extra?: Omit<CrCondition, 'lastTransitionTime'>,
  ): Promise<void> {
    const body: Record<string, unknown> = {
      ...patch,
      observedGeneration: cr.metadata.generation ?? 1,
    };
    const before = cr.status?.conditions ?? [];
    let conditions = before;
    if (patch.phase && conditionReason)
      conditions = withCondition(conditions, {
        type: 'Ready',
        status:
          patch.phase === 'Completed' ? 'True' : CR_TERMINAL.has(patch.phase) ? 'False' : 'Unknown',
        reason: conditionReason,
        message: (patch.message as string | undefined) ?? patch.phase,
      });
    if (extra) conditions = withCondition(conditions, extra);
    if (conditions !== before) body.conditions = conditions;
    await this.custom.patchNamespacedCustomObjectStatus(
      {
        group: CRD_GROUP,
        version: CRD_VERSION,
        namespace: cr.metadata.namespace,
        plural: CRD_PLURAL,
        name: cr.metadata.name,
        body: { status: body },
      },
      MERGE,
    );
  }
}

type StatusPatch = { [K in keyof CrStatus]?: CrStatus[K] | null };

function jobFinished(cr: AgenticSession): boolean {
  return !!cr.status?.conditions?.some(
    (c) => c.type === JOB_FINISHED_CONDITION && c.status === 'True',
  );
}

function newest(pods: V1Pod[]): V1Pod | undefined {
  const at = (p: V1Pod) => new Date(p.metadata?.creationTimestamp ?? 0).getTime();
  return [...pods].sort((a, b) => at(b) - at(a))[0];
}

function withCondition(list: CrCondition[], c: Omit<CrCondition, 'lastTransitionTime'>) {
  const old = list.find((x) => x.type === c.type);
  const changed = !old || old.status !== c.status || old.reason !== c.reason;
  const next: CrCondition = {
    ...c,
    lastTransitionTime: changed
      ? new Date().toISOString()
      : (old.lastTransitionTime ?? new Date().toISOString()),
  };
  return [...list.filter((x) => x.type !== c.type), next];
}
