/**
 * What the node agent does in a kubelet's place before a container starts: resolve the pod's
 * volumes to host directories and its container to a local process (argv, environment, working
 * directory), or fail the way a kubelet fails (`CreateContainerConfigError` for a missing Secret
 * or key, `ErrImagePull` for an image it cannot run). docs/kubernetes-testing.md has the mapping.
 */
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { resolvePodmanContainer } from './podman.js';
import type {
  CoreV1Api,
  V1Container,
  V1EnvVar,
  V1KeyToPath,
  V1ObjectFieldSelector,
  V1Pod,
  V1Volume,
} from '@kubernetes/client-node';

/** The checkout this module runs from (dist/src/testing/k8s/ → four levels up). */
export const REPO_ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
export const CLI_MAIN = path.join(REPO_ROOT, 'dist', 'src', 'cli', 'main.js');
/** The image's `run` flags (scripts/container-entrypoint.sh). */
const RUN_NODE_FLAGS = ['--max-semi-space-size=1', '--no-opt', '--optimize-for-size'];
const ENTRYPOINTS = new Set([
  '/app/bin/container-entrypoint.sh',
  '/usr/local/bin/claude-code-runner',
  'claude-code-runner',
]);

/** A container that cannot start yet; the pod stays Pending with this waiting state. */
export class ContainerStartBlocked extends Error {
  constructor(
    readonly reason:
      'CreateContainerConfigError' | 'ErrImagePull' | 'ContainerCreating' | 'InvalidImageName',
    message: string,
  ) {
    super(message);
    this.name = 'ContainerStartBlocked';
  }
}

export interface PathMapping {
  containerPath: string;
  hostPath: string;
}

export interface ProcessSpec {
  container: string;
  argv: [string, ...string[]];
  env: Record<string, string>;
  cwd: string;
  /** Host file standing in for `terminationMessagePath`. */
  terminationLog: string;
  fallbackToLogsOnError: boolean;
  memoryLimitBytes?: number;
  mappings: PathMapping[];
  /** With the podman runtime: the container's name (a SIGKILL of `podman run` leaves it running). */
  podmanName?: string;
  /** With the podman runtime and a memory limit: an exit of 137 not caused by the agent is OOM. */
  oomOnExit137?: boolean;
}

export interface ResolveContext {
  core: CoreV1Api;
  pod: V1Pod;
  /** The agent's dir for this pod (volumes, rootfs, logs). */
  podDir: string;
  /** The agent's dir for volumes that outlive pods (claims without a host path). */
  volumesDir: string;
  apiPort: number;
  /** Added under the pod's own variables (e.g. CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC). */
  extraEnv: Record<string, string>;
  /** Host PATH for the processes (node, git, sh). */
  hostPath: string;
  /** Run containers with podman in this image instead of as local processes. */
  podman?: { image: string; containersConf: string };
}

type ImageKind = 'project' | 'node';

/** `registry/ns/claude-code-runner:tag` → project; `node:20` → node; else not runnable here. */
export function imageKind(image: string | undefined): ImageKind | undefined {
  if (!image) return undefined;
  const name = image.split('@')[0]!.split('/').pop()!.split(':')[0];
  if (name === 'claude-code-runner') return 'project';
  if (name === 'node') return 'node';
  return undefined;
}

/** Kubernetes quantities (`64Mi`, `1G`, `1e9`, `512`) in bytes. */
export function parseQuantity(q: string): number {
  const m = /^([0-9.]+(?:e[0-9]+)?)([KMGTPE]i?|m)?$/.exec(q.trim());
  if (!m) throw new Error(`not a quantity: ${q}`);
  const n = Number(m[1]);
  const unit = m[2] ?? '';
  const pow: Record<string, number> = {
    '': 1,
    m: 1e-3,
    K: 1e3,
    M: 1e6,
    G: 1e9,
    T: 1e12,
    P: 1e15,
    E: 1e18,
    Ki: 2 ** 10,
    Mi: 2 ** 20,
    Gi: 2 ** 30,
    Ti: 2 ** 40,
    Pi: 2 ** 50,
    Ei: 2 ** 60,
  };
  return Math.floor(n * (pow[unit] ?? 1));
}

function apiCode(err: unknown): number | undefined {
  const code = (err as { code?: unknown }).code;
  return typeof code === 'number' ? code : undefined;
}

async function readSecretData(
  core: CoreV1Api,
  namespace: string,
  name: string,
): Promise<Record<string, string> | undefined> {
  try {
    const s = await core.readNamespacedSecret({ name, namespace });
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(s.data ?? {})) out[k] = Buffer.from(v, 'base64').toString();
    for (const [k, v] of Object.entries(s.stringData ?? {})) out[k] = v;
    return out;
  } catch (err) {
    if (apiCode(err) === 404) return undefined;
    throw err;
  }
}

async function readConfigMapData(
  core: CoreV1Api,
  namespace: string,
  name: string,
): Promise<Record<string, string> | undefined> {
  try {
    const c = await core.readNamespacedConfigMap({ name, namespace });
    return { ...(c.data ?? {}) };
  } catch (err) {
    if (apiCode(err) === 404) return undefined;
    throw err;
  }
}

function fieldValue(pod: V1Pod, ref: V1ObjectFieldSelector): string {
  const p = ref.fieldPath;
  const m = pod.metadata ?? {};
  if (p === 'metadata.name') return m.name ?? '';
  if (p === 'metadata.namespace') return m.namespace ?? '';
  if (p === 'metadata.uid') return m.uid ?? '';
  if (p === 'spec.nodeName') return pod.spec?.nodeName ?? '';
  if (p === 'spec.serviceAccountName') return pod.spec?.serviceAccountName ?? '';
  if (p === 'status.podIP' || p === 'status.hostIP') return '127.0.0.1';
  const label = /^metadata\.labels\['(.+)'\]$/.exec(p);
  if (label) return m.labels?.[label[1]!] ?? '';
  const ann = /^metadata\.annotations\['(.+)'\]$/.exec(p);
  if (ann) return m.annotations?.[ann[1]!] ?? '';
  throw new ContainerStartBlocked(
    'CreateContainerConfigError',
    `unsupported fieldRef ${p} (the node agent resolves metadata.*, spec.nodeName, status.podIP)`,
  );
}

/** The kubelet's `$(VAR)` expansion in env values, command and args. */
export function expand(value: string, env: Record<string, string>): string {
  return value.replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)|\$\$/g, (all, name: string | undefined) =>
    name === undefined ? '$' : (env[name] ?? all),
  );
}

async function envVarValue(ctx: ResolveContext, v: V1EnvVar, env: Record<string, string>) {
  const ns = ctx.pod.metadata?.namespace ?? 'default';
  if (v.value !== undefined) return expand(v.value, env);
  const from = v.valueFrom;
  if (!from) return '';
  if (from.secretKeyRef) {
    const { name, key, optional } = from.secretKeyRef;
    const data = await readSecretData(ctx.core, ns, name ?? '');
    if (!data) {
      if (optional) return undefined;
      throw new ContainerStartBlocked('CreateContainerConfigError', `secret "${name}" not found`);
    }
    if (!(key in data)) {
      if (optional) return undefined;
      throw new ContainerStartBlocked(
        'CreateContainerConfigError',
        `couldn't find key ${key} in Secret ${ns}/${name}`,
      );
    }
    return data[key];
  }
  if (from.configMapKeyRef) {
    const { name, key, optional } = from.configMapKeyRef;
    const data = await readConfigMapData(ctx.core, ns, name ?? '');
    if (!data) {
      if (optional) return undefined;
      throw new ContainerStartBlocked(
        'CreateContainerConfigError',
        `configmap "${name}" not found`,
      );
    }
    if (!(key in data)) {
      if (optional) return undefined;
      throw new ContainerStartBlocked(
        'CreateContainerConfigError',
        `couldn't find key ${key} in ConfigMap ${ns}/${name}`,
      );
    }
    return data[key];
  }
  if (from.fieldRef) return fieldValue(ctx.pod, from.fieldRef);
  if (from.resourceFieldRef) return '';
  return '';
}

export async function containerEnv(
  ctx: ResolveContext,
  c: V1Container,
): Promise<Record<string, string>> {
  const ns = ctx.pod.metadata?.namespace ?? 'default';
  const env: Record<string, string> = {};
  for (const src of c.envFrom ?? []) {
    const prefix = src.prefix ?? '';
    if (src.secretRef) {
      const data = await readSecretData(ctx.core, ns, src.secretRef.name ?? '');
      if (!data && !src.secretRef.optional) {
        throw new ContainerStartBlocked(
          'CreateContainerConfigError',
          `secret "${src.secretRef.name}" not found`,
        );
      }
      for (const [k, v] of Object.entries(data ?? {})) env[prefix + k] = v;
    }
    if (src.configMapRef) {
      const data = await readConfigMapData(ctx.core, ns, src.configMapRef.name ?? '');
      if (!data && !src.configMapRef.optional) {
        throw new ContainerStartBlocked(
          'CreateContainerConfigError',
          `configmap "${src.configMapRef.name}" not found`,
        );
      }
      for (const [k, v] of Object.entries(data ?? {})) env[prefix + k] = v;
    }
  }
  for (const v of c.env ?? []) {
    const value = await envVarValue(ctx, v, env);
    if (value !== undefined) env[v.name] = value;
  }
  return env;
}

async function writeItems(
  dir: string,
  data: Record<string, string>,
  items: V1KeyToPath[] | undefined,
  what: string,
): Promise<void> {
  await mkdir(dir, { recursive: true });
  const entries = items?.length
    ? items.map((i) => {
        if (!(i.key in data)) {
          throw new ContainerStartBlocked(
            'ContainerCreating',
            `couldn't find key ${i.key} in ${what}`,
          );
        }
        return [i.path, data[i.key]!] as const;
      })
    : Object.entries(data);
  for (const [p, v] of entries) {
    const file = path.join(dir, p);
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, v, { mode: 0o644 });
  }
}

export function mountFailed(volume: string, why: string): ContainerStartBlocked {
  return new ContainerStartBlocked(
    'ContainerCreating',
    `MountVolume.SetUp failed for volume "${volume}" : ${why}`,
  );
}

/** Host dir of one pod volume, with its files written (Secrets, ConfigMaps, tokens). */
export async function volumeDir(ctx: ResolveContext, v: V1Volume): Promise<string> {
  const ns = ctx.pod.metadata?.namespace ?? 'default';
  const own = path.join(ctx.podDir, 'volumes', v.name);
  if (v.emptyDir) {
    await mkdir(own, { recursive: true });
    return own;
  }
  if (v.hostPath) {
    await mkdir(v.hostPath.path, { recursive: true });
    return v.hostPath.path;
  }
  if (v.persistentVolumeClaim) {
    return claimDir(ctx, ns, v.persistentVolumeClaim.claimName, v.name);
  }
  if (v.secret) {
    const data = await readSecretData(ctx.core, ns, v.secret.secretName ?? '');
    if (!data) {
      if (!v.secret.optional)
        throw mountFailed(v.name, `secret "${v.secret.secretName}" not found`);
      await mkdir(own, { recursive: true });
      return own;
    }
    await writeItems(own, data, v.secret.items, `Secret ${ns}/${v.secret.secretName}`);
    return own;
  }
  if (v.configMap) {
    const data = await readConfigMapData(ctx.core, ns, v.configMap.name ?? '');
    if (!data) {
      if (!v.configMap.optional)
        throw mountFailed(v.name, `configmap "${v.configMap.name}" not found`);
      await mkdir(own, { recursive: true });
      return own;
    }
    await writeItems(own, data, v.configMap.items, `ConfigMap ${ns}/${v.configMap.name}`);
    return own;
  }
  if (v.downwardAPI) {
    const data: Record<string, string> = {};
    for (const i of v.downwardAPI.items ?? []) {
      if (i.fieldRef) data[i.path] = fieldValue(ctx.pod, i.fieldRef);
    }
    await writeItems(own, data, undefined, 'downwardAPI');
    return own;
  }
  if (v.projected) {
    await mkdir(own, { recursive: true });
    for (const s of v.projected.sources ?? []) {
      if (s.secret) {
        const data = await readSecretData(ctx.core, ns, s.secret.name ?? '');
        if (!data && !s.secret.optional)
          throw mountFailed(v.name, `secret "${s.secret.name}" not found`);
        await writeItems(own, data ?? {}, s.secret.items, `Secret ${ns}/${s.secret.name}`);
      }
      if (s.configMap) {
        const data = await readConfigMapData(ctx.core, ns, s.configMap.name ?? '');
        if (!data && !s.configMap.optional) {
          throw mountFailed(v.name, `configmap "${s.configMap.name}" not found`);
        }
        await writeItems(own, data ?? {}, s.configMap.items, `ConfigMap ${ns}/${s.configMap.name}`);
      }
      if (s.downwardAPI) {
        const data: Record<string, string> = {};
        for (const i of s.downwardAPI.items ?? []) {
          if (i.fieldRef) data[i.path] = fieldValue(ctx.pod, i.fieldRef);
        }
        await writeItems(own, data, undefined, 'downwardAPI');
      }
      if (s.serviceAccountToken) {
        // A real bound token (TokenRequest), as a kubelet mounts it.
        const sa = ctx.pod.spec?.serviceAccountName ?? 'default';
        const tr = await ctx.core.createNamespacedServiceAccountToken({
          name: sa,
          namespace: ns,
          body: {
            spec: {
              audiences: s.serviceAccountToken.audience ? [s.serviceAccountToken.audience] : [],
              expirationSeconds: s.serviceAccountToken.expirationSeconds ?? 3607,
              boundObjectRef: {
                kind: 'Pod',
                apiVersion: 'v1',
                name: ctx.pod.metadata?.name,
                uid: ctx.pod.metadata?.uid,
              },
            },
          },
        });
        await writeItems(
          own,
          { [s.serviceAccountToken.path]: tr.status?.token ?? '' },
          undefined,
          'token',
        );
      }
    }
    return own;
  }
  throw mountFailed(v.name, 'volume type not supported by the node agent');
}

/**
 * A claim's files live where its bound PersistentVolume says (a hostPath or local path on this
 * machine), else in a dir named after the volume: a continuation on the same claim sees them.
 */
async function claimDir(
  ctx: ResolveContext,
  namespace: string,
  claim: string,
  volume: string,
): Promise<string> {
  let pvName: string | undefined;
  try {
    const pvc = await ctx.core.readNamespacedPersistentVolumeClaim({ name: claim, namespace });
    pvName = pvc.spec?.volumeName;
  } catch (err) {
    if (apiCode(err) === 404) {
      throw mountFailed(volume, `persistentvolumeclaim "${claim}" not found`);
    }
    throw err;
  }
  if (!pvName) throw mountFailed(volume, `persistentvolumeclaim "${claim}" is not bound`);
  const pv = await ctx.core.readPersistentVolume({ name: pvName });
  const dir = pv.spec?.hostPath?.path ?? pv.spec?.local?.path ?? path.join(ctx.volumesDir, pvName);
  await mkdir(dir, { recursive: true });
  return dir;
}

/** Container path → host path by the longest matching mapping; other values unchanged. */
export function mapPath(value: string, mappings: PathMapping[]): string {
  const rewrite = (p: string): string => {
    for (const m of mappings) {
      if (p === m.containerPath) return m.hostPath;
      if (p.startsWith(m.containerPath + '/')) return m.hostPath + p.slice(m.containerPath.length);
    }
    return p;
  };
  if (value.startsWith('/')) return rewrite(value);
  // `--flag=/path`
  const flag = /^(--?[\w.-]+=)(\/.*)$/.exec(value);
  if (flag) return flag[1]! + rewrite(flag[2]!);
  return value;
}

/** The project image's ENV (Containerfile), adapted: pods share the host's network here. */
const PROJECT_IMAGE_ENV: Record<string, string> = {
  NODE_ENV: 'production',
  HOME: '/tmp',
  TMPDIR: '/tmp',
  WORKSPACE_PATH: '/workspace',
  CLAUDE_RUNNER_HOST: '127.0.0.1',
  CLAUDE_RUNNER_DATA_DIR: '/data',
  RUNNER_SANDBOX: 'off',
};
/** Writable dirs of the project image's filesystem, kept per pod under its rootfs/. */
const IMAGE_DIRS = ['/workspace', '/data', '/tmp'];

function argvFor(kind: ImageKind, c: V1Container): string[] {
  // Kubernetes: `command` replaces the ENTRYPOINT (and drops the CMD), `args` replaces the CMD.
  if (kind === 'project') {
    const argv = c.command?.length
      ? [...c.command, ...(c.args ?? [])]
      : ['/app/bin/container-entrypoint.sh', ...(c.args ?? ['--help'])];
    if (ENTRYPOINTS.has(argv[0]!)) {
      const rest = argv.slice(1);
      return [process.execPath, ...(rest[0] === 'run' ? RUN_NODE_FLAGS : []), CLI_MAIN, ...rest];
    }
    return argv;
  }
  return c.command?.length ? [...c.command, ...(c.args ?? [])] : ['node', ...(c.args ?? [])];
}

export async function resolveContainer(ctx: ResolveContext, c: V1Container): Promise<ProcessSpec> {
  if (ctx.podman) return resolvePodmanContainer(ctx, c, ctx.podman);
  const kind = imageKind(c.image);
  if (!c.image) throw new ContainerStartBlocked('InvalidImageName', 'the container has no image');
  if (!kind) {
    throw new ContainerStartBlocked(
      'ErrImagePull',
      `Failed to pull image "${c.image}": the node agent runs only the project's image ` +
        '(…/claude-code-runner:<tag>) and node:<tag> (docs/kubernetes-testing.md)',
    );
  }
  if (kind === 'project' && !existsSync(CLI_MAIN)) {
    throw new ContainerStartBlocked(
      'ErrImagePull',
      `Failed to pull image "${c.image}": ${CLI_MAIN} is missing (run \`npm run build\`)`,
    );
  }
  const containerDir = path.join(ctx.podDir, 'containers', c.name);
  const rootfs = path.join(ctx.podDir, 'rootfs');
  await mkdir(containerDir, { recursive: true });
  const mappings: PathMapping[] = [];
  const volumes = new Map((ctx.pod.spec?.volumes ?? []).map((v) => [v.name, v]));
  for (const m of c.volumeMounts ?? []) {
    const v = volumes.get(m.name);
    if (!v) throw mountFailed(m.name, 'no such volume in the pod spec');
    const dir = path.join(await volumeDir(ctx, v), m.subPath ?? '');
    await mkdir(dir, { recursive: true });
    mappings.push({ containerPath: m.mountPath.replace(/\/+$/, ''), hostPath: dir });
  }
  const terminationPath = c.terminationMessagePath || '/dev/termination-log';
  const terminationLog = path.join(containerDir, 'termination-log');
  await writeFile(terminationLog, '');
  mappings.push({ containerPath: terminationPath, hostPath: terminationLog });
  if (kind === 'project') {
    mappings.push({ containerPath: '/app', hostPath: REPO_ROOT.replace(/\/$/, '') });
    for (const d of IMAGE_DIRS) {
      if (mappings.some((m) => m.containerPath === d)) continue;
      mappings.push({ containerPath: d, hostPath: path.join(rootfs, d) });
      await mkdir(path.join(rootfs, d), { recursive: true });
    }
  }
  mappings.sort((a, b) => b.containerPath.length - a.containerPath.length);

  const ownEnv = await containerEnv(ctx, c);
  const base: Record<string, string> = {
    PATH: ctx.hostPath,
    HOSTNAME: ctx.pod.metadata?.name ?? '',
    // A kubelet points these at the Service's cluster IP; here the API is on 127.0.0.1.
    KUBERNETES_SERVICE_HOST: '127.0.0.1',
    KUBERNETES_SERVICE_PORT: String(ctx.apiPort),
    ...(kind === 'project' ? PROJECT_IMAGE_ENV : {}),
    ...ctx.extraEnv,
  };
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries({ ...base, ...ownEnv })) {
    env[k] = k === 'PATH' ? v : mapPath(v, mappings);
  }
  const argv = argvFor(kind, c).map((a) => mapPath(expand(a, env), mappings));
  if (argv[0] === 'node' || argv[0] === '/usr/local/bin/node') argv[0] = process.execPath;
  const workingDir = c.workingDir
    ? mapPath(c.workingDir, mappings)
    : kind === 'project'
      ? mapPath('/workspace', mappings)
      : rootfs;
  await mkdir(workingDir, { recursive: true });
  const limit = c.resources?.limits?.memory;
  return {
    container: c.name,
    argv: argv as [string, ...string[]],
    env,
    cwd: workingDir,
    terminationLog,
    fallbackToLogsOnError: c.terminationMessagePolicy === 'FallbackToLogsOnError',
    memoryLimitBytes: limit ? parseQuantity(String(limit)) : undefined,
    mappings,
  };
}
