/**
 * `serve --executor kubernetes`: a run is an AgenticSession in the project's namespace, which the
 * operator (src/operator/) turns into a Job; the runner in its pod dials serve as it would
 * locally. This executor only writes and watches CRs:
 *
 *  - launch: the runner token into the Secret `<session>-runner-token` (before the CR, so the
 *    operator never makes its own), then the CR (created, or for a later run annotated
 *    `desired-phase: Running` with the run's number);
 *  - the runner's status reports (through the run manager) go into the CR's status;
 *  - stop: `desired-phase: Stopped`; the operator deletes the pod;
 *  - the end of a run: the operator's `JobFinished` condition for that run (the pod is gone),
 *    with its verdict when the runner could not report one;
 *  - removeSession: delete the CR; owner references take its Secret, PVC and Jobs with it.
 */
import {
  CoreV1Api,
  CustomObjectsApi,
  makeInformer,
  PatchStrategy,
  setHeaderOptions,
  type KubeConfig,
  type KubernetesObject,
} from '@kubernetes/client-node';
import type { Logger } from '../../observability/logger.js';
import {
  CR_TERMINAL,
  CRD_GROUP,
  CRD_KIND,
  CRD_PLURAL,
  CRD_VERSION,
  crSpecFromCreateRequest,
  crStatusFromReport,
  DESIRED_PHASE_ANNOTATION,
  DESIRED_RUN_ANNOTATION,
  JOB_FINISHED_CONDITION,
  sessionResourceNames,
  type AgenticSession,
} from '../../protocol/crd.js';
import { PARENT_SESSION_ANNOTATION, type StatusUpdate } from '../../protocol/status.js';
import type { SessionRow } from '../store/index.js';
import type { Executor, LaunchRequest, RunExit, RunRef } from './types.js';

const MERGE = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
const JSON_PATCH = setHeaderOptions('Content-Type', PatchStrategy.JsonPatch);
const code = (err: unknown) => (err as { code?: number }).code;

export interface KubernetesExecutorOptions {
  kc: KubeConfig;
  logger: Logger;
  /** The session's row (its project is the namespace, its spec the CR's). */
  session: (name: string) => SessionRow | undefined;
}

interface Tracked {
  run: number;
  namespace: string;
  exited: boolean;
  waiters: (() => void)[];
}

type Cr = AgenticSession & KubernetesObject;

export class KubernetesExecutor implements Executor {
  readonly kind = 'kubernetes';
  /** The Job's activeDeadlineSeconds bounds the run; its verdict names the deadline. */
  readonly enforcesTimeout = true;
  private readonly core: CoreV1Api;
  private readonly custom: CustomObjectsApi;
  private readonly runs = new Map<string, Tracked>();
  private readonly listeners: ((exit: RunExit) => void)[] = [];
  private readonly informer;
  private readonly statusChains = new Map<string, Promise<void>>();
  private closed = false;
  private restartTimer: NodeJS.Timeout | undefined;

  constructor(private readonly o: KubernetesExecutorOptions) {
    this.core = o.kc.makeApiClient(CoreV1Api);
    this.custom = o.kc.makeApiClient(CustomObjectsApi);
    const path = `/apis/${CRD_GROUP}/${CRD_VERSION}/${CRD_PLURAL}`;
    this.informer = makeInformer<Cr>(
      o.kc,
      path,
      async () =>
        (await this.custom.listClusterCustomObject({
          group: CRD_GROUP,
          version: CRD_VERSION,
          plural: CRD_PLURAL,
        })) as { apiVersion: string; kind: string; items: Cr[]; metadata: object },
    );
    this.informer.on('add', (cr) => this.check(cr));
    this.informer.on('update', (cr) => this.check(cr));
    this.informer.on('delete', (cr) => this.deleted(cr));
    // A broken watch (410 Gone, the API server restarting): start again, which relists.
    this.informer.on('error', (err: unknown) => {
      if (this.closed) return;
      o.logger.warn('AgenticSession watch broke; relisting', { error: String(err) });
      this.restartTimer = setTimeout(() => void this.start(), 1000);
      this.restartTimer.unref();
    });
  }

  /** Lists and watches the CRs; resolves once the first list is in. */
  async start(): Promise<void> {
    if (this.closed) return;
    try {
      await this.informer.start();
    } catch (err) {
      this.o.logger.warn('AgenticSession list failed; retrying', { error: String(err) });
      this.restartTimer = setTimeout(() => void this.start(), 2000);
      this.restartTimer.unref();
    }
  }

  async launch(req: LaunchRequest): Promise<{ pid: number | null }> {
    const row = this.o.session(req.session);
    if (!row) throw new Error(`session ${req.session} is not in the store`);
    const namespace = row.project;
    const name = req.session;
    const token = req.env.BOT_TOKEN;
    if (!token) throw new Error('no runner token in the launch request');
    const secretName = sessionResourceNames(name, req.run).secret;
    await this.writeToken(namespace, secretName, token);
    let cr = await this.read(namespace, name);
    const spec = crSpecFromCreateRequest(row.spec);
    if (!cr) {
      const parent = row.annotations[PARENT_SESSION_ANNOTATION] ?? row.spec.parent_session_id;
      cr = (await this.custom.createNamespacedCustomObject({
        group: CRD_GROUP,
        version: CRD_VERSION,
        namespace,
        plural: CRD_PLURAL,
        body: {
          apiVersion: `${CRD_GROUP}/${CRD_VERSION}`,
          kind: CRD_KIND,
          metadata: {
            name,
            namespace,
            labels: { ...row.labels },
            annotations: {
              ...(parent ? { [PARENT_SESSION_ANNOTATION]: parent } : {}),
              ...(req.run > 1 ? { [DESIRED_RUN_ANNOTATION]: String(req.run) } : {}),
            },
          },
          spec,
        },
      })) as Cr;
    } else {
      // A later run: the spec as it is now (PATCH may have changed it), and a new Job.
      await this.custom.patchNamespacedCustomObject(
        {
          group: CRD_GROUP,
          version: CRD_VERSION,
          namespace,
          plural: CRD_PLURAL,
          name,
          body: [{ op: 'replace', path: '/spec', value: spec }],
        },
        JSON_PATCH,
      );
      await this.patchMeta(namespace, name, {
        [DESIRED_PHASE_ANNOTATION]: 'Running',
        [DESIRED_RUN_ANNOTATION]: String(req.run),
      });
    }
    // The token Secret belongs to the CR from now on (deleted with it).
    await this.core.patchNamespacedSecret(
      {
        name: secretName,
        namespace,
        body: {
          metadata: {
            ownerReferences: [
              {
                apiVersion: `${CRD_GROUP}/${CRD_VERSION}`,
                kind: CRD_KIND,
                name,
                uid: cr.metadata.uid!,
                controller: true,
                blockOwnerDeletion: true,
              },
            ],
          },
        },
      },
      MERGE,
    );
    this.runs.set(name, { run: req.run, namespace, exited: false, waiters: [] });
    this.o.logger.info('AgenticSession submitted', {
      session: `${namespace}/${name}`,
      run: req.run,
    });
    return { pid: null };
  }

  /** Runs survive serve's restart in the cluster, but this serve cannot re-attach them (yet). */
  adopt(): boolean {
    return false;
  }

  async stop(ref: RunRef, graceMs: number): Promise<void> {
    const t = this.runs.get(ref.session);
    if (!t || t.run !== ref.run || t.exited) return;
    await this.patchMeta(t.namespace, ref.session, { [DESIRED_PHASE_ANNOTATION]: 'Stopped' });
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, graceMs + 60_000);
      timer.unref();
      t.waiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  isRunning(ref: RunRef): boolean {
    const t = this.runs.get(ref.session);
    return !!t && t.run === ref.run && !t.exited;
  }

  /** A pod's logs need a kubelet; what serve can give is the operator's account of the run. */
  readOutput(ref: RunRef): string {
    const cr = this.find(ref.session);
    return cr?.status?.message ?? '';
  }

  outputTail(ref: RunRef, maxChars: number): string {
    return this.readOutput(ref).slice(-maxChars);
  }

  reapLeftovers(): void {}

  removeSession(session: string): void {
    const cr = this.find(session);
    const namespace = cr?.metadata.namespace ?? this.runs.get(session)?.namespace;
    this.runs.delete(session);
    if (!namespace) return;
    this.custom
      .deleteNamespacedCustomObject({
        group: CRD_GROUP,
        version: CRD_VERSION,
        namespace,
        plural: CRD_PLURAL,
        name: session,
        propagationPolicy: 'Background',
      })
      .catch((err: unknown) => {
        if (code(err) !== 404)
          this.o.logger.error('could not delete the AgenticSession', {
            session: `${namespace}/${session}`,
            error: String(err),
          });
      });
  }

  onExit(listener: (exit: RunExit) => void): void {
    this.listeners.push(listener);
  }

  reportStatus(ref: RunRef, update: StatusUpdate): void {
    const t = this.runs.get(ref.session);
    if (!t || t.run !== ref.run) return;
    const status = crStatusFromReport(update);
    if (!Object.keys(status).length) return;
    // In order, one at a time per session: a later report never lands before an earlier one.
    const prev = this.statusChains.get(ref.session) ?? Promise.resolve();
    const next = prev.then(() =>
      this.custom
        .patchNamespacedCustomObjectStatus(
          {
            group: CRD_GROUP,
            version: CRD_VERSION,
            namespace: t.namespace,
            plural: CRD_PLURAL,
            name: ref.session,
            body: { status },
          },
          MERGE,
        )
        .then(
          () => undefined,
          (err: unknown) =>
            this.o.logger.warn('could not write the runner status into the AgenticSession', {
              session: ref.session,
              error: String(err),
            }),
        ),
    );
    this.statusChains.set(ref.session, next);
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.restartTimer);
    void this.informer.stop();
  }

  private check(cr: Cr): void {
    const name = cr.metadata.name;
    const t = this.runs.get(name);
    if (!t || t.exited || t.namespace !== cr.metadata.namespace) return;
    const st = cr.status;
    if (!st || st.run !== t.run) return;
    const finished = st.conditions?.find(
      (c) => c.type === JOB_FINISHED_CONDITION && c.status === 'True',
    );
    if (!finished) return;
    const phase = st.phase && CR_TERMINAL.has(st.phase) ? st.phase : 'Failed';
    this.exit(name, t, {
      exitCode: st.exitCode ?? null,
      outcome: {
        phase: phase as 'Completed' | 'Failed' | 'Stopped',
        message: st.message ?? finished.message ?? phase,
      },
    });
  }

  private deleted(cr: Cr): void {
    const t = this.runs.get(cr.metadata.name);
    if (!t || t.exited || t.namespace !== cr.metadata.namespace) return;
    this.exit(cr.metadata.name, t, {
      exitCode: null,
      outcome: { phase: 'Failed', message: 'the AgenticSession was deleted from the cluster' },
    });
  }

  private exit(name: string, t: Tracked, e: Pick<RunExit, 'exitCode' | 'outcome'>): void {
    t.exited = true;
    for (const w of t.waiters.splice(0)) w();
    const exit: RunExit = { session: name, run: t.run, signal: null, adopted: false, ...e };
    for (const l of this.listeners) l(exit);
  }

  private find(name: string): Cr | undefined {
    const t = this.runs.get(name);
    if (t) return this.informer.get(name, t.namespace);
    return this.informer.list().find((cr) => cr.metadata.name === name);
  }

  private async read(namespace: string, name: string): Promise<Cr | undefined> {
    try {
      return (await this.custom.getNamespacedCustomObject({
        group: CRD_GROUP,
        version: CRD_VERSION,
        namespace,
        plural: CRD_PLURAL,
        name,
      })) as Cr;
    } catch (err) {
      if (code(err) === 404) return undefined;
      throw err;
    }
  }

  private async writeToken(namespace: string, name: string, token: string): Promise<void> {
    try {
      await this.core.createNamespacedSecret({
        namespace,
        body: { metadata: { name, namespace }, type: 'Opaque', stringData: { BOT_TOKEN: token } },
      });
    } catch (err) {
      if (code(err) !== 409) throw err;
      await this.core.patchNamespacedSecret(
        { name, namespace, body: { stringData: { BOT_TOKEN: token } } },
        MERGE,
      );
    }
  }

  private patchMeta(namespace: string, name: string, annotations: Record<string, string | null>) {
    return this.custom.patchNamespacedCustomObject(
      {
        group: CRD_GROUP,
        version: CRD_VERSION,
        namespace,
        plural: CRD_PLURAL,
        name,
        body: { metadata: { annotations } },
      },
      MERGE,
    );
  }
}
