/**
 * Shared harness for the workspace tests: a temp root with remotes/, ws/ and home/, a real
 * configuration built by loadRunnerConfig, captured progress and log lines, and the "no token
 * anywhere" check that every test ends with.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { loadRunnerConfig, type RunnerConfig } from '../../src/config/runner-config.js';
import { createLogger } from '../../src/observability/logger.js';
import { Redactor } from '../../src/observability/redact.js';
import {
  filesContaining,
  gitSync,
  isolatedGitEnv,
  makeTempDir,
  removeDir,
} from '../../src/testing/git-fixtures.js';
import { createWorkspaceManager, type WorkspaceDeps } from '../../src/workspace/manager.js';
import type { WorkspaceManager } from '../../src/workspace/types.js';

export const GIT_TOKEN = 'ghp_TestToken0123456789abcdefghijklmnopq';
export const WRONG_TOKEN = 'ghp_WrongToken0123456789abcdefghijklmnop';
export const MINTED_TOKEN = 'ghs_MintedToken0123456789abcdefghijklmno';
export const SESSION_ID = 'sess-1';

export interface ProgressLine {
  message: string;
  level: string;
  data?: Record<string, unknown>;
}

export interface Harness {
  root: string;
  remotes: string;
  ws: string;
  home: string;
  progress: ProgressLine[];
  logs: string[];
  errors: string[];
  mints: number;
  /** A manager over a fresh configuration: `env` adds to (or, with undefined, removes from) the base. */
  manager(
    env?: Record<string, string | undefined>,
    deps?: Partial<WorkspaceDeps> & { mint?: string },
  ): {
    manager: WorkspaceManager;
    config: Readonly<RunnerConfig>;
  };
  /** Runs `fn`, records its error message, and returns the error. */
  rejects(fn: () => Promise<unknown>): Promise<Error & { kind?: string; phase?: string }>;
  /** git in a workspace repo, with the fixtures' isolated environment. */
  git(dir: string, args: string[]): string;
  env(): Record<string, string>;
  /** No secret in any progress line, log line, error message, or file under the workspace. */
  assertNoSecrets(secrets?: string[]): Promise<void>;
  cleanup(): Promise<void>;
}

export async function createHarness(): Promise<Harness> {
  const root = await makeTempDir('ccr-ws-test-');
  const remotes = path.join(root, 'remotes');
  const ws = path.join(root, 'ws');
  const home = path.join(root, 'home');
  await import('node:fs/promises').then((fs) => Promise.all([fs.mkdir(remotes), fs.mkdir(home)]));
  const h: Harness = {
    root,
    remotes,
    ws,
    home,
    progress: [],
    logs: [],
    errors: [],
    mints: 0,
    manager(env = {}, deps = {}) {
      const merged: Record<string, string | undefined> = {
        SESSION_ID,
        AGENTIC_SESSION_NAME: 'my-session',
        PROJECT_NAME: 'proj',
        WEBSOCKET_URL: 'ws://127.0.0.1:9/api/projects/proj/sessions/my-session/ws',
        ANTHROPIC_API_KEY: 'sk-ant-api03-testkey-0000000000',
        PROMPT: 'Fix the greeting\nand more',
        WORKSPACE_PATH: ws,
        PATH: process.env.PATH,
        HOME: home,
        GIT_USER_NAME: 'Session Bot',
        GIT_USER_EMAIL: 'bot@example.test',
        ...env,
      };
      const config = loadRunnerConfig(merged);
      const redactor = new Redactor(config.secrets);
      const logger = createLogger({ level: 'debug', redactor, write: (l) => h.logs.push(l) });
      const { mint, ...rest } = deps;
      const manager = createWorkspaceManager({
        config,
        logger,
        redactor,
        progress: (message, level, data) =>
          h.progress.push({ message, level: level ?? 'info', ...(data ? { data } : {}) }),
        backend: {
          mintGitToken: async () => {
            h.mints++;
            return mint;
          },
        },
        gitNetworkTimeoutMs: 30_000,
        ...rest,
      });
      return { manager, config };
    },
    async rejects(fn) {
      try {
        await fn();
      } catch (e) {
        h.errors.push((e as Error).message);
        return e as Error;
      }
      assert.fail('expected a rejection');
    },
    git: (dir, args) => gitSync(dir, args, isolatedGitEnv(home)),
    env: () => isolatedGitEnv(home),
    async assertNoSecrets(secrets = [GIT_TOKEN, WRONG_TOKEN, MINTED_TOKEN]) {
      for (const s of secrets) {
        for (const p of h.progress)
          assert.ok(!JSON.stringify(p).includes(s), `progress line leaks a token: ${p.message}`);
        for (const l of h.logs) assert.ok(!l.includes(s), `log line leaks a token: ${l}`);
        for (const e of h.errors) assert.ok(!e.includes(s), `error leaks a token: ${e}`);
        assert.deepEqual(await filesContaining(ws, s), [], 'a file in the workspace holds a token');
      }
    },
    cleanup: () => removeDir(root),
  };
  return h;
}

export function messages(h: Harness): string[] {
  return h.progress.map((p) => p.message);
}
