/**
 * Nothing is lost in an outage of the control plane, and order holds. `serve` is killed (SIGKILL,
 * serve alone: its runners go on) at several points of a real run (runner + Claude Code CLI +
 * scripted model) and restarted:
 *
 * - mid-stream, back after 1 s: the runner reconnects and resends;
 * - mid-stream, back after 20 s, the run ending meanwhile: the runner keeps its last frames and
 *   final status (default bound: minutes) and hands them over to the new serve;
 * - as the run ends (its result just stored), back after 1 s;
 * - mid-stream with a final-delivery bound of 2 s, back only after the runner has exited: the
 *   frames and status are in the workspace's outbox file, which the new serve reads.
 *
 * Each time: the run's history is complete, once, in order (runSeq 1…N, the terminal
 * `phase.changed` after the runner's last frame), the final phase and result are there, and a
 * watcher following live (the client's watch, reconnecting with after_seq) sees it all to the end.
 *
 * The two-minute outage is covered by scaling, not by waiting two minutes: the 20 s
 * outage runs within the default bound (5 min), and the bound-exceeded case shows what happens
 * past any bound (here 2 s): nothing is lost either way.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ApiClient, type HistoryEntry } from '../../src/client/api.js';
import { RunEndWatch } from '../../src/client/follow.js';
import { watchSession, type WatchResult } from '../../src/client/watch.js';
import { outboxFilePath } from '../../src/protocol/outbox-file.js';
import type { Scenario } from '../../src/testing/scripted-model/index.js';
import {
  API_KEY,
  assertWellNumbered,
  createSession,
  eventOf,
  getSession,
  history,
  isAlive,
  isResult,
  isToolCall,
  isToolResult,
  PROJECT,
  resultOf,
  SCENARIOS,
  startE2e,
  waitFor,
  waitForEntry,
  waitForSessionProcesses,
  type E2e,
  type Entry,
} from '../control-plane-e2e/helpers.js';

const STEPS = 6;
// {{step}} counts from 0.
const FINAL_TEXT = `All steps done: step-${STEPS - 1}`;

/** Six one-second Bash calls: a run that is reliably mid-stream after its second call. */
const OUTAGE_SCENARIO: Scenario = {
  name: 'outage-steps',
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
          repeat: STEPS,
        },
        { text: 'All steps done: {{lastToolResult}}' },
      ],
    },
  ],
};

let e2e: E2e;
before(async () => {
  e2e = await startE2e({ scenarios: [...SCENARIOS, OUTAGE_SCENARIO] });
});
after(async () => {
  await e2e?.close();
});

interface Follower {
  entries: HistoryEntry[];
  done: Promise<WatchResult>;
  abort(): void;
}

/** The client's own watch of the session's first run, reconnecting across restarts of serve. */
function follow(name: string): Follower {
  const serve = e2e.serve;
  const api = new ApiClient({
    url: serve.url,
    urlSource: 'default',
    token: serve.token,
    project: PROJECT,
    warnings: [],
  });
  const end = new RunEndWatch(1);
  const entries: HistoryEntry[] = [];
  const ac = new AbortController();
  const done = watchSession({
    api,
    name,
    onEntry: (e) => {
      entries.push(e);
      end.observe(e);
    },
    isDone: () => end.done,
    signal: ac.signal,
    maxOutageMs: 120_000,
  });
  return { entries, done, abort: () => ac.abort() };
}

async function start(label: string, env: Record<string, string> = {}) {
  const name = (
    await createSession(e2e.serve, {
      prompt: `[[scenario:outage-steps]] ${label}`,
      ...(Object.keys(env).length ? { environmentVariables: env } : {}),
    })
  ).metadata.name;
  return { name, watcher: follow(name) };
}

const nthToolCall = (n: number) => (h: Entry[]) => h.filter(isToolCall).length >= n;

function waitForHistory(name: string, pred: (h: Entry[]) => boolean, what: string) {
  return waitFor(
    async () => {
      const h = await history(e2e.serve, name);
      return pred(h) ? h : undefined;
    },
    what,
    60_000,
    50,
  );
}

const isTerminalPhase = (e: Entry): boolean =>
  eventOf(e) === 'phase.changed' &&
  ['Completed', 'Failed', 'Stopped', 'Error'].includes(String(e.payload.data?.phase));

/** Waits until serve has recorded the end of the run (its terminal phase) and its process exit. */
async function waitForEnd(name: string): Promise<Entry[]> {
  await waitForEntry(() => e2e.serve, name, isTerminalPhase, `${name}'s terminal phase`, 120_000);
  await waitFor(
    async () => (await getSession(e2e.serve, name)).status.exitCode !== undefined,
    `${name}'s runner to exit`,
    60_000,
    100,
  );
  return history(e2e.serve, name);
}

/** Every frame of the run once and in order, the terminal phase after the last, the result. */
async function assertCompleteRun(name: string, h: Entry[], watcher: Follower): Promise<void> {
  assertWellNumbered(h, name);
  const runner = h.filter((e) => e.run === 1 && e.runSeq !== undefined);
  const last = runner.at(-1)!;
  assert.equal(eventOf(last), 'session.completed', "the runner's closing frame is its last");
  assert.equal(h.filter(isToolCall).length, STEPS, 'every tool call, once');
  assert.equal(h.filter(isToolResult).length, STEPS, 'every tool result, once');
  const results = h.filter(isResult);
  assert.equal(results.length, 1, 'the result.message frame, once');
  assert.equal(resultOf(results[0]!).result, FINAL_TEXT);
  const terminal = h.filter(isTerminalPhase);
  assert.deepEqual(
    terminal.map((e) => e.payload.data?.phase),
    ['Completed'],
    'one terminal phase change',
  );
  assert.ok(
    terminal[0]!.seq > last.seq,
    `the phase change (seq ${terminal[0]!.seq}) comes after the runner's last frame (seq ${last.seq})`,
  );
  const s = await getSession(e2e.serve, name);
  assert.equal(s.status.phase, 'Completed', s.status.message);
  assert.equal(s.status.result, FINAL_TEXT);
  assert.equal(typeof s.status.num_turns, 'number', 'num_turns in the status');
  assert.equal(typeof s.status.total_cost_usd, 'number', 'total_cost_usd in the status');
  // The live watcher saw everything up to the end, each entry once, and stopped by itself.
  const r = await watcher.done;
  assert.equal(r.reason, 'done');
  const seen = watcher.entries.map((e) => e.seq);
  assert.deepEqual(
    seen,
    h.slice(0, seen.length).map((e) => e.seq),
    'the watcher saw the history in order',
  );
  assert.ok(seen.includes(terminal[0]!.seq), 'the watcher saw the terminal phase');
  assert.ok(seen.includes(last.seq), "the watcher saw the runner's last frame");
  assert.ok(seen.includes(results[0]!.seq), 'the watcher saw the result');
}

function workspaceOf(name: string): string {
  return path.join(e2e.dataDir, 'workspaces', name);
}

async function outage(downMs: number): Promise<void> {
  await e2e.killServe();
  // The outage itself: how long serve stays away is what these cases are about.
  await new Promise((r) => setTimeout(r, downMs));
  await e2e.restartServe();
}

describe('serve killed and restarted: nothing is lost, order holds', () => {
  it('mid-stream, back after 1 s: the run completes with every frame once', async () => {
    const { name, watcher } = await start('mid-stream 1 s');
    try {
      await waitForHistory(name, nthToolCall(2), `${name}'s second tool call`);
      await outage(1_000);
      await assertCompleteRun(name, await waitForEnd(name), watcher);
    } finally {
      watcher.abort();
    }
  });

  it('away for 20 s while the run ends: the runner waits and hands everything over', async () => {
    const { name, watcher } = await start('end of run 20 s');
    try {
      await waitForHistory(name, nthToolCall(2), `${name}'s second tool call`);
      const { runner } = await waitForSessionProcesses(e2e.dataDir, name, 1);
      await e2e.killServe();
      const started = Date.now();
      // The run ends while serve is away: its last frames and status are saved, then waited on.
      const file = outboxFilePath(workspaceOf(name), name, 1);
      await waitFor(() => existsSync(file), `${name}'s outbox file`, 60_000, 100);
      const saved = readFileSync(file, 'utf8');
      assert.match(saved, /"session\.completed"/, 'the closing frame is saved');
      assert.doesNotMatch(saved, new RegExp(API_KEY), 'no secret in the file');
      assert.equal(statSync(file).mode & 0o777, 0o600);
      await new Promise((r) => setTimeout(r, Math.max(0, 20_000 - (Date.now() - started))));
      assert.ok(isAlive(runner), 'the runner is still waiting for the control plane after 20 s');
      await e2e.restartServe();
      await assertCompleteRun(name, await waitForEnd(name), watcher);
      await waitFor(() => !existsSync(file), 'the outbox file to be removed once delivered');
    } finally {
      watcher.abort();
    }
  });

  it('killed as the run ends (its result just stored), back after 1 s', async () => {
    const { name, watcher } = await start('final status 1 s');
    try {
      await waitForHistory(name, (h) => h.some(isResult), `${name}'s result`);
      await outage(1_000);
      await assertCompleteRun(name, await waitForEnd(name), watcher);
      assert.ok(!existsSync(outboxFilePath(workspaceOf(name), name, 1)), 'no file left behind');
    } finally {
      watcher.abort();
    }
  });

  it('away past the final-delivery bound: the runner exits, the new serve completes the run from its outbox file', async () => {
    const { name, watcher } = await start('bound exceeded', {
      RUNNER_FINAL_DELIVERY_TIMEOUT_MS: '2000',
    });
    try {
      await waitForHistory(name, nthToolCall(2), `${name}'s second tool call`);
      const stored = (await history(e2e.serve, name)).length;
      const { runner } = await waitForSessionProcesses(e2e.dataDir, name, 1);
      await e2e.killServe();
      await waitFor(() => !isAlive(runner), `${name}'s runner to give up and exit`, 90_000, 100);
      const file = outboxFilePath(workspaceOf(name), name, 1);
      assert.ok(existsSync(file), 'the runner left its outbox file in the workspace');
      assert.equal(statSync(file).mode & 0o777, 0o600);
      const lines = readFileSync(file, 'utf8').trim().split('\n');
      const header = JSON.parse(lines[0]!) as { status?: { phase?: string }; run: number };
      assert.equal(header.run, 1);
      assert.equal(header.status?.phase, 'Completed', 'the final status is in the file');
      assert.ok(lines.length - 1 > 0, 'unconfirmed frames are in the file');
      assert.doesNotMatch(lines.join('\n'), new RegExp(API_KEY), 'no secret in the file');

      await e2e.restartServe();
      const h = await waitForEnd(name);
      assert.ok(h.length > stored, 'the frames from the file were added');
      await assertCompleteRun(name, h, watcher);
      assert.ok(!existsSync(file), 'the new serve removed the file once read');
      assert.match(e2e.serve.output().stderr, /read the runner's outbox file/);
    } finally {
      watcher.abort();
    }
  });
});
