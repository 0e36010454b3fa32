/**
 * A real Kubernetes control plane for tests: etcd, kube-apiserver, kube-controller-manager and
 * kube-scheduler, built by `scripts/k8s.sh build` (docs/kubernetes-testing.md), started on
 * 127.0.0.1 with free ports and a fresh run dir, each in its own process group so `stop()` ends
 * everything. No kubelet: pair it with the node agent (./node-agent.ts).
 *
 *   const cp = await startControlPlane();
 *   try {
 *     const core = cp.kubeConfig.makeApiClient(CoreV1Api);
 *   } finally {
 *     await cp.stop();
 *   }
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { makePki, type Pki } from './pki.js';

export const DEFAULT_K8S_ROOT = '/var/cache/claude-code-runner/k8s';
const BINARIES = ['etcd', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler'] as const;
type Component = (typeof BINARIES)[number];
/** Run dirs are `<tmp>/ccr-k8s-*`; a leftover's processes name it in their flags. */
const RUN_DIR_PREFIX = 'ccr-k8s-';

export class K8sBinariesMissing extends Error {
  constructor(binDir: string) {
    super(
      `the Kubernetes binaries are not built in ${binDir}: run \`scripts/k8s.sh build\` ` +
        '(once per machine, ~8-25 min cold), or set K8S_ROOT / K8S_BIN_DIR to where they are',
    );
    this.name = 'K8sBinariesMissing';
  }
}

/** Where `scripts/k8s.sh build` put the binaries: K8S_BIN_DIR, else $K8S_ROOT/bin. */
export function k8sBinDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.K8S_BIN_DIR || path.join(env.K8S_ROOT || DEFAULT_K8S_ROOT, 'bin');
}

export function k8sBinariesBuilt(binDir = k8sBinDir()): boolean {
  return BINARIES.every((b) => existsSync(path.join(binDir, b)));
}

export interface StartControlPlaneOptions {
  binDir?: string;
  /** Default: a new `<tmp>/ccr-k8s-*`, removed by `stop()` unless `keepRunDir`. */
  runDir?: string;
  keepRunDir?: boolean;
  /** Without them the API alone (CRDs, watches) starts faster; Jobs and scheduling need both. */
  controllerManager?: boolean;
  scheduler?: boolean;
  /** Bound on each component's readiness (default 120 s: a cold apiserver on a busy machine). */
  readyTimeoutMs?: number;
}

export interface ControlPlane {
  /** `https://127.0.0.1:<port>` */
  server: string;
  apiPort: number;
  runDir: string;
  /** An admin (system:masters) kubeconfig file with a client certificate. */
  kubeconfigPath: string;
  /** The same, loaded. */
  kubeConfig: KubeConfig;
  /** A bearer token of the same admin (for clients that take a token). */
  token: string;
  /** PEM of the CA that signed the apiserver's certificate. */
  caPem: string;
  pki: Pki;
  /** The last lines a component wrote (for a failing test's message). */
  logTail(component: Component, lines?: number): string;
  /** SIGKILL the apiserver and start it again on the same port and etcd (watches break). */
  restartApiServer(): Promise<void>;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject()));
    });
  });
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // already gone
  }
}

async function waitGone(pid: number, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (!isAlive(pid)) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return !isAlive(pid);
}

/**
 * Ends the processes of earlier runs whose owner died without `stop()` (a killed test run):
 * any process of our binaries naming a `ccr-k8s-*` run dir whose `owner.pid` is not alive.
 * Runs of other live test processes are left alone.
 */
export function reapLeftovers(binDir = k8sBinDir()): number {
  let killed = 0;
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((p) => /^\d+$/.test(p));
  } catch {
    return 0;
  }
  for (const p of pids) {
    let argv: string[];
    try {
      argv = readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0');
    } catch {
      continue;
    }
    if (!argv[0]?.startsWith(binDir + path.sep)) continue;
    const runDir = argv
      .map((a) => a.match(new RegExp(`(/[^=,]*/${RUN_DIR_PREFIX}[^/=,]+)`))?.[1])
      .find((d) => d);
    if (!runDir) continue;
    let owner = 0;
    try {
      owner = Number(readFileSync(path.join(runDir, 'owner.pid'), 'utf8'));
    } catch {
      // no owner file: a run dir deleted under it, surely a leftover
    }
    if (owner > 0 && isAlive(owner)) continue;
    try {
      process.kill(Number(p), 'SIGKILL');
      killed++;
    } catch {
      // gone meanwhile
    }
    rmSync(runDir, { recursive: true, force: true });
  }
  removeDeadRunDirs(RUN_DIR_PREFIX);
  return killed;
}

/**
 * Removes the temp dirs `<tmp>/<prefix>*` whose `owner.pid` names a process that is gone (dirs
 * without one are not ours to judge). Their processes must be ended first.
 */
export function removeDeadRunDirs(prefix: string): void {
  let entries: string[];
  try {
    entries = readdirSync(tmpdir()).filter((e) => e.startsWith(prefix));
  } catch {
    return;
  }
  for (const e of entries) {
    const dir = path.join(tmpdir(), e);
    let owner: number;
    try {
      owner = Number(readFileSync(path.join(dir, 'owner.pid'), 'utf8'));
    } catch {
      continue;
    }
    if (owner > 0 && !isAlive(owner)) rmSync(dir, { recursive: true, force: true });
  }
}

async function httpsReady(url: string, ca: string, cert: string, key: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request(url, { ca, cert, key, timeout: 2000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('error', () => resolve(false));
    req.on('timeout', () => {
      req.destroy();
      resolve(false);
    });
    req.end();
  });
}

async function httpReady(url: string): Promise<boolean> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
    return res.ok;
  } catch {
    return false;
  }
}

export async function startControlPlane(
  opts: StartControlPlaneOptions = {},
): Promise<ControlPlane> {
  const binDir = opts.binDir ?? k8sBinDir();
  if (!k8sBinariesBuilt(binDir)) throw new K8sBinariesMissing(binDir);
  reapLeftovers(binDir);
  const ownDir = !opts.runDir;
  const runDir = opts.runDir ?? mkdtempSync(path.join(tmpdir(), RUN_DIR_PREFIX));
  await writeFile(path.join(runDir, 'owner.pid'), String(process.pid));
  const readyTimeoutMs = opts.readyTimeoutMs ?? 120_000;
  const procs = new Map<Component, ChildProcess>();
  const logPath = (c: Component): string => path.join(runDir, `${c}.log`);

  const launch = (c: Component, args: string[]): ChildProcess => {
    const out = openSync(logPath(c), 'a');
    // detached: its own process group, so stop() ends whatever it started too.
    const child = spawn(path.join(binDir, c), args, {
      detached: true,
      stdio: ['ignore', out, out],
    });
    child.on('error', () => undefined);
    procs.set(c, child);
    return child;
  };
  const logTail = (c: Component, lines = 30): string => {
    try {
      return readFileSync(logPath(c), 'utf8').split('\n').slice(-lines).join('\n');
    } catch {
      return '';
    }
  };
  const waitReady = async (c: Component, probe: () => Promise<boolean>): Promise<void> => {
    const end = Date.now() + readyTimeoutMs;
    for (;;) {
      if (await probe()) return;
      const child = procs.get(c);
      if (child && child.exitCode !== null) {
        throw new Error(`${c} exited with ${child.exitCode}:\n${logTail(c)}`);
      }
      if (Date.now() > end)
        throw new Error(`${c} not ready in ${readyTimeoutMs} ms:\n${logTail(c)}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  };
  const stopOne = async (c: Component, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> => {
    const child = procs.get(c);
    if (!child?.pid) return;
    killGroup(child.pid, signal);
    if (!(await waitGone(child.pid, 10_000))) killGroup(child.pid, 'SIGKILL');
    await waitGone(child.pid, 5_000);
    procs.delete(c);
  };
  const stop = async (): Promise<void> => {
    for (const c of [...BINARIES].reverse()) await stopOne(c);
    if (ownDir && !opts.keepRunDir) rmSync(runDir, { recursive: true, force: true });
  };

  try {
    const pki = await makePki(path.join(runDir, 'pki'));
    const [ca, cert, key] = (await Promise.all(
      [pki.caCert, pki.adminCert, pki.adminKey].map((f) => readFile(f, 'utf8')),
    )) as [string, string, string];
    const token = randomBytes(24).toString('hex');
    const tokensFile = path.join(runDir, 'tokens.csv');
    await writeFile(tokensFile, `${token},admin,admin,system:masters\n`, { mode: 0o600 });

    const etcdPort = await freePort();
    const etcdPeer = await freePort();
    const apiPort = await freePort();
    const etcdUrl = `http://127.0.0.1:${etcdPort}`;
    launch('etcd', [
      `--data-dir=${path.join(runDir, 'etcd')}`,
      '--unsafe-no-fsync',
      `--listen-client-urls=${etcdUrl}`,
      `--advertise-client-urls=${etcdUrl}`,
      `--listen-peer-urls=http://127.0.0.1:${etcdPeer}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeer}`,
      `--initial-cluster=default=http://127.0.0.1:${etcdPeer}`,
      '--log-level=warn',
    ]);
    await waitReady('etcd', () => httpReady(`${etcdUrl}/health`));

    const server = `https://127.0.0.1:${apiPort}`;
    const apiArgs = [
      `--etcd-servers=${etcdUrl}`,
      '--bind-address=127.0.0.1',
      `--secure-port=${apiPort}`,
      '--advertise-address=127.0.0.1',
      // With a loopback advertise address the endpoint reconciler refuses to run.
      '--endpoint-reconciler-type=none',
      `--tls-cert-file=${pki.serverCert}`,
      `--tls-private-key-file=${pki.serverKey}`,
      `--client-ca-file=${pki.caCert}`,
      `--token-auth-file=${tokensFile}`,
      '--service-account-issuer=https://kubernetes.default.svc',
      `--service-account-key-file=${pki.saPub}`,
      `--service-account-signing-key-file=${pki.saKey}`,
      // Required by the apiserver; nothing here ever contacts an address of this range.
      '--service-cluster-ip-range=10.96.0.0/16',
      '--authorization-mode=Node,RBAC',
    ];
    const startApi = async (): Promise<void> => {
      launch('kube-apiserver', apiArgs);
      await waitReady('kube-apiserver', () => httpsReady(`${server}/readyz`, ca, cert, key));
    };
    await startApi();

    const kubeconfigPath = path.join(runDir, 'admin.kubeconfig');
    const b64 = (s: string): string => Buffer.from(s).toString('base64');
    await writeFile(
      kubeconfigPath,
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [{ name: 'local', cluster: { server, 'certificate-authority-data': b64(ca) } }],
        users: [
          {
            name: 'admin',
            user: { 'client-certificate-data': b64(cert), 'client-key-data': b64(key) },
          },
        ],
        contexts: [{ name: 'local', context: { cluster: 'local', user: 'admin' } }],
        'current-context': 'local',
      }),
      { mode: 0o600 },
    );
    const common = [
      `--kubeconfig=${kubeconfigPath}`,
      `--authentication-kubeconfig=${kubeconfigPath}`,
      `--authorization-kubeconfig=${kubeconfigPath}`,
      // No serving port: nothing here scrapes their metrics or health.
      '--secure-port=0',
      '--leader-elect=false',
    ];
    if (opts.controllerManager !== false) {
      launch('kube-controller-manager', [
        ...common,
        `--service-account-private-key-file=${pki.saKey}`,
        `--root-ca-file=${pki.caCert}`,
        '--use-service-account-credentials=true',
        // Binds a claim to a new volume within a second instead of 15 s.
        '--pvclaimbinder-sync-period=1s',
      ]);
    }
    if (opts.scheduler !== false) launch('kube-scheduler', common);
    // They have no port to probe: give them a moment and check they did not die on their flags.
    await new Promise((r) => setTimeout(r, 500));
    for (const [c, child] of procs) {
      if (child.exitCode !== null)
        throw new Error(`${c} exited with ${child.exitCode}:\n${logTail(c)}`);
    }

    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromFile(kubeconfigPath);
    return {
      server,
      apiPort,
      runDir,
      kubeconfigPath,
      kubeConfig,
      token,
      caPem: ca,
      pki,
      logTail,
      restartApiServer: async () => {
        // A crash, not a drain: open watches break at once.
        await stopOne('kube-apiserver', 'SIGKILL');
        await startApi();
      },
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
