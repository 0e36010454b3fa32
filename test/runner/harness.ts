// Runs the real `claude-code-runner run` process against the scripted model and a fake backend,
// and collects everything that crossed the wire, so tests assert on frames, statuses and files.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import {
  startScriptedModelServer,
  type Scenario,
  type ScriptedModelServer,
} from '../../src/testing/scripted-model/index.js';
import { FakeBackend, type FakeBackendOptions } from '../support/fake-backend.js';

export const CLI = resolve(import.meta.dirname, '../../src/cli/main.js');
export const API_KEY = 'sk-ant-api03-runner-test-key-0123456789';
export const BOT_TOKEN = 'bot-token-runner-test-abcdef123456';

export interface Harness {
  model: ScriptedModelServer;
  backend: FakeBackend;
  root: string;
  workspace: string;
  env: Record<string, string>;
  cleanup(): Promise<void>;
}

export async function harness(
  opts: { scenarios?: Scenario[]; backend?: FakeBackendOptions } = {},
): Promise<Harness> {
  const model = await startScriptedModelServer({ scenarios: opts.scenarios ?? [], quiet: true });
  const backend = await FakeBackend.start({ botToken: BOT_TOKEN, ...opts.backend });
  const root = mkdtempSync(join(tmpdir(), 'runner-test-'));
  const workspace = join(root, 'workspace');
  mkdirSync(join(root, 'home'));
  mkdirSync(join(root, 'tmp'));
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: join(root, 'home'),
    CLAUDE_CODE_TMPDIR: join(root, 'tmp'),
    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
    CLAUDE_CODE_MAX_RETRIES: '1',
    SESSION_ID: 's1',
    PROJECT_NAME: 'test',
    WEBSOCKET_URL: backend.wsUrl,
    BACKEND_API_URL: backend.apiUrl,
    BOT_TOKEN,
    ANTHROPIC_API_KEY: API_KEY,
    ANTHROPIC_BASE_URL: model.url,
    WORKSPACE_PATH: workspace,
    LOG_LEVEL: 'info',
    RUNNER_RECONNECT_MAX_DELAY_MS: '300',
  };
  return {
    model,
    backend,
    root,
    workspace,
    env,
    async cleanup() {
      await backend.close();
      await model.close();
      rmSync(root, { recursive: true, force: true });
    },
  };
}

export interface RunnerProcess {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export function startRunner(
  env: Record<string, string>,
  extra: Record<string, string> = {},
): RunnerProcess {
  const child = spawn(process.execPath, [CLI, 'run'], {
    env: { ...env, ...extra },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (err += c.toString()));
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) =>
    child.on('exit', (code, signal) => r({ code, signal })),
  );
  return { child, stdout: () => out, stderr: () => err, exit };
}

/** Runs to the end, with a generous bound so a hang fails the test instead of the suite. */
export async function runToEnd(
  env: Record<string, string>,
  extra: Record<string, string> = {},
  timeoutMs = 60_000,
) {
  const p = startRunner(env, extra);
  const timer = setTimeout(() => p.child.kill('SIGKILL'), timeoutMs);
  const res = await p.exit;
  clearTimeout(timer);
  return { ...res, stdout: p.stdout(), stderr: p.stderr() };
}

/** Processes whose command line mentions `needle` (to prove nothing was left behind). */
export async function processesMatching(needle: string): Promise<string[]> {
  const { execFile } = await import('node:child_process');
  return new Promise((r) =>
    execFile('ps', ['-eo', 'pid,args'], (_e, stdout) =>
      r(
        String(stdout)
          .split('\n')
          .filter((l) => l.includes(needle) && !l.includes('ps -eo')),
      ),
    ),
  );
}
