/**
 * Smoke tests of the container image, run by `scripts/image.sh smoke` (not part of `npm test`:
 * they need podman, root and a built image). The image is run as a platform runs it: an
 * arbitrary UID in group 0, a read-only root filesystem, its workspace on a volume.
 *
 *   CCR_IMAGE=localhost/claude-code-runner:0.1.0 node dist/test/image/smoke.js
 *
 * Variables (scripts/image.sh sets them): CCR_IMAGE (the image), CCR_IMAGE_RUN_ID (labels the
 * containers so the script can remove leftovers), CCR_IMAGE_SECRET_FILE (the CA bundle handed to
 * the build as a secret: none of its certificates may be in the image unless Debian ships them
 * too), CCR_IMAGE_REVISION (the git commit the image must be labelled with), CCR_IMAGE_WORK_DIR
 * (the script's temp dir: serve's data dir goes there), CONTAINERS_CONF (podman's configuration).
 */
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer } from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { readProcessEnv } from '../../src/config/process-env.js';
import { liveProcesses, processEnviron } from '../../src/control-plane/executor/procfs.js';
import {
  startScriptedModelServer,
  type Scenario,
  type ScriptedModelServer,
} from '../../src/testing/scripted-model/index.js';
import { startServe, type ServeHandle } from '../../src/testing/serve-process.js';
import {
  createSession,
  history,
  waitFor,
  waitForPhase,
  watch,
  type Entry,
  type SessionJson,
} from '../control-plane/helpers.js';

const env = readProcessEnv();
const IMAGE = env.CCR_IMAGE ?? '';
const RUN_ID = env.CCR_IMAGE_RUN_ID ?? `ccr-smoke-${process.pid}`;
const SECRET_FILE = env.CCR_IMAGE_SECRET_FILE ?? '';
const REVISION = env.CCR_IMAGE_REVISION ?? '';
const WORK_DIR = env.CCR_IMAGE_WORK_DIR ?? '';
const UID = 123456;
/** A dummy key in the shape of a real one: it must not end up anywhere it should not. */
const API_KEY = 'sk-ant-api03-image-smoke-dummy-key-0123456789abcdef';
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const PACKAGE = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
  version: string;
};
const RUNNER_COMMAND = [
  path.join(ROOT, 'test/image/podman-runner.sh'),
  env.CONTAINERS_CONF ?? '',
  IMAGE,
  RUN_ID,
];

if (!IMAGE) throw new Error('CCR_IMAGE is not set: name the image to test (scripts/image.sh does)');

/** `env`: added to podman's environment, for `--env NAME` (values stay off the command line). */
function podman(
  args: string[],
  opts: { allowFailure?: boolean; env?: Record<string, string> } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const options = { maxBuffer: 64 << 20, env: { ...env, ...opts.env } };
  return new Promise((resolve, reject) => {
    execFile('podman', args, options, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      if (code !== 0 && !opts.allowFailure)
        reject(new Error(`podman ${args.join(' ')} exited ${code}: ${stderr.slice(-2000)}`));
      else resolve({ code, stdout, stderr });
    });
  });
}

/** `podman run --rm` of the image as OpenShift would: arbitrary UID, no capabilities, read-only root. */
function runImage(args: string[], runArgs: string[] = []) {
  return podman(
    [
      'run',
      '--rm',
      '--no-healthcheck',
      '--user',
      `${UID}:0`,
      '--read-only',
      '--cap-drop',
      'all',
      '--security-opt',
      'no-new-privileges',
      '--label',
      `io.claude-code-runner.run=${RUN_ID}`,
      ...runArgs,
      IMAGE,
      ...args,
    ],
    { allowFailure: true },
  );
}

async function containersOf(label: string): Promise<string[]> {
  const res = await podman(['ps', '-a', '--format', '{{.Names}}', '--filter', `label=${label}`]);
  return res.stdout.split('\n').filter(Boolean);
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

/** The certificates (PEM) of a bundle. */
function certificates(pem: string): string[] {
  return pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
}

/** A line from inside a certificate's body: specific to it (the first lines share prefixes). */
function fingerprintLine(cert: string): string {
  const body = cert.split('\n').filter((l) => l && !l.startsWith('-----'));
  return body[Math.floor(body.length / 2)]!;
}

describe(`the image ${IMAGE}`, () => {
  it('--help lists every role and --version prints the package version', async () => {
    const help = await runImage(['--help']);
    assert.equal(help.code, 0, help.stderr);
    for (const role of ['run', 'serve', 'session', 'scripted-model'])
      assert.match(help.stdout, new RegExp(`^  ${role} `, 'm'), `--help names ${role}`);
    const version = await runImage(['--version']);
    assert.equal(version.code, 0, version.stderr);
    assert.equal(version.stdout, `${PACKAGE.version}\n`);
  });

  it('is labelled, runs as a non-root user in group 0, exposes 8080, checks its health', async () => {
    const [info] = JSON.parse((await podman(['image', 'inspect', IMAGE])).stdout) as {
      Config: {
        User: string;
        Labels: Record<string, string>;
        ExposedPorts: Record<string, unknown>;
        Env: string[];
        Entrypoint: string[];
      };
      Healthcheck?: { Test: string[] };
    }[];
    const { Config: config } = info!;
    assert.equal(config.User, '1001:0');
    assert.equal(config.Labels['org.opencontainers.image.version'], PACKAGE.version);
    assert.equal(config.Labels['org.opencontainers.image.title'], 'claude-code-runner');
    assert.equal(config.Labels['org.opencontainers.image.licenses'], 'Apache-2.0');
    const revision = config.Labels['org.opencontainers.image.revision'] ?? '';
    if (REVISION) assert.equal(revision, REVISION, 'labelled with the commit it was built from');
    else assert.match(revision, /^([0-9a-f]{40}|unknown)$/);
    assert.ok('8080/tcp' in config.ExposedPorts, 'port 8080 exposed');
    assert.ok(config.Env.includes('RUNNER_SANDBOX=off'), 'the sandbox is off in a container');
    assert.ok(config.Env.includes('HOME=/tmp'), 'HOME is writable under a read-only root');
    assert.deepEqual(config.Entrypoint, ['/app/bin/container-entrypoint.sh']);
    assert.deepEqual(info!.Healthcheck?.Test, [
      'CMD',
      'node',
      '/app/bin/container-healthcheck.mjs',
    ]);
  });

  it('git accepts a repository another UID owns (a workspace volume an earlier pod wrote)', async () => {
    const repo = mkdtempSync(path.join(WORK_DIR || tmpdir(), 'repo-'));
    try {
      execFileSync('git', ['init', '--quiet', repo]);
      chmodSync(repo, 0o755); // readable by the container's UID; owned by root, not by it
      const res = await runImage(
        ['-C', '/repo', 'status', '--porcelain'],
        ['--entrypoint', 'git', '--volume', `${repo}:/repo:ro`],
      );
      assert.equal(res.code, 0, res.stderr);
      assert.doesNotMatch(res.stderr, /dubious ownership/);
    } finally {
      rmSync(repo, { recursive: true, force: true });
    }
  });

  it('carries no secret: no certificate or token in its history, config or files', async (t) => {
    const meta = [
      (await podman(['history', '--no-trunc', '--format', 'json', IMAGE])).stdout,
      (await podman(['image', 'inspect', IMAGE])).stdout,
    ].join('\n');
    assert.ok(!meta.includes('BEGIN CERTIFICATE'), 'no certificate in the history or config');
    assert.doesNotMatch(meta, /sk-ant-|ghp_|glpat-|BEGIN [A-Z ]*PRIVATE KEY/, 'no token');
    if (!SECRET_FILE) return;
    // The certificates of the build secret that Debian does not ship: the proxy's own CA.
    const own = await runImage(['/etc/ssl/certs/ca-certificates.crt'], ['--entrypoint', 'cat']);
    assert.equal(own.code, 0, own.stderr);
    const shipped = new Set(certificates(own.stdout).map(fingerprintLine));
    const extra = certificates(readFileSync(SECRET_FILE, 'utf8'))
      .map(fingerprintLine)
      .filter((l) => !shipped.has(l));
    t.diagnostic(`looked for the ${extra.length} certificate(s) of the build secret Debian lacks`);
    for (const line of extra) assert.ok(!meta.includes(line), 'the CA is not in the metadata');
    if (!extra.length) return;
    const mount = (await podman(['image', 'mount', IMAGE])).stdout.trim();
    try {
      const found = await new Promise<string>((resolve, reject) =>
        execFile(
          'grep',
          ['-rlF', ...extra.flatMap((l) => ['-e', l]), mount],
          { maxBuffer: 16 << 20 },
          (err, stdout) =>
            err && err.code !== 1 ? reject(err) : resolve(stdout.replaceAll(mount, '')),
        ),
      );
      assert.equal(found, '', `the build secret's CA is in no file of the image`);
    } finally {
      await podman(['image', 'unmount', IMAGE], { allowFailure: true });
    }
  });

  it('serve answers /health, passes its HEALTHCHECK, runs a session with its own runner, stops on SIGTERM', async () => {
    const port = await freePort();
    const name = `ccr-smoke-${RUN_ID}-serve`;
    const token = `ccr_smoke_${randomBytes(18).toString('base64url')}`;
    const model = await startScriptedModelServer({ quiet: true });
    try {
      await podman(
        [
          'run',
          '--detach',
          '--network',
          'host',
          '--user',
          `${UID}:0`,
          '--read-only',
          '--cap-drop',
          'all',
          '--security-opt',
          'no-new-privileges',
          '--tmpfs',
          '/data:rw,mode=0770',
          '--name',
          name,
          '--label',
          `io.claude-code-runner.run=${RUN_ID}`,
          ...['CLAUDE_RUNNER_API_TOKEN', 'ANTHROPIC_API_KEY', 'ANTHROPIC_BASE_URL'].flatMap((k) => [
            '--env',
            k,
          ]),
          '--env',
          'CLAUDE_RUNNER_HOST=127.0.0.1',
          '--env',
          'CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1',
          IMAGE,
          'serve',
          '--port',
          String(port),
        ],
        {
          env: {
            CLAUDE_RUNNER_API_TOKEN: token,
            ANTHROPIC_API_KEY: API_KEY,
            ANTHROPIC_BASE_URL: model.url,
          },
        },
      );
      const url = `http://127.0.0.1:${port}`;
      const health = await waitFor(
        async () => {
          try {
            const res = await fetch(`${url}/health`);
            return res.ok ? ((await res.json()) as { status: string; version: string }) : false;
          } catch {
            return false;
          }
        },
        "serve's /health",
        60_000,
        250,
      );
      assert.deepEqual(health, { status: 'ok', version: PACKAGE.version });
      const check = await podman(['healthcheck', 'run', name], { allowFailure: true });
      assert.equal(check.code, 0, `podman healthcheck run: ${check.stdout}${check.stderr}`);

      // serve's local executor: the runner is a child in the same container, its workspace in /data.
      const api = async (method: string, apiPath: string, body?: unknown) => {
        const res = await fetch(`${url}/api${apiPath}`, {
          method,
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
          ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        });
        return (await res.json()) as SessionJson;
      };
      const S = '/projects/demo/agentic-sessions';
      const created = await api('POST', S, { prompt: '[[scenario:write-file]] Create hello.txt' });
      const session = created.metadata.name;
      const done = await waitFor(
        async () => {
          const s = await api('GET', `${S}/${session}`);
          return s.status.exitCode !== undefined && s.status.exitCode !== null ? s : undefined;
        },
        'the session in the serve container to end',
        180_000,
        250,
      );
      assert.equal(done.status.phase, 'Completed', done.status.message);
      assert.equal(
        done.status.result,
        `Done: I wrote hello.txt in /data/workspaces/${session}/artifacts.`,
      );

      await podman(['stop', '--time', '20', name]);
      const state = await podman(['inspect', '--format', '{{.State.ExitCode}}', name]);
      assert.equal(state.stdout.trim(), '0', 'serve ends on SIGTERM with exit code 0');
    } finally {
      await podman(['rm', '--force', name], { allowFailure: true });
      await model.close();
    }
  });

  describe("the image's runner, started by a serve on the host for each session", () => {
    const STUCK: Scenario = {
      // A command that outlasts the test: only a stop ends it. (Not `sleep`: the CLI refuses it.)
      name: 'image-stuck',
      turns: [
        {
          steps: [
            {
              tools: [
                {
                  name: 'Bash',
                  input: {
                    command: 'timeout 300 tail -f /dev/null; echo woke',
                    description: 'Wait',
                  },
                },
              ],
            },
            { text: 'Woke up.' },
          ],
        },
      ],
    };
    let model: ScriptedModelServer;
    let serve: ServeHandle;

    before(async () => {
      model = await startScriptedModelServer({ scenarios: [STUCK], quiet: true });
      serve = await startServe({
        // Under the script's work dir (when given): removed even when these tests are killed.
        ...(WORK_DIR ? { dataDir: mkdtempSync(path.join(WORK_DIR, 'serve-')) } : {}),
        runnerCommand: RUNNER_COMMAND,
        graceMs: 20_000,
        env: {
          ANTHROPIC_BASE_URL: model.url,
          ANTHROPIC_API_KEY: API_KEY,
          CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
          CLAUDE_CODE_MAX_RETRIES: '1',
          RUNNER_RECONNECT_MAX_DELAY_MS: '300',
          LOG_LEVEL: 'info',
          // Runners in containers: the container is the boundary (serve would otherwise require
          // Claude Code's sandbox of its runners, and pass that into the container).
          RUNNER_SANDBOX: 'off',
        },
        startTimeoutMs: 60_000,
      });
    });
    after(async () => {
      await serve?.stop();
      if (WORK_DIR && serve) rmSync(serve.dataDir, { recursive: true, force: true });
      await model?.close();
    });

    const isToolCall = (e: Entry, tool: string) =>
      e.type === 'agent.message' && e.payload.tool === tool;

    it('runs a session end to end: frames streamed, Completed, the file written by its UID', async () => {
      const session = await createSession(serve, {
        prompt: '[[scenario:write-file]] Create hello.txt',
      });
      const name = session.metadata.name;
      const watcher = watch(serve, name);
      try {
        await watcher.opened;
        const done = await waitFor(
          async () => {
            const s = await waitForPhase(serve, name, ['Completed', 'Failed', 'Stopped', 'Error']);
            return s.status.exitCode !== undefined && s.status.exitCode !== null ? s : undefined;
          },
          'the session to end',
          180_000,
          250,
        );
        const logs = await serve.api('GET', `/projects/demo/agentic-sessions/${name}/logs`);
        assert.equal(done.status.phase, 'Completed', `${done.status.message}\n${logs.text}`);
        assert.equal(done.status.exitCode, 0);
        // Inside the container the workspace is /workspace, whatever the host calls it.
        assert.equal(done.status.result, 'Done: I wrote hello.txt in /workspace/artifacts.');

        const entries = await history(serve, name);
        assert.ok(
          entries.some((e) => isToolCall(e, 'Write')),
          'the Write call is in the history',
        );
        await waitFor(() => watcher.frames.length >= entries.length, 'the watcher to catch up');
        assert.ok(
          watcher.frames.some((e) => isToolCall(e, 'Write')),
          'the watcher saw the frames stream',
        );

        const file = path.join(serve.dataDir, 'workspaces', name, 'artifacts', 'hello.txt');
        assert.equal(readFileSync(file, 'utf8'), 'Hello from the scripted model!\n');
        assert.equal(statSync(file).uid, UID, 'written by the container as its arbitrary UID');
        assert.equal(statSync(file).gid, 0, '… in group 0');
        assert.ok(!logs.text.includes(API_KEY), 'the API key is not in the run log');
        assert.deepEqual(
          await containersOf(`io.claude-code-runner.session=${name}`),
          [],
          'the container was removed',
        );
      } finally {
        watcher.ws.close();
      }
    });

    it('stops on SIGTERM (a stop, as a deleted pod): Stopped within the grace, nothing left', async () => {
      const session = await createSession(serve, {
        prompt: '[[scenario:image-stuck]] Wait for ever',
      });
      const name = session.metadata.name;
      await waitFor(
        async () => (await history(serve, name)).some((e) => isToolCall(e, 'Bash')),
        'the Bash call to start',
        180_000,
        250,
      );
      assert.deepEqual(
        (await containersOf(`io.claude-code-runner.session=${name}`)).length,
        1,
        'the runner runs in its container',
      );
      const stop = await serve.api('POST', `/projects/demo/agentic-sessions/${name}/stop`);
      assert.ok(stop.status < 300, `stop answered ${stop.status}: ${stop.text}`);
      const done = await waitFor(
        async () => {
          const s = await waitForPhase(serve, name, ['Completed', 'Failed', 'Stopped', 'Error']);
          return s.status.exitCode !== undefined ? s : undefined;
        },
        'the session to stop',
        60_000,
        250,
      );
      assert.equal(done.status.phase, 'Stopped', done.status.message);
      // 143: the runner handled SIGTERM as PID 1 and exited by itself, before serve's SIGKILL.
      assert.equal(done.status.exitCode, 143);
      const entries = await history(serve, name);
      assert.ok(
        entries.some((e) => e.payload.event === 'session.stopped'),
        'the runner reported the stop itself',
      );
      assert.ok(
        !entries.some((e) => JSON.stringify(e.payload).includes('Woke up.')),
        'the turn did not go on after the stop',
      );
      await waitFor(
        async () =>
          (await containersOf(`io.claude-code-runner.session=${name}`)).length === 0 || undefined,
        'the container to be removed',
        20_000,
        250,
      );
      // The container's processes are the host's too: none of the session's is left.
      const tags = [`SESSION_ID=${name}`, `AGENTIC_SESSION_NAME=${name}`];
      assert.deepEqual(
        liveProcesses((pid) => processEnviron(pid)?.some((kv) => tags.includes(kv)) ?? false),
        [],
        'no process of the session is left',
      );
    });
  });
});
