/**
 * Shared pieces of the control plane's end-to-end tests: a real `serve` (child process) whose
 * runners are the real `claude-code-runner run`, each driving the real Claude Code CLI against
 * an in-process scripted model. Plus the scenarios these tests use, finding a session's runner
 * process, and checks on a session's history. (Not a test file itself.)
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  liveProcesses,
  processCwd,
  processEnviron,
} from '../../src/control-plane/executor/procfs.js';
import { runnerProcesses, startServe, type ServeHandle } from '../../src/testing/serve-process.js';
import {
  startScriptedModelServer,
  type Scenario,
  type ScriptedModelServer,
} from '../../src/testing/scripted-model/index.js';
import { fakeRunner, history, waitFor, type Entry } from '../control-plane/helpers.js';

export {
  createSession,
  getSession,
  history,
  phasesOf,
  PROJECT,
  waitFor,
  watch,
  type Entry,
  type SessionJson,
} from '../control-plane/helpers.js';

/** A dummy key in the shape of a real one, so redaction by pattern is exercised too. */
export const API_KEY = 'sk-ant-api03-cp-e2e-dummy-key-0123456789abcdef';

/** Scenarios of these tests; pick one with `[[scenario:NAME]]` in the prompt or message. */
export const SCENARIOS: Scenario[] = [
  {
    // Four Bash calls of a second each: a turn that is reliably still going after the first call.
    name: 'cp-slow',
    turns: [
      {
        steps: [
          {
            tools: [
              {
                name: 'Bash',
                input: { command: 'sleep 1; echo step-{{step}}', description: 'Wait a second' },
              },
            ],
            repeat: 4,
          },
          { text: 'All steps done: {{lastToolResult}}' },
        ],
      },
    ],
  },
  {
    // A command that outlasts every wait of these tests: only a kill ends it early. (Not `sleep`:
    // the CLI refuses long sleeps.)
    name: 'cp-stuck',
    turns: [
      {
        steps: [
          {
            tools: [
              {
                name: 'Bash',
                input: { command: 'timeout 100 tail -f /dev/null; echo woke', description: 'Wait' },
              },
            ],
          },
          { text: 'Woke up.' },
        ],
      },
    ],
  },
  {
    name: 'cp-chat',
    turns: [
      { match: 'first question', steps: [{ text: 'First answer.' }] },
      {
        match: 'take your time',
        steps: [
          {
            text: 'This is a very long and slow answer that the user interrupts before it ends.',
            chunkSize: 2,
            chunkDelayMs: 200,
          },
        ],
      },
    ],
  },
];

export interface E2e {
  model: ScriptedModelServer;
  serve: ServeHandle;
  dataDir: string;
  /** SIGKILL of serve alone: its runners go on. */
  killServe(): Promise<void>;
  /** A new serve on the same port, data dir and token (`serve` is then the new one). */
  restartServe(): Promise<ServeHandle>;
  /** Stops serve (it stops its runners), proves nothing is left, removes every temp dir. */
  close(): Promise<void>;
}

export interface E2eOptions {
  maxConcurrent?: number;
  /** The model's scenarios; default: this suite's SCENARIOS. */
  scenarios?: Scenario[];
  /** Serve's environment on top of the model settings (e.g. the bounds). */
  env?: Record<string, string>;
  /** The contract fake runner instead of the real one (no CLI, no model). */
  fake?: boolean;
  /** The first serve generates the user token and prints it (`serve.token` is then that one). */
  generateToken?: boolean;
}

export async function startE2e(opts: E2eOptions = {}): Promise<E2e> {
  const model = await startScriptedModelServer({
    scenarios: opts.scenarios ?? SCENARIOS,
    quiet: true,
  });
  const root = mkdtempSync(path.join(tmpdir(), 'ccr-cp-e2e-'));
  const dataDir = path.join(root, 'data');
  for (const d of ['home', 'tmp']) mkdirSync(path.join(root, d));
  const env = {
    ANTHROPIC_BASE_URL: model.url,
    ANTHROPIC_API_KEY: API_KEY,
    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
    CLAUDE_CODE_MAX_RETRIES: '1',
    // Runners inherit these from serve: their own HOME and scratch dir, quick reconnects.
    HOME: path.join(root, 'home'),
    CLAUDE_CODE_TMPDIR: path.join(root, 'tmp'),
    RUNNER_RECONNECT_MAX_DELAY_MS: '300',
    LOG_LEVEL: 'info',
    ...opts.env,
  };
  const launch = (port?: number, token?: string) =>
    startServe({
      dataDir,
      env,
      graceMs: 3000,
      ...(opts.fake ? { runnerCommand: fakeRunner() } : {}),
      ...(port !== undefined ? { port } : {}),
      ...(token !== undefined ? { token } : opts.generateToken ? { generateToken: true } : {}),
      ...(opts.maxConcurrent !== undefined ? { maxConcurrent: opts.maxConcurrent } : {}),
    });
  let serve: ServeHandle;
  try {
    serve = await launch();
  } catch (e) {
    await model.close();
    rmSync(root, { recursive: true, force: true });
    throw e;
  }
  const e2e: E2e = {
    model,
    get serve() {
      return serve;
    },
    dataDir,
    killServe: () => serve.kill(),
    restartServe: async () => (serve = await launch(serve.port, serve.token)),
    close: async () => {
      try {
        await serve.stop();
        await assertNoneLeft(dataDir);
      } finally {
        for (const pid of runnerProcesses(dataDir)) kill(pid); // only after a failure: ours, by pid
        await model.close();
        rmSync(root, { recursive: true, force: true });
      }
    },
  };
  return e2e;
}

/** No runner, CLI or agent command of the data dir is alive (a killed one may need a moment to go). */
export async function assertNoneLeft(
  dataDir: string,
  what = 'no process left behind',
): Promise<void> {
  await waitFor(
    () => runnerProcesses(dataDir).length === 0,
    `${what}: ${runnerProcesses(dataDir).join(', ')}`,
    10_000,
  ).catch(() => undefined);
  assert.deepEqual(runnerProcesses(dataDir), [], what);
}

/**
 * A session's processes, found by where they work rather than by the executor's tag: the runner
 * (started with the session's SESSION_ID) and the others (the CLI and its commands, whose
 * CLAUDE_CONFIG_DIR or working directory is in the session's workspace).
 */
export function sessionProcesses(
  dataDir: string,
  session: string,
): { runner: number | undefined; others: number[] } {
  const ws = path.join(dataDir, 'workspaces', session);
  const inWs = (p: string | undefined) =>
    p !== undefined && (p === ws || p.startsWith(`${ws}${path.sep}`));
  const mine = runnerProcesses(dataDir).filter((pid) => {
    const env = processEnviron(pid) ?? [];
    return (
      env.includes(`SESSION_ID=${session}`) ||
      env.some((kv) => inWs(kv.slice(kv.indexOf('=') + 1))) ||
      inWs(processCwd(pid))
    );
  });
  const runner = mine.find((pid) => processEnviron(pid)?.includes(`SESSION_ID=${session}`));
  return { runner, others: mine.filter((p) => p !== runner) };
}

/** Waits until the session has its runner and at least `others` more processes (a CLI, its command). */
export function waitForSessionProcesses(
  dataDir: string,
  session: string,
  others = 2,
): Promise<{ runner: number; others: number[] }> {
  return waitFor(() => {
    const p = sessionProcesses(dataDir, session);
    return p.runner !== undefined && p.others.length >= others
      ? { runner: p.runner, others: p.others }
      : undefined;
  }, `the runner of ${session}, its CLI and a command`);
}

export function isAlive(pid: number): boolean {
  return liveProcesses((p) => p === pid).length === 1;
}

function kill(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    /* gone */
  }
}

/** Waits until the session's history holds an entry for which `pred` holds; returns the history. */
export async function waitForEntry(
  serve: () => ServeHandle,
  name: string,
  pred: (e: Entry) => boolean,
  what: string,
  timeoutMs = 30_000,
): Promise<Entry[]> {
  return waitFor(
    async () => {
      const h = await history(serve(), name);
      return h.some(pred) ? h : undefined;
    },
    what,
    timeoutMs,
    100,
  );
}

// --- reading a history ------------------------------------------------------------------------

export const isToolCall = (e: Entry): boolean =>
  e.type === 'agent.message' && typeof e.payload.tool === 'string';
export const isToolResult = (e: Entry): boolean =>
  e.type === 'agent.message' && 'tool_result' in e.payload;
export const isResult = (e: Entry): boolean =>
  e.type === 'agent.message' && e.payload.type === 'result.message';
export const eventOf = (e: Entry): string | undefined =>
  e.type === 'system.message' ? e.payload.event : undefined;

export interface ResultPayload {
  subtype: string;
  is_error: boolean;
  num_turns: number;
  session_id: string;
  total_cost_usd: number;
  usage: { input_tokens: number; output_tokens: number };
  result: string;
}

export function resultOf(e: Entry): ResultPayload {
  return e.payload.payload as ResultPayload;
}

/**
 * The history's invariants: session-wide `seq` is 1…n, each once; the runner's own `runSeq`
 * (per run) is strictly increasing from 1 without a gap or a repeat.
 */
export function assertWellNumbered(entries: Entry[], what: string): void {
  assert.deepEqual(
    entries.map((e) => e.seq),
    entries.map((_e, i) => i + 1),
    `${what}: seq is 1…${entries.length}, each exactly once`,
  );
  const runs = new Set(entries.map((e) => e.run));
  for (const run of runs) {
    const runSeqs = entries
      .filter((e) => e.run === run && e.runSeq !== undefined)
      .map((e) => e.runSeq);
    assert.deepEqual(
      runSeqs,
      runSeqs.map((_s, i) => i + 1),
      `${what}: run ${run}'s runner seqs are 1…${runSeqs.length}, each once`,
    );
  }
}
