// Records the SDK message sequences the Langfuse tests replay, by running the real Claude Code CLI
// (through the Agent SDK) against the scripted model server, offline.
//
//   npx tsc -p tsconfig.json && node dist/test/observability/record-fixtures.js --write
//
// (Without --write it does nothing, so a test runner that picks up every file under test/ is safe.)
//
// Writes test/observability/fixtures/<name>.json: the messages in order, the message index at
// which each user turn started (where the runner calls tracer.startTurn), and the scripted
// server's `served` list (the exact usage of every model call).
import { query, type SDKMessage, type SDKUserMessage } from '@anthropic-ai/claude-agent-sdk';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { format, resolveConfig } from 'prettier';
import {
  startScriptedModelServer,
  type Scenario,
  type ServedResponse,
} from '../../src/testing/scripted-model/index.js';

export interface Fixture {
  name: string;
  prompts: string[];
  /** turnStarts[i]: index into messages at which turn i+1 was submitted. */
  turnStarts: number[];
  messages: SDKMessage[];
  served: ServedResponse[];
}

const usage = (i: number) => ({
  input_tokens: 100 + i,
  output_tokens: 20 + i,
  cache_read_input_tokens: 50 + i,
  cache_creation_input_tokens: 10 + i,
});

export const FIXTURE_SCENARIOS: Scenario[] = [
  {
    name: 'lf-tools',
    description:
      'Two Bash calls (the second fails), then an answer; a second turn answers in text.',
    turns: [
      {
        steps: [
          {
            text: 'Running a command.',
            tools: [{ name: 'Bash', input: { command: 'echo hi', description: 'say hi' } }],
            usage: usage(1),
          },
          {
            tools: [{ name: 'Bash', input: { command: 'exit 3', description: 'fail on purpose' } }],
            usage: usage(2),
          },
          { text: 'All done; one command failed.', usage: usage(3) },
        ],
      },
      { steps: [{ text: 'Second turn answer.', usage: usage(4) }] },
    ],
  },
  {
    name: 'lf-sub',
    description: 'The main agent starts a sub-agent with the Task tool; the sub-agent runs Bash.',
    turns: [
      {
        match: 'MAIN-TASK',
        steps: [
          {
            text: 'Delegating.',
            tools: [
              {
                name: 'Task',
                input: {
                  description: 'sub job',
                  prompt: 'SUBAGENT-JOB: echo sub',
                  subagent_type: 'general-purpose',
                },
              },
            ],
            usage: usage(5),
          },
          { text: 'The sub-agent is working.', usage: usage(6) },
        ],
      },
      {
        match: 'SUBAGENT-JOB',
        steps: [
          {
            tools: [{ name: 'Bash', input: { command: 'echo sub', description: 'sub echo' } }],
            usage: usage(7),
          },
          { text: 'sub result text', usage: usage(8) },
        ],
      },
    ],
    fallback: { text: 'The sub-agent reported back.', usage: usage(9) },
  },
];

const RECORDINGS: { name: string; prompts: string[]; results: number }[] = [
  { name: 'tools', prompts: ['[[scenario:lf-tools]] run the commands'], results: 1 },
  { name: 'multi', prompts: ['[[scenario:lf-tools]] first message', 'second message'], results: 2 },
  // The sub-agent runs in the background: its report starts a second, agent-initiated turn.
  { name: 'subagent', prompts: ['[[scenario:lf-sub]] MAIN-TASK please delegate'], results: 2 },
];

/** Runs one recording against a scripted model server at `modelUrl`. */
export async function record(
  spec: { name: string; prompts: string[]; results: number },
  modelUrl: string,
  served: ServedResponse[],
): Promise<Fixture> {
  const dir = mkdtempSync(join(tmpdir(), 'lf-fixture-'));
  const cwd = join(dir, 'ws');
  const home = join(dir, 'home');
  mkdirSync(cwd);
  mkdirSync(home);
  const messages: SDKMessage[] = [];
  const turnStarts: number[] = [];
  let nextPrompt: (() => void) | undefined;
  async function* input(): AsyncGenerator<SDKUserMessage> {
    for (const [i, text] of spec.prompts.entries()) {
      if (i > 0) await new Promise<void>((resolve) => (nextPrompt = resolve));
      turnStarts.push(messages.length);
      yield {
        type: 'user',
        message: { role: 'user', content: text },
        parent_tool_use_id: null,
        session_id: '',
      } as SDKUserMessage;
    }
    // Keep the input open until the last result arrived.
    await new Promise<void>((resolve) => (nextPrompt = resolve));
  }
  const firstServed = served.length;
  const q = query({
    prompt: input(),
    options: {
      cwd,
      permissionMode: 'acceptEdits',
      allowedTools: ['Bash', 'Task', 'Agent', 'Read', 'Write'],
      includePartialMessages: true,
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        HOME: home,
        ANTHROPIC_API_KEY: 'sk-ant-fixture-not-a-key-0000',
        ANTHROPIC_BASE_URL: modelUrl,
        CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
      },
    },
  });
  let results = 0;
  try {
    for await (const m of q) {
      messages.push(m);
      if (m.type === 'result') {
        results++;
        if (results >= spec.results) break;
        nextPrompt?.();
      }
    }
  } finally {
    nextPrompt?.();
    q.close?.();
    rmSync(dir, { recursive: true, force: true });
  }
  return {
    name: spec.name,
    prompts: spec.prompts,
    turnStarts,
    messages: messages.map(slim),
    served: served.slice(firstServed),
  };
}

/** Drops the bulky parts of the init message (tool and command lists) that no test reads. */
function slim(m: SDKMessage): SDKMessage {
  if (m.type !== 'system' || m.subtype !== 'init') return m;
  const {
    tools: _t,
    mcp_servers: _m,
    slash_commands: _s,
    agents: _a,
    skills: _k,
    plugins: _p,
    ...rest
  } = m as unknown as Record<string, unknown>;
  return rest as unknown as SDKMessage;
}

async function main(): Promise<void> {
  const out = fileURLToPath(new URL('../../../test/observability/fixtures/', import.meta.url));
  mkdirSync(out, { recursive: true });
  const server = await startScriptedModelServer({ scenarios: FIXTURE_SCENARIOS, quiet: true });
  try {
    for (const spec of RECORDINGS) {
      const fixture = await record(spec, server.url, server.served);
      const file = join(out, `${spec.name}.json`);
      const options = (await resolveConfig(file)) ?? {};
      writeFileSync(file, await format(JSON.stringify(fixture), { ...options, parser: 'json' }));
      process.stdout.write(
        `${spec.name}: ${fixture.messages.length} messages, ${fixture.served.length} model calls\n`,
      );
    }
  } finally {
    await server.close();
  }
}

if (process.argv.includes('--write')) {
  main().catch((err: unknown) => {
    process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  });
}
