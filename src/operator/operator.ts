/**
 * The operator: caches of AgenticSessions and of the Jobs and pods they own (watched), one work
 * queue of session keys, and the reconcile (reconciler.ts). Every replica keeps its caches warm;
 * only the holder of the Lease reconciles. A replica that loses the lease stops working at once
 * (`onLostLease`, by default: exit, and let the Deployment restart it as a follower).
 */
import {
  BatchV1Api,
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  type V1Job,
  type V1Pod,
} from '@kubernetes/client-node';
import type { OperatorConfig } from '../config/operator-config.js';
import type { Logger } from '../observability/logger.js';
import {
  CRD_GROUP,
  CRD_PLURAL,
  CRD_VERSION,
  SESSION_LABEL,
  type AgenticSession,
} from '../protocol/crd.js';
import { LeaderElector } from './leader.js';
import { WorkQueue } from './queue.js';
import { Reconciler } from './reconciler.js';
import { describe, Watcher, type KubeObject } from './watcher.js';

export function kubeConfig(config: Pick<OperatorConfig, 'kubeconfig'>): KubeConfig {
  const kc = new KubeConfig();
  if (config.kubeconfig) kc.loadFromFile(config.kubeconfig);
  else kc.loadFromCluster();
  return kc;
}

export interface OperatorOptions {
  config: OperatorConfig;
  logger: Logger;
  kc?: KubeConfig;
  onLostLease?: () => void;
}

export class Operator {
  readonly kc: KubeConfig;
  private readonly sessions: Watcher<AgenticSession & KubeObject>;
  private readonly jobs: Watcher<V1Job & KubeObject>;
  private readonly pods: Watcher<V1Pod & KubeObject>;
  private readonly queue: WorkQueue;
  private readonly leader: LeaderElector | undefined;
  private leading = false;

  constructor(private readonly o: OperatorOptions) {
    const { config, logger } = o;
    this.kc = o.kc ?? kubeConfig(config);
    const custom = this.kc.makeApiClient(CustomObjectsApi);
    const batch = this.kc.makeApiClient(BatchV1Api);
    const core = this.kc.makeApiClient(CoreV1Api);
    const watched = (ns: string | undefined) =>
      !ns || config.namespaces.length === 0 || config.namespaces.includes(ns);
    const enqueue = (ns: string | undefined, name: string | undefined) => {
      if (this.leading && ns && name && watched(ns)) this.queue.add(`${ns}/${name}`);
    };
    const owned = (o: KubeObject) =>
      enqueue(o.metadata?.namespace, o.metadata?.labels?.[SESSION_LABEL]);
    const selector = SESSION_LABEL;
    this.sessions = new Watcher({
      kc: this.kc,
      path: `/apis/${CRD_GROUP}/${CRD_VERSION}/${CRD_PLURAL}`,
      list: async () =>
        (await custom.listClusterCustomObject({
          group: CRD_GROUP,
          version: CRD_VERSION,
          plural: CRD_PLURAL,
        })) as { items: AgenticSession[]; metadata?: { resourceVersion?: string } },
      onChange: (cr) => enqueue(cr.metadata.namespace, cr.metadata.name),
      watchTimeoutSeconds: config.watchTimeoutSeconds,
      logger: logger.child('watch-sessions'),
    });
    this.jobs = new Watcher({
      kc: this.kc,
      path: '/apis/batch/v1/jobs',
      labelSelector: selector,
      list: () => batch.listJobForAllNamespaces({ labelSelector: selector }),
      onChange: owned,
      watchTimeoutSeconds: config.watchTimeoutSeconds,
      logger: logger.child('watch-jobs'),
    });
    this.pods = new Watcher({
      kc: this.kc,
      path: '/api/v1/pods',
      labelSelector: selector,
      list: () => core.listPodForAllNamespaces({ labelSelector: selector }),
      onChange: owned,
      watchTimeoutSeconds: config.watchTimeoutSeconds,
      logger: logger.child('watch-pods'),
    });
    const reconciler = new Reconciler(
      this.kc,
      config,
      {
        session: (ns, name) => this.sessions.get(ns, name),
        jobs: (ns, s) => this.owned(this.jobs, ns, s),
        pods: (ns, s) => this.owned(this.pods, ns, s),
      },
      logger.child('reconcile'),
    );
    this.queue = new WorkQueue({
      reconcile: (key) => reconciler.reconcile(key),
      onError: (key, err, retryInMs) =>
        logger.warn('reconcile failed; retrying', {
          session: key,
          retryInMs,
          error: describe(err),
        }),
    });
    if (config.leaderElection.enabled)
      this.leader = new LeaderElector({
        kc: this.kc,
        ...config.leaderElection,
        logger: logger.child('leader'),
        onStartedLeading: () => void this.lead(),
        onStoppedLeading: () => {
          this.leading = false;
          this.queue.close();
          (this.o.onLostLease ?? (() => process.exit(1)))();
        },
      });
  }

  async start(): Promise<void> {
    this.sessions.start();
    this.jobs.start();
    this.pods.start();
    if (this.leader) this.leader.start();
    else await this.lead();
  }

  isLeader(): boolean {
    return this.leading;
  }

  async stop(): Promise<void> {
    this.leading = false;
    this.queue.close();
    this.sessions.stop();
    this.jobs.stop();
    this.pods.stop();
    await this.leader?.stop();
  }

  /** As the leader: wait for full caches, then reconcile every session once (then on change). */
  private async lead(): Promise<void> {
    await Promise.all([this.sessions.hasSynced(), this.jobs.hasSynced(), this.pods.hasSynced()]);
    this.leading = true;
    this.o.logger.info('reconciling', { sessions: this.sessions.values().length });
    for (const cr of this.sessions.values())
      if (
        this.o.config.namespaces.length === 0 ||
        this.o.config.namespaces.includes(cr.metadata.namespace)
      )
        this.queue.add(`${cr.metadata.namespace}/${cr.metadata.name}`);
  }

  private owned<T extends KubeObject>(w: Watcher<T>, ns: string, session: string): T[] {
    return w
      .values()
      .filter(
        (o) => o.metadata?.namespace === ns && o.metadata?.labels?.[SESSION_LABEL] === session,
      );
  }
}
