/**
 * The kubelet stand-in of the k8s test tier: registers a Node (Ready, with allocatable
 * resources, heartbeats), watches the pods the scheduler binds to it, runs each container as a
 * local process (./pod-config.ts maps a pod to a process) and writes the pod's status through
 * the API as a kubelet does: Pending (ContainerCreating, CreateContainerConfigError,
 * ErrImagePull/ImagePullBackOff) → Running → Succeeded/Failed with `terminated {exitCode, reason,
 * message}` (OOMKilled by its RSS limit, DeadlineExceeded). A deleted pod gets SIGTERM, its grace
 * period, SIGKILL, then a final delete with grace 0. A broken watch (apiserver restart, 410 Gone)
 * re-lists. It also binds every pending PersistentVolumeClaim to a new hostPath volume under its
 * data dir, as a dynamic provisioner would. docs/kubernetes-testing.md.
 *
 *   const agent = new NodeAgent({ kubeConfig, apiPort });
 *   await agent.start();
 *   try { … } finally { await agent.stop(); }
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  CoreV1Api,
  PatchStrategy,
  Watch,
  setHeaderOptions,
  type KubeConfig,
  type V1ContainerStatus,
  type V1Pod,
  type V1PodCondition,
  type V1PodStatus,
} from '@kubernetes/client-node';
import { liveProcesses, processCwd } from '../../control-plane/executor/procfs.js';
import { removeDeadRunDirs } from './control-plane.js';
import { ContainerProcess, type Termination } from './container-process.js';
import {
  ContainerStartBlocked,
  REPO_ROOT,
  resolveContainer,
  type ProcessSpec,
} from './pod-config.js';
import { writeContainersConf } from './podman.js';

export interface NodeAgentOptions {
  kubeConfig: KubeConfig;
  /** The apiserver's port on 127.0.0.1 (given to pods as KUBERNETES_SERVICE_PORT). */
  apiPort: number;
  nodeName?: string;
  /** Default: a new temp dir, removed by `stop()`. */
  dataDir?: string;
  /** Added to every container's environment under the pod's own variables. */
  extraEnv?: Record<string, string>;
  /** Bind pending claims to new hostPath volumes (default true). */
  provisionVolumes?: boolean;
  /** Node heartbeat period (default 10 s; the node lifecycle controller waits 40 s). */
  heartbeatMs?: number;
  /** Retry period of a pod that cannot start yet (default 2 s). */
  retryMs?: number;
  /**
   * `process` (default): containers as local processes. `podman`: in the project's image under
   * podman (./podman.ts), `podmanImage` default `localhost/claude-code-runner:<version>`.
   */
  runtime?: 'process' | 'podman';
  podmanImage?: string;
  /** The agent's own diagnostics (default: none). */
  log?: (line: string) => void;
}

type RunState = 'preparing' | 'blocked' | 'running' | 'terminated';

interface PodRun {
  uid: string;
  namespace: string;
  name: string;
  pod: V1Pod;
  state: RunState;
  startTime: Date;
  blocked?: { reason: string; message: string };
  pullAttempts: number;
  retryTimer?: NodeJS.Timeout;
  deadlineTimer?: NodeJS.Timeout;
  killTimer?: NodeJS.Timeout;
  procs: Map<string, ContainerProcess>;
  results: Map<string, Termination>;
  lastTermination: Map<string, Termination>;
  restarts: Map<string, number>;
  phase?: 'Succeeded' | 'Failed';
  podReason?: string;
  podMessage?: string;
  deleting: boolean;
  finalized: boolean;
  writes: Promise<void>;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function apiCode(err: unknown): number | undefined {
  const code = (err as { code?: unknown }).code;
  return typeof code === 'number' ? code : undefined;
}

const AGENT_DIR_PREFIX = 'ccr-node-agent-';

/** The tag scripts/image.sh gives the image: the package's version. */
export function defaultPodmanImage(): string {
  const pkg = JSON.parse(readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as {
    version?: string;
  };
  return `localhost/claude-code-runner:${pkg.version ?? '0.0.0'}`;
}

/**
 * Container processes of an agent that died without `stop()` (a killed test run) live on in
 * their own process groups: end those whose working dir is in a temp agent dir whose owner is
 * gone. Agents of other live processes are left alone.
 */
export function reapOrphanContainers(): number {
  const root = path.join(tmpdir(), AGENT_DIR_PREFIX);
  const owners = new Map<string, boolean>();
  const orphans = liveProcesses((pid) => {
    const cwd = processCwd(pid);
    if (!cwd?.startsWith(root)) return false;
    const slash = cwd.indexOf('/', root.length);
    const dir = slash === -1 ? cwd : cwd.slice(0, slash);
    if (!owners.has(dir)) {
      let owner = 0;
      try {
        owner = Number(readFileSync(path.join(dir, 'owner.pid'), 'utf8'));
      } catch {
        // no owner file: the dir was removed under it
      }
      owners.set(dir, owner > 0 && isAlive(owner));
    }
    return !owners.get(dir);
  });
  for (const pid of orphans) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone meanwhile
    }
  }
  removeDeadRunDirs(AGENT_DIR_PREFIX);
  return orphans.length;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

export class NodeAgent {
  readonly nodeName: string;
  readonly dataDir: string;
  /** How many times the agent listed its pods (1 + one per broken watch). */
  lists = 0;
  private readonly core: CoreV1Api;
  private readonly ownDir: boolean;
  private readonly runs = new Map<string, PodRun>();
  private readonly timers: NodeJS.Timeout[] = [];
  private watchAbort: AbortController | undefined;
  private wakeWatch: (() => void) | undefined;
  private loop: Promise<void> | undefined;
  private stopped = false;
  private podman: { image: string; containersConf: string } | undefined;

  constructor(private readonly opts: NodeAgentOptions) {
    this.nodeName = opts.nodeName ?? 'ccr-node-agent';
    this.ownDir = !opts.dataDir;
    this.dataDir = opts.dataDir ?? mkdtempSync(path.join(tmpdir(), AGENT_DIR_PREFIX));
    this.core = opts.kubeConfig.makeApiClient(CoreV1Api);
  }

  private log(line: string): void {
    this.opts.log?.(`[node-agent] ${line}`);
  }

  async start(): Promise<void> {
    reapOrphanContainers();
    await mkdir(path.join(this.dataDir, 'pods'), { recursive: true });
    if (this.opts.runtime === 'podman') {
      this.podman = {
        image: this.opts.podmanImage ?? defaultPodmanImage(),
        containersConf: await writeContainersConf(path.join(this.dataDir, 'containers.conf')),
      };
    }
    writeFileSync(path.join(this.dataDir, 'owner.pid'), String(process.pid));
    await this.registerNode();
    this.timers.push(setInterval(() => void this.heartbeat(), this.opts.heartbeatMs ?? 10_000));
    if (this.opts.provisionVolumes !== false) {
      this.timers.push(setInterval(() => void this.provision(), 1000));
    }
    this.loop = this.listWatch();
  }

  /** Kills every container (SIGKILL), stops watching, removes a temp data dir. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers) clearInterval(t);
    this.watchAbort?.abort();
    this.wakeWatch?.();
    const done: Promise<unknown>[] = [];
    for (const run of this.runs.values()) {
      clearTimeout(run.retryTimer);
      clearTimeout(run.deadlineTimer);
      clearTimeout(run.killTimer);
      for (const p of run.procs.values()) {
        p.kill('SIGKILL');
        done.push(p.done);
      }
    }
    await Promise.all(done);
    await this.loop;
    if (this.ownDir) rmSync(this.dataDir, { recursive: true, force: true });
  }

  /** What a pod's container wrote (stdout and stderr), as `kubectl logs` would show. */
  logs(namespace: string, pod: string, container?: string): string {
    const run = [...this.runs.values()].find((r) => r.namespace === namespace && r.name === pod);
    if (!run) return '';
    const c = container ?? run.pod.spec?.containers[0]?.name ?? '';
    try {
      return readFileSync(this.logFile(run, c), 'utf8');
    } catch {
      return '';
    }
  }

  /** The host process ids of a pod's running containers (to prove they end). */
  pids(namespace: string, pod: string): number[] {
    const run = [...this.runs.values()].find((r) => r.namespace === namespace && r.name === pod);
    return run ? [...run.procs.values()].flatMap((p) => (p.pid ? [p.pid] : [])) : [];
  }

  private logFile(run: PodRun, container: string): string {
    return path.join(this.dataDir, 'pods', run.uid, `${container}.log`);
  }

  // --- Node ---------------------------------------------------------------------------------

  private nodeStatus(): Record<string, unknown> {
    const now = new Date().toISOString();
    const cond = (type: string, status: string, reason: string) => ({
      type,
      status,
      reason,
      message: `${reason} (claude-code-runner node agent)`,
      lastHeartbeatTime: now,
      lastTransitionTime: now,
    });
    const resources = { cpu: '8', memory: '16Gi', pods: '110', 'ephemeral-storage': '100Gi' };
    return {
      capacity: resources,
      allocatable: resources,
      conditions: [
        cond('MemoryPressure', 'False', 'KubeletHasSufficientMemory'),
        cond('DiskPressure', 'False', 'KubeletHasNoDiskPressure'),
        cond('PIDPressure', 'False', 'KubeletHasSufficientPID'),
        cond('Ready', 'True', 'KubeletReady'),
      ],
      addresses: [
        { type: 'InternalIP', address: '127.0.0.1' },
        { type: 'Hostname', address: this.nodeName },
      ],
      nodeInfo: {
        architecture: 'amd64',
        operatingSystem: 'linux',
        kubeletVersion: 'claude-code-runner-node-agent',
        kubeProxyVersion: '',
        containerRuntimeVersion: 'local-process://1',
        bootID: '',
        kernelVersion: '',
        machineID: '',
        osImage: '',
        systemUUID: '',
      },
    };
  }

  private async registerNode(): Promise<void> {
    try {
      await this.core.createNode({
        body: {
          metadata: {
            name: this.nodeName,
            labels: {
              'kubernetes.io/hostname': this.nodeName,
              'kubernetes.io/os': 'linux',
              'kubernetes.io/arch': 'amd64',
            },
          },
        },
      });
    } catch (err) {
      if (apiCode(err) !== 409) throw err;
    }
    await this.core.patchNodeStatus(
      { name: this.nodeName, body: { status: this.nodeStatus() } },
      mergePatch,
    );
  }

  private async heartbeat(): Promise<void> {
    try {
      await this.core.patchNodeStatus(
        { name: this.nodeName, body: { status: { conditions: this.nodeStatus().conditions } } },
        mergePatch,
      );
    } catch (err) {
      this.log(`heartbeat failed: ${String(err)}`);
    }
  }

  // --- Volumes ------------------------------------------------------------------------------

  /** Each pending claim gets a pre-bound hostPath volume; the PV controller binds the pair. */
  private async provision(): Promise<void> {
    let claims;
    try {
      claims = await this.core.listPersistentVolumeClaimForAllNamespaces();
    } catch {
      return;
    }
    for (const pvc of claims.items) {
      if (pvc.status?.phase !== 'Pending' || pvc.spec?.volumeName || !pvc.metadata?.uid) continue;
      const name = `ccr-pv-${pvc.metadata.uid}`;
      const dir = path.join(this.dataDir, 'volumes', name);
      try {
        await mkdir(dir, { recursive: true });
        await this.core.createPersistentVolume({
          body: {
            metadata: { name, labels: { 'claude-code-runner/provisioned-by': this.nodeName } },
            spec: {
              capacity: { storage: pvc.spec?.resources?.requests?.storage ?? '1Gi' },
              accessModes: pvc.spec?.accessModes ?? ['ReadWriteOnce'],
              persistentVolumeReclaimPolicy: 'Retain',
              storageClassName: pvc.spec?.storageClassName ?? '',
              hostPath: { path: dir, type: 'DirectoryOrCreate' },
              claimRef: {
                kind: 'PersistentVolumeClaim',
                apiVersion: 'v1',
                namespace: pvc.metadata.namespace,
                name: pvc.metadata.name,
                uid: pvc.metadata.uid,
              },
            },
          },
        });
        this.log(`provisioned ${name} for ${pvc.metadata.namespace}/${pvc.metadata.name}`);
      } catch (err) {
        if (apiCode(err) !== 409) this.log(`provisioning ${name} failed: ${String(err)}`);
      }
    }
  }

  // --- Pods: list and watch -----------------------------------------------------------------

  private async listWatch(): Promise<void> {
    const fieldSelector = `spec.nodeName=${this.nodeName}`;
    const watch = new Watch(this.opts.kubeConfig);
    while (!this.stopped) {
      try {
        const list = await this.core.listPodForAllNamespaces({ fieldSelector });
        this.lists++;
        const seen = new Set<string>();
        for (const pod of list.items) {
          if (pod.metadata?.uid) seen.add(pod.metadata.uid);
          this.reconcile(pod);
        }
        for (const run of [...this.runs.values()]) if (!seen.has(run.uid)) this.gone(run.uid);
        await new Promise<void>((resolve) => {
          this.wakeWatch = resolve;
          const end = (why: string): void => {
            if (!this.stopped) this.log(`watch ended (${why}): re-listing`);
            this.watchAbort?.abort();
            resolve();
          };
          watch
            .watch(
              '/api/v1/pods',
              {
                fieldSelector,
                resourceVersion: list.metadata?.resourceVersion,
                allowWatchBookmarks: true,
              },
              (type: string, obj: V1Pod & { code?: number }) => {
                if (type === 'ERROR') return end(`error ${obj.code ?? ''}`);
                if (type === 'BOOKMARK') return;
                if (type === 'DELETED') return this.gone(obj.metadata?.uid ?? '');
                this.reconcile(obj);
              },
              (err: unknown) => end(err ? String(err) : 'closed'),
            )
            .then(
              (ac) => {
                this.watchAbort = ac;
                if (this.stopped) ac.abort();
              },
              (err: unknown) => end(String(err)),
            );
        });
      } catch (err) {
        this.log(`list failed: ${String(err)}`);
      }
      if (!this.stopped) await sleep(500);
    }
  }

  private reconcile(pod: V1Pod): void {
    const uid = pod.metadata?.uid;
    if (!uid || this.stopped) return;
    let run = this.runs.get(uid);
    if (!run) {
      const terminal = pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed';
      run = {
        uid,
        namespace: pod.metadata?.namespace ?? 'default',
        name: pod.metadata?.name ?? '',
        pod,
        state: terminal ? 'terminated' : 'preparing',
        startTime: pod.status?.startTime ? new Date(pod.status.startTime) : new Date(),
        pullAttempts: 0,
        procs: new Map(),
        results: new Map(),
        lastTermination: new Map(),
        restarts: new Map(),
        deleting: false,
        finalized: false,
        writes: Promise.resolve(),
      };
      this.runs.set(uid, run);
      if (!terminal && !pod.metadata?.deletionTimestamp) void this.startPod(run);
    }
    run.pod = pod;
    if (pod.metadata?.deletionTimestamp && !run.deleting) void this.terminate(run);
  }

  /** The pod object is gone: its containers go too, at once. */
  private gone(uid: string): void {
    const run = this.runs.get(uid);
    if (!run) return;
    run.deleting = true;
    clearTimeout(run.retryTimer);
    clearTimeout(run.deadlineTimer);
    for (const p of run.procs.values()) p.kill('SIGKILL');
    this.runs.delete(uid);
  }

  // --- Pods: lifecycle ----------------------------------------------------------------------

  private async startPod(run: PodRun): Promise<void> {
    if (run.deleting || this.stopped) return;
    const containers = run.pod.spec?.containers ?? [];
    if (run.state === 'preparing') this.writeStatus(run);
    const specs: ProcessSpec[] = [];
    try {
      const podDir = path.join(this.dataDir, 'pods', run.uid);
      for (const c of containers) {
        specs.push(
          await resolveContainer(
            {
              core: this.core,
              pod: run.pod,
              podDir,
              volumesDir: path.join(this.dataDir, 'volumes'),
              apiPort: this.opts.apiPort,
              extraEnv: this.opts.extraEnv ?? {},
              hostPath: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
              ...(this.podman ? { podman: this.podman } : {}),
            },
            c,
          ),
        );
      }
    } catch (err) {
      if (run.deleting || this.stopped) return;
      if (err instanceof ContainerStartBlocked) {
        const reason =
          err.reason === 'ErrImagePull' && run.pullAttempts++ > 0 ? 'ImagePullBackOff' : err.reason;
        const changed = run.blocked?.reason !== reason || run.blocked.message !== err.message;
        run.state = 'blocked';
        run.blocked = { reason, message: err.message };
        if (changed) this.writeStatus(run);
      } else {
        this.log(`preparing ${run.namespace}/${run.name} failed: ${String(err)}`);
      }
      run.retryTimer = setTimeout(() => void this.startPod(run), this.opts.retryMs ?? 2000);
      return;
    }
    if (run.deleting || this.stopped) return;
    run.state = 'running';
    run.blocked = undefined;
    const deadline = run.pod.spec?.activeDeadlineSeconds;
    if (deadline) {
      const left = deadline * 1000 - (Date.now() - run.startTime.getTime());
      run.deadlineTimer = setTimeout(() => this.deadlineExceeded(run), Math.max(0, left));
    }
    const results = await Promise.all(specs.map((s) => this.runContainer(run, s)));
    clearTimeout(run.deadlineTimer);
    clearTimeout(run.killTimer);
    run.state = 'terminated';
    run.phase = results.every((t) => t.exitCode === 0) && !run.podReason ? 'Succeeded' : 'Failed';
    this.writeStatus(run);
    if (run.deleting) await this.finalize(run);
  }

  private async runContainer(run: PodRun, spec: ProcessSpec): Promise<Termination> {
    for (;;) {
      const proc = new ContainerProcess(spec, this.logFile(run, spec.container));
      run.procs.set(spec.container, proc);
      run.results.delete(spec.container);
      this.writeStatus(run);
      const t = await proc.done;
      run.procs.delete(spec.container);
      run.results.set(spec.container, t);
      const policy = run.pod.spec?.restartPolicy ?? 'Always';
      const again =
        !run.deleting &&
        !this.stopped &&
        !run.podReason &&
        (policy === 'Always' || (policy === 'OnFailure' && t.exitCode !== 0));
      if (!again) return t;
      run.lastTermination.set(spec.container, t);
      run.restarts.set(spec.container, (run.restarts.get(spec.container) ?? 0) + 1);
      this.writeStatus(run);
      await sleep(1000);
    }
  }

  /** `spec.activeDeadlineSeconds` of the pod itself (a Job's own deadline is the controller's). */
  private deadlineExceeded(run: PodRun): void {
    run.podReason = 'DeadlineExceeded';
    run.podMessage = `Pod was active on the node longer than the specified deadline`;
    for (const p of run.procs.values()) p.kill('SIGKILL', 'DeadlineExceeded');
  }

  /** A delete request: SIGTERM, the grace period, SIGKILL; then the final delete. */
  private async terminate(run: PodRun): Promise<void> {
    run.deleting = true;
    clearTimeout(run.retryTimer);
    if (run.procs.size === 0) {
      await this.finalize(run);
      return;
    }
    const grace =
      run.pod.metadata?.deletionGracePeriodSeconds ??
      run.pod.spec?.terminationGracePeriodSeconds ??
      30;
    for (const p of run.procs.values()) p.kill('SIGTERM');
    run.killTimer = setTimeout(() => {
      for (const p of run.procs.values()) p.kill('SIGKILL');
    }, grace * 1000);
    // startPod's tail writes the final status and calls finalize() once every container ended.
  }

  private async finalize(run: PodRun): Promise<void> {
    if (run.finalized) return;
    run.finalized = true;
    await run.writes;
    for (let attempt = 0; attempt < 60 && !this.stopped; attempt++) {
      try {
        await this.core.deleteNamespacedPod({
          name: run.name,
          namespace: run.namespace,
          gracePeriodSeconds: 0,
          body: { gracePeriodSeconds: 0, preconditions: { uid: run.uid } },
        });
        return;
      } catch (err) {
        const code = apiCode(err);
        if (code === 404 || code === 409) return;
        await sleep(500);
      }
    }
  }

  // --- Pods: status -------------------------------------------------------------------------

  private containerStatus(run: PodRun, name: string, image: string): V1ContainerStatus {
    const proc = run.procs.get(name);
    const t = run.results.get(name);
    const last = run.lastTermination.get(name);
    const terminated = (x: Termination) => ({
      terminated: {
        exitCode: x.exitCode,
        ...(x.signal !== undefined ? { signal: x.signal } : {}),
        reason: x.reason,
        ...(x.message ? { message: x.message } : {}),
        startedAt: x.startedAt,
        finishedAt: x.finishedAt,
        containerID: `local-process://${run.uid}/${name}`,
      },
    });
    const state = t
      ? terminated(t)
      : proc
        ? { running: { startedAt: proc.startedAt } }
        : {
            waiting: run.blocked
              ? { reason: run.blocked.reason, message: run.blocked.message }
              : { reason: 'ContainerCreating' },
          };
    return {
      name,
      image,
      imageID: '',
      ready: !!proc && !t,
      started: !!proc && !t,
      restartCount: run.restarts.get(name) ?? 0,
      state,
      lastState: last ? terminated(last) : {},
      ...(proc || t ? { containerID: `local-process://${run.uid}/${name}` } : {}),
    } as V1ContainerStatus;
  }

  private podStatus(run: PodRun): V1PodStatus {
    const containers = run.pod.spec?.containers ?? [];
    const statuses = containers.map((c) => this.containerStatus(run, c.name, c.image ?? ''));
    const running = run.state === 'running' && statuses.every((s) => s.ready);
    const phase = run.phase ?? (run.state === 'running' ? 'Running' : 'Pending');
    const now = new Date();
    const previous = new Map((run.pod.status?.conditions ?? []).map((c) => [c.type, c]));
    const cond = (type: string, ok: boolean, reason?: string): V1PodCondition => {
      const status = ok ? 'True' : 'False';
      const before = previous.get(type);
      return {
        type,
        status,
        ...(reason && !ok ? { reason } : {}),
        lastTransitionTime: before?.status === status ? before.lastTransitionTime : now,
      } as V1PodCondition;
    };
    const notReady = run.phase ? 'PodCompleted' : 'ContainersNotReady';
    const conditions = [
      ...(previous.has('PodScheduled') ? [previous.get('PodScheduled')!] : []),
      cond('PodReadyToStartContainers', run.state !== 'preparing' && run.state !== 'blocked'),
      cond('Initialized', true),
      cond('ContainersReady', running, notReady),
      cond('Ready', running, notReady),
    ];
    return {
      phase,
      conditions,
      hostIP: '127.0.0.1',
      hostIPs: [{ ip: '127.0.0.1' }],
      // Pods share the host's network here: 127.0.0.1 is the only honest address.
      podIP: '127.0.0.1',
      podIPs: [{ ip: '127.0.0.1' }],
      startTime: run.startTime,
      containerStatuses: statuses,
      ...(run.podReason ? { reason: run.podReason, message: run.podMessage } : {}),
    };
  }

  /** Status writes of one pod go out in order, each retried while the apiserver is away. */
  private writeStatus(run: PodRun): void {
    run.writes = run.writes.then(async () => {
      const body = { status: this.podStatus(run) };
      for (let attempt = 0; attempt < 120 && !this.stopped; attempt++) {
        try {
          const pod = await this.core.patchNamespacedPodStatus(
            { name: run.name, namespace: run.namespace, body },
            mergePatch,
          );
          if (pod.metadata?.uid === run.uid) run.pod = pod;
          return;
        } catch (err) {
          const code = apiCode(err);
          if (code === 404) return;
          if (code !== undefined && code < 500 && code !== 429) {
            this.log(`status of ${run.namespace}/${run.name} refused (${code}): ${String(err)}`);
            return;
          }
          await sleep(500);
        }
      }
    });
  }
}
