/**
 * Leader election on a coordination.k8s.io Lease, so that two replicas never reconcile at once:
 * the holder renews every third of the lease; another replica takes the lease only once it has
 * gone unrenewed for its whole duration. Every write carries the resourceVersion read, so two
 * candidates racing for an expired lease cannot both win (the loser gets 409 Conflict).
 *
 * Times are written as strings through a merge patch: MicroTime needs six fractional digits,
 * which a JavaScript Date does not serialise to.
 */
import {
  CoordinationV1Api,
  PatchStrategy,
  setHeaderOptions,
  type KubeConfig,
  type V1Lease,
} from '@kubernetes/client-node';
import type { Logger } from '../observability/logger.js';
import { describe, withTimeout } from './watcher.js';

export interface LeaderOptions {
  kc: KubeConfig;
  namespace: string;
  name: string;
  identity: string;
  leaseSeconds: number;
  logger: Logger;
  onStartedLeading: () => void;
  /** The lease was lost (another replica holds it, or renewing failed past the deadline). */
  onStoppedLeading: () => void;
}

const microTime = (d: Date) => d.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');

export class LeaderElector {
  private readonly api: CoordinationV1Api;
  private timer: NodeJS.Timeout | undefined;
  private leading = false;
  private lastRenew = 0;
  private stopped = false;

  constructor(private readonly o: LeaderOptions) {
    this.api = o.kc.makeApiClient(CoordinationV1Api);
  }

  isLeader(): boolean {
    return this.leading;
  }

  start(): void {
    void this.tick();
  }

  /** Gives the lease up (so the other replica takes over at once) and stops. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    if (!this.leading) return;
    this.leading = false;
    try {
      await this.patch({ spec: { holderIdentity: null, leaseTransitions: null } }, undefined);
    } catch {
      // Best effort: the lease expires by itself.
    }
  }

  private async tick(): Promise<void> {
    if (this.stopped) return;
    try {
      // Bounded: a hung request must not keep a leader that no longer renews acting.
      await withTimeout(this.tryAcquireOrRenew(), (this.o.leaseSeconds * 1000) / 2, 'lease');
    } catch (err) {
      this.o.logger.warn('lease update failed', { error: describe(err) });
    }
    if (this.leading && Date.now() - this.lastRenew > this.o.leaseSeconds * 1000) this.lose();
    if (this.stopped) return;
    const every = (this.o.leaseSeconds * 1000) / (this.leading ? 3 : 2);
    this.timer = setTimeout(() => void this.tick(), every);
    this.timer.unref();
  }

  private async tryAcquireOrRenew(): Promise<void> {
    const { namespace, name, identity } = this.o;
    let lease: V1Lease;
    try {
      lease = await this.api.readNamespacedLease({ name, namespace });
    } catch (err) {
      if ((err as { code?: number }).code !== 404) throw err;
      await this.api.createNamespacedLease({
        namespace,
        body: {
          metadata: { name, namespace },
          spec: { holderIdentity: identity, leaseDurationSeconds: this.o.leaseSeconds },
        },
      });
      lease = await this.api.readNamespacedLease({ name, namespace });
      await this.renew(lease, true);
      return;
    }
    const holder = lease.spec?.holderIdentity;
    const renewed = lease.spec?.renewTime ? new Date(lease.spec.renewTime).getTime() : 0;
    const duration = (lease.spec?.leaseDurationSeconds ?? this.o.leaseSeconds) * 1000;
    if (holder === identity) return this.renew(lease, false);
    if (holder && Date.now() - renewed < duration) {
      if (this.leading) this.lose();
      return;
    }
    await this.renew(lease, true);
  }

  private async renew(lease: V1Lease, acquiring: boolean): Promise<void> {
    const now = microTime(new Date());
    const spec: Record<string, unknown> = {
      holderIdentity: this.o.identity,
      leaseDurationSeconds: this.o.leaseSeconds,
      renewTime: now,
    };
    if (acquiring) {
      spec.acquireTime = now;
      spec.leaseTransitions = (lease.spec?.leaseTransitions ?? 0) + 1;
    }
    try {
      await this.patch({ spec }, lease.metadata?.resourceVersion);
    } catch (err) {
      if ((err as { code?: number }).code === 409) return; // another replica won this round
      throw err;
    }
    this.lastRenew = Date.now();
    if (!this.leading) {
      this.leading = true;
      this.o.logger.info('became the leader', { lease: `${this.o.namespace}/${this.o.name}` });
      this.o.onStartedLeading();
    }
  }

  private patch(body: Record<string, unknown>, resourceVersion: string | undefined) {
    return this.api.patchNamespacedLease(
      {
        name: this.o.name,
        namespace: this.o.namespace,
        body: resourceVersion ? { ...body, metadata: { resourceVersion } } : body,
      },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
  }

  private lose(): void {
    this.leading = false;
    this.o.logger.warn('lost the lease: stopping work');
    this.o.onStoppedLeading();
  }
}
