// Shared helpers for the scripted-model tests: temp dirs, SSE parsing, and one real CLI session
// through the Agent SDK with an offline, isolated environment.
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { query, type SDKMessage, type SDKUserMessage } from '@anthropic-ai/claude-agent-sdk';
import { BASE_ALLOWED_TOOLS } from '../../src/runner/claude-session.js';

export interface TempDirs {
  root: string;
  /** The session's working directory. */
  ws: string;
  home: string;
  cleanup(): void;
}

export function tempDirs(): TempDirs {
  const root = mkdtempSync(join(tmpdir(), 'scripted-model-test-'));
  const ws = join(root, 'ws');
  const home = join(root, 'home');
  mkdirSync(ws);
  mkdirSync(join(root, 'tmp'));
  mkdirSync(home);
  return { root, ws, home, cleanup: () => rmSync(root, { recursive: true, force: true }) };
}

export interface SseEventParsed {
  event: string;
  data: Record<string, unknown>;
}

export function parseSse(text: string): SseEventParsed[] {
  return text
    .split('\n\n')
    .filter((block) => block.trim() !== '')
    .map((block) => {
      const event = /^event: (.*)$/m.exec(block)?.[1] ?? '';
      const data = /^data: (.*)$/m.exec(block)?.[1] ?? '{}';
      return { event, data: JSON.parse(data) as Record<string, unknown> };
    });
}

/** The environment a CLI child gets: `env` replaces the child's whole environment, so PATH too. */
export function offlineEnv(dirs: TempDirs, extra: Record<string, string>): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: dirs.home,
    CLAUDE_CONFIG_DIR: join(dirs.home, '.claude'),
    // Keeps the CLI's own scratch files (task output) inside the test's temp dir.
    CLAUDE_CODE_TMPDIR: join(dirs.root, 'tmp'),
    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
    ANTHROPIC_API_KEY: 'sk-ant-scripted-test-key',
    CLAUDE_CODE_MAX_RETRIES: '1',
    ...extra,
  };
}

export interface SessionRun {
  messages: SDKMessage[];
  results: Extract<SDKMessage, { type: 'result' }>[];
  /** What the SDK iterator threw, if anything (it throws after an error result). */
  error: Error | undefined;
  ms: number;
}

export async function runSession(opts: {
  dirs: TempDirs;
  env: Record<string, string>;
  prompt: string | AsyncIterable<SDKUserMessage>;
  onMessage?: (m: SDKMessage) => void;
}): Promise<SessionRun> {
  const started = Date.now();
  const messages: SDKMessage[] = [];
  let error: Error | undefined;
  let stderr = '';
  const q = query({
    prompt: opts.prompt,
    options: {
      cwd: opts.dirs.ws,
      permissionMode: 'acceptEdits',
      allowedTools: BASE_ALLOWED_TOOLS,
      systemPrompt: { type: 'preset', preset: 'claude_code' },
      includePartialMessages: true,
      env: opts.env,
      stderr: (d) => {
        stderr += d;
      },
    },
  });
  try {
    for await (const m of q) {
      messages.push(m);
      opts.onMessage?.(m);
    }
  } catch (err) {
    error = err as Error;
  }
  const results = messages.filter(
    (m): m is Extract<SDKMessage, { type: 'result' }> => m.type === 'result',
  );
  if (results.length === 0 && error) {
    // Make a failure to start the CLI readable instead of a bare "no result".
    error.message += stderr === '' ? '' : `\nCLI stderr:\n${stderr.slice(-2000)}`;
  }
  return { messages, results, error, ms: Date.now() - started };
}

/** A user message for streaming input. */
export function userMessage(text: string): SDKUserMessage {
  return {
    type: 'user',
    message: { role: 'user', content: text },
    parent_tool_use_id: null,
  };
}
