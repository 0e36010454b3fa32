/**
 * The node agent's optional runtime: each container in the project's image under podman (host
 * network, volumes bind-mounted at their real mount paths, the image's own user and ENV), for
 * where the image is built (`scripts/image.sh`). No path rewriting is needed; `node:<tag>`
 * images run in the project's image too (it has Node). Memory limits are podman's `--memory`;
 * on this kind of VM podman cannot tell an OOM kill (`OOMKilled` stays false under cgroup v1),
 * so an exit of 137 that the agent did not cause, with a limit set, counts as one.
 */
import { execFileSync } from 'node:child_process';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { V1Container } from '@kubernetes/client-node';
import {
  ContainerStartBlocked,
  containerEnv,
  expand,
  imageKind,
  mountFailed,
  parseQuantity,
  volumeDir,
  type PathMapping,
  type ProcessSpec,
  type ResolveContext,
} from './pod-config.js';

/** A private podman configuration, as scripts/image.sh writes it: runc, ulimits it may set. */
export async function writeContainersConf(file: string): Promise<string> {
  let nofile = 1048576;
  try {
    const hard = execFileSync('sh', ['-c', 'ulimit -Hn'], { encoding: 'utf8' }).trim();
    if (/^\d+$/.test(hard)) nofile = Number(hard);
  } catch {
    // keep the default
  }
  await writeFile(
    file,
    `[containers]\ndefault_ulimits = ["nofile=${nofile}:${nofile}", "nproc=32768:32768"]\n\n[engine]\nruntime = "runc"\n`,
  );
  return file;
}

/** Whether podman can run `image` here. */
export function podmanImageExists(image: string): boolean {
  try {
    execFileSync('podman', ['image', 'exists', image], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

export async function resolvePodmanContainer(
  ctx: ResolveContext,
  c: V1Container,
  podman: { image: string; containersConf: string },
): Promise<ProcessSpec> {
  const kind = imageKind(c.image);
  if (!kind) {
    throw new ContainerStartBlocked(
      'ErrImagePull',
      `Failed to pull image "${c.image}": the node agent runs only the project's image ` +
        '(…/claude-code-runner:<tag>) and node:<tag> (docs/kubernetes-testing.md)',
    );
  }
  const uid = ctx.pod.metadata?.uid ?? 'pod';
  const containerDir = path.join(ctx.podDir, 'containers', c.name);
  await mkdir(containerDir, { recursive: true });
  const volumes = new Map((ctx.pod.spec?.volumes ?? []).map((v) => [v.name, v]));
  const binds: string[] = [];
  const mappings: PathMapping[] = [];
  for (const m of c.volumeMounts ?? []) {
    const v = volumes.get(m.name);
    if (!v) throw mountFailed(m.name, 'no such volume in the pod spec');
    const dir = path.join(await volumeDir(ctx, v), m.subPath ?? '');
    await mkdir(dir, { recursive: true });
    // The image runs as an arbitrary user in group 0, as a volume's group permissions allow.
    if (!v.secret && !v.configMap && !v.projected && !v.downwardAPI) await chmod(dir, 0o777);
    binds.push('-v', `${dir}:${m.mountPath}${m.readOnly ? ':ro' : ''}`);
    mappings.push({ containerPath: m.mountPath, hostPath: dir });
  }
  const terminationLog = path.join(containerDir, 'termination-log');
  await writeFile(terminationLog, '');
  await chmod(terminationLog, 0o666);
  binds.push('-v', `${terminationLog}:${c.terminationMessagePath || '/dev/termination-log'}`);

  const env: Record<string, string> = {
    HOSTNAME: ctx.pod.metadata?.name ?? '',
    KUBERNETES_SERVICE_HOST: '127.0.0.1',
    KUBERNETES_SERVICE_PORT: String(ctx.apiPort),
    ...ctx.extraEnv,
    ...(await containerEnv(ctx, c)),
  };
  const envFile = path.join(containerDir, 'env');
  // A file, not `-e NAME=value`: values (secrets) never appear on a command line.
  await writeFile(
    envFile,
    Object.entries(env)
      .filter(([, v]) => !v.includes('\n'))
      .map(([k, v]) => `${k}=${v}\n`)
      .join(''),
    { mode: 0o600 },
  );
  const command = (c.command ?? []).map((a) => expand(a, env));
  const args = (c.args ?? []).map((a) => expand(a, env));
  const entry = command.length
    ? ['--entrypoint', command[0]!]
    : kind === 'node'
      ? ['--entrypoint', 'node']
      : [];
  const rest = command.length ? [...command.slice(1), ...args] : c.args ? args : [];
  const limit = c.resources?.limits?.memory;
  const name = `ccr-${uid.slice(0, 8)}-${c.name}`;
  const argv: [string, ...string[]] = [
    'podman',
    'run',
    '--rm',
    '--replace',
    '--name',
    name,
    '--network',
    'host',
    '--no-healthcheck',
    '--env-file',
    envFile,
    ...binds,
    ...(c.workingDir ? ['--workdir', c.workingDir] : []),
    ...(limit ? ['--memory', String(parseQuantity(String(limit)))] : []),
    ...entry,
    podman.image,
    ...rest,
  ];
  return {
    container: c.name,
    argv,
    env: { ...(process.env as Record<string, string>), CONTAINERS_CONF: podman.containersConf },
    cwd: containerDir,
    terminationLog,
    fallbackToLogsOnError: c.terminationMessagePolicy === 'FallbackToLogsOnError',
    mappings,
    podmanName: name,
    ...(limit ? { oomOnExit137: true } : {}),
  };
}
