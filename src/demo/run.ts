/**
 * One demo run: the scripted model (offline) and the control plane in this process, the demo
 * repo, one session created through the REST API and streamed with the client's renderer, then
 * what it pushed. Everything started here is closed in `finally`, in reverse order: the control
 * plane first (it stops the runner: SIGTERM, then SIGKILL of its process group after the grace),
 * then the model server, then the temp data dir.
 */
import { mkdirSync, mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ApiClient } from '../client/api.js';
import { followSession } from '../client/follow.js';
import { paint, type Style } from '../client/render.js';
import { Terminal, type OutStream } from '../client/terminal.js';
import { colorEnabled } from '../config/client-config.js';
import { demoServeEnv, describeModel, type DemoConfig } from '../config/demo-config.js';
import type { Env } from '../config/env.js';
import { loadServeConfig, type ServeConfig } from '../config/serve-config.js';
import { startControlPlane, type ControlPlane } from '../control-plane/app.js';
import { ControlPlaneRedactor } from '../control-plane/redaction.js';
import { createLogger } from '../observability/logger.js';
import {
  startScriptedModelServer,
  type ScriptedModelServer,
} from '../testing/scripted-model/index.js';
import {
  DEMO_FILES,
  ensureDemoRepo,
  pushedResult,
  renderPushed,
  requireGit,
  type DemoRepo,
} from './repo.js';

export const DEMO_PROJECT = 'demo';
/** The shipped scenario the scripted model plays (scenarios/demo-repo.json). */
export const DEMO_SCENARIO = 'demo-repo';
/** A bound on the session, so a demo never runs for ever (seconds). */
const TIMEOUT_OFFLINE_S = 300;
const TIMEOUT_REAL_S = 1800;
/** How long to wait for the runner to exit once it has reported the end. */
const RUNNER_EXIT_WAIT_MS = 15_000;

export interface DemoIO {
  stdout: OutStream;
  stderr: OutStream;
  env: Env;
}

/** `signal` is aborted by Ctrl-C; its `reason` is the exit code to return (130 or 143). */
export async function runDemo(
  config: Readonly<DemoConfig>,
  io: DemoIO,
  signal: AbortSignal,
): Promise<number> {
  const isTTY = io.stdout.isTTY === true;
  const color = !config.noColor && colorEnabled(isTTY, io.env);
  const width = isTTY && io.stdout.columns ? Math.max(io.stdout.columns - 1, 40) : 160;
  const style: Style = { color, width, verbose: config.verbose };
  const out = (line = '') => io.stdout.write(`${line}\n`);
  const row = (k: string, v: string) => out(`  ${paint(style, 'dim', k.padEnd(9))} ${v}`);
  const stopped = () => (typeof signal.reason === 'number' ? signal.reason : 130);

  requireGit(); // before anything is created
  const ownDir = !config.dataDir;
  const dataDir = config.dataDir ?? realpathSync(mkdtempSync(path.join(tmpdir(), 'ccr-demo-')));
  let model: ScriptedModelServer | undefined;
  let cp: ControlPlane | undefined;
  try {
    mkdirSync(path.join(dataDir, 'tmp'), { recursive: true, mode: 0o700 });
    if (config.model.kind === 'scripted')
      model = await startScriptedModelServer({ quiet: true, defaultScenario: DEMO_SCENARIO });
    const serveConfig = demoServeConfig(config, dataDir, model?.url);
    const logger = createLogger({
      level: serveConfig.logLevel,
      redactor: new ControlPlaneRedactor(serveConfig.secrets),
      scope: 'demo',
      write: (line) => io.stderr.write(line),
    });
    cp = await startControlPlane(serveConfig, logger);
    // Files the model wrote are shown at the end: redact serve's secrets and the user token.
    const redactor = new ControlPlaneRedactor([...serveConfig.secrets, cp.token.token]);
    const repo = await ensureDemoRepo(dataDir);
    if (signal.aborted) return stopped();

    out(paint(style, 'bold', 'claude-code-runner demo'));
    row('model', describeModel(config.model, model?.url));
    row('control', `${cp.url} (data dir ${dataDir})`);
    row(
      'repo',
      `${repo.name}: ${Object.keys(DEMO_FILES).join(', ')} (${repo.url}, branch ${repo.branch})`,
    );
    row('prompt', config.prompt);

    const api = new ApiClient({
      url: cp.url,
      urlSource: 'flag',
      token: cp.token.token,
      tokenSource: 'flag',
      project: DEMO_PROJECT,
      warnings: [],
    });
    const session = await api.create({
      prompt: config.prompt,
      displayName: 'claude-code-runner demo',
      repos: [{ name: repo.name, input: { url: repo.url, branch: repo.branch } }],
      autoPushOnComplete: true,
      timeout: config.model.kind === 'scripted' ? TIMEOUT_OFFLINE_S : TIMEOUT_REAL_S,
    });
    const name = session.metadata.name;
    row('session', name);
    row(
      'watch',
      paint(
        style,
        'dim',
        `also from another terminal: CLAUDE_RUNNER_DATA_DIR=${dataDir} claude-code-runner session watch ${name} --url ${cp.url} --project ${DEMO_PROJECT}`,
      ),
    );
    out();

    const followed = await followSession({
      api,
      name,
      session,
      terminal: new Terminal(io.stdout, { spinner: isTTY, color }),
      style: { ...style, session: name },
      json: false,
      stdout: io.stdout,
      stderr: io.stderr,
      signal,
    });
    if (followed.phase === undefined) {
      out();
      out(paint(style, 'yellow', 'stopping the session and the demo…'));
      return stopped();
    }
    await waitForRunnerExit(api, name, signal);
    out();
    const kept = !ownDir || config.keep;
    const offline = config.model.kind === 'scripted';
    showResult(repo, name, { dataDir, kept, offline }, style, out, redactor);
    return followed.exitCode;
  } finally {
    // Stops the runner (and so the CLI and whatever the agent started) before anything else.
    await cp?.close();
    await model?.close();
    if (ownDir && !config.keep) {
      rmSync(dataDir, { recursive: true, force: true, maxRetries: 3 });
      out(paint(style, 'dim', `data dir ${dataDir} removed (keep it next time with --keep)`));
    } else {
      out(
        paint(
          style,
          'dim',
          `data dir kept: ${dataDir} (look around with: claude-code-runner serve --data-dir ${dataDir})`,
        ),
      );
    }
  }
}

/** The control plane's configuration, through serve's own loader (same checks, same defaults). */
function demoServeConfig(
  config: Readonly<DemoConfig>,
  dataDir: string,
  modelUrl: string | undefined,
): Readonly<ServeConfig> {
  const flags = [
    ...['--host', '127.0.0.1', '--port', String(config.port), '--data-dir', dataDir],
    ...['--max-concurrent', '1', '--log-level', config.verbose ? 'info' : 'warn'],
  ];
  const parsed = loadServeConfig(flags, demoServeEnv(config, dataDir, modelUrl), dataDir);
  if (parsed.help) throw new Error('unreachable: the demo never asks serve for --help');
  return parsed.config;
}

/** The runner exits shortly after it has reported the end (it flushes first); wait for that. */
async function waitForRunnerExit(api: ApiClient, name: string, signal: AbortSignal): Promise<void> {
  const deadline = Date.now() + RUNNER_EXIT_WAIT_MS;
  while (Date.now() < deadline && !signal.aborted) {
    const s = await api.get(name);
    if (s.status.exitCode !== undefined) return;
    await new Promise((r) => setTimeout(r, 100));
  }
}

function showResult(
  repo: DemoRepo,
  name: string,
  where: { dataDir: string; kept: boolean; offline: boolean },
  style: Style,
  out: (line?: string) => void,
  redactor: ControlPlaneRedactor,
): void {
  const branch = `sessions/${name}`;
  const pushed = pushedResult(repo, branch);
  if (pushed)
    for (const line of renderPushed(pushed, repo, style, (t) => redactor.redact(t))) out(line);
  else
    out(`${paint(style, 'yellow', '●')} nothing was pushed to ${branch} (see the messages above)`);
  out();
  if (where.offline)
    out(
      paint(
        style,
        'dim',
        "offline: the tokens are the scripted model's estimates; nothing was billed",
      ),
    );
  if (!where.kept) return;
  const row = (k: string, v: string) => out(`  ${paint(style, 'dim', k.padEnd(9))} ${v}`);
  if (pushed) row('result', `branch ${branch} of ${repo.path}`);
  row('workspace', path.join(where.dataDir, 'workspaces', name, repo.name));
  row('logs', path.join(where.dataDir, 'logs', name));
}
