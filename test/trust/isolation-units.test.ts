/**
 * The pieces that keep an agent inside its session and hand it the session's environment, one by
 * one: which variables reach the agent (and which never do), the sandbox and file-tool settings
 * the runner passes to the CLI, serve's isolation variables for a local runner, and the scripted
 * model's working-directory detection (never `/`). The end-to-end proof is isolation.e2e.test.ts.
 */
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { agentEnvironment, isRunnerOwnEnv } from '../../src/config/agent-env.js';
import { loadRunnerConfig } from '../../src/config/runner-config.js';
import { withLocalIsolation } from '../../src/control-plane/executor/env.js';
import { isReservedEnv } from '../../src/protocol/api.js';
import { buildCliEnv } from '../../src/runner/cli-env.js';
import {
  buildAgentBounds,
  missingSandboxTools,
  sandboxUnavailableMessage,
} from '../../src/runner/sandbox.js';
import { findCwd } from '../../src/testing/scripted-model/conversation.js';
import { loadScenarioFile } from '../../src/testing/scripted-model/index.js';
import { buildReply } from '../../src/testing/scripted-model/reply.js';
import { Redactor } from '../../src/observability/redact.js';
import type { PreparedWorkspace } from '../../src/workspace/types.js';

const API_KEY = 'sk-ant-api03-isolation-unit-0123456789';
const BOT_TOKEN = 'ccrb_isolation_unit_bot_token_0123456789';
const USER_SECRET = 'user-registry-credential-4242';

/** What a platform that only sets plain variables hands a runner: its own, and the user's. */
const PLATFORM_ENV = {
  SESSION_ID: 's1',
  AGENTIC_SESSION_NAME: 's1',
  AGENTIC_SESSION_RUN: '1',
  PROJECT_NAME: 'p1',
  WORKSPACE_PATH: '/data/workspaces/s1',
  WEBSOCKET_URL: 'ws://127.0.0.1:1/api/projects/p1/sessions/s1/ws',
  BACKEND_API_URL: 'http://127.0.0.1:1/api',
  BOT_TOKEN,
  PROMPT: 'hi',
  ANTHROPIC_API_KEY: API_KEY,
  ANTHROPIC_BASE_URL: 'http://127.0.0.1:2',
  GITHUB_TOKEN: 'ghp_isolationUnitGithubToken0123456789',
  GITLAB_TOKEN: 'glpat-isolationUnitGitlabToken0123',
  LANGFUSE_SECRET_KEY: 'sk-lf-isolation-unit-0123',
  LANGFUSE_PUBLIC_KEY: 'pk-lf-isolation-unit-0123',
  CLAUDE_RUNNER_API_TOKEN: 'ccr_isolation_unit_user_token_0123456789',
  RUNNER_SANDBOX: 'required',
  RUNNER_SANDBOX_DENY_READ: '/data',
  LOG_LEVEL: 'debug',
  PATH: '/usr/bin:/bin',
  HOME: '/home/op',
  CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
  // the session's own
  JIRA_URL: 'https://jira.example',
  MY_API_TOKEN: USER_SECRET,
  EMPTY_ONE: '',
};

const prepared: PreparedWorkspace = {
  cwd: '/data/workspaces/s1/artifacts',
  additionalDirectories: [],
  systemPromptAppend: '',
  mcpServers: {},
  extraAllowedTools: [],
  cliEnv: { GH_TOKEN: 'ghp_workspaceMintedToken0123456789' },
};

describe('the agent environment', () => {
  test('has the session variables and never the runner’s own or the platform’s credentials', () => {
    const env = agentEnvironment(PLATFORM_ENV);
    assert.deepEqual(env, {
      CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
      JIRA_URL: 'https://jira.example',
      MY_API_TOKEN: USER_SECRET,
      EMPTY_ONE: '',
    });
  });

  test('every variable the runner reads counts as its own', () => {
    const read = new Set<string>();
    const spy = new Proxy({ ...PLATFORM_ENV, VERTEX_ENABLED: 'false' } as Record<string, string>, {
      get(target, key) {
        if (typeof key === 'string') read.add(key);
        return target[key as string];
      },
    });
    loadRunnerConfig(spy);
    const basics = new Set(['PATH', 'HOME', 'USER', 'LANG', 'LC_ALL', 'TZ', 'TMPDIR']);
    const leaked = [...read].filter(
      (k) => !isRunnerOwnEnv(k) && !basics.has(k) && !/proxy|CA_CERTS|CERT_FILE/i.test(k),
    );
    // The CLI tuning variables the runner forwards are re-set explicitly or meant for the CLI;
    // the user's own are read too (every variable is looked at once to pick the agent's).
    const users = new Set(['JIRA_URL', 'MY_API_TOKEN', 'EMPTY_ONE']);
    assert.deepEqual(
      leaked.filter((k) => !k.startsWith('CLAUDE_CODE_') && !users.has(k)),
      [],
      'a variable the runner reads reaches the agent',
    );
  });

  test('the CLI env: user variables in, runner settings and credentials out, its own on top', () => {
    const config = loadRunnerConfig({ ...PLATFORM_ENV, CLAUDE_CONFIG_DIR: '/evil' });
    const env = buildCliEnv(config, prepared);
    assert.equal(env.JIRA_URL, 'https://jira.example');
    assert.equal(env.MY_API_TOKEN, USER_SECRET);
    assert.equal(env.EMPTY_ONE, '');
    for (const gone of [
      'BOT_TOKEN',
      'WEBSOCKET_URL',
      'BACKEND_API_URL',
      'GITHUB_TOKEN',
      'GITLAB_TOKEN',
      'LANGFUSE_SECRET_KEY',
      'LANGFUSE_PUBLIC_KEY',
      'CLAUDE_RUNNER_API_TOKEN',
      'RUNNER_SANDBOX',
      'RUNNER_SANDBOX_DENY_READ',
      'SESSION_ID',
      'PROMPT',
      'LOG_LEVEL',
      'WORKSPACE_PATH',
    ])
      assert.equal(env[gone], undefined, `${gone} reaches the CLI`);
    assert.ok(!Object.values(env).includes(BOT_TOKEN));
    // What the runner sets wins over anything of the same name.
    assert.equal(env.CLAUDE_CONFIG_DIR, '/data/workspaces/s1/.claude');
    assert.equal(env.CLAUDE_CODE_TMPDIR, '/data/workspaces/s1/.claude/tmp');
    assert.equal(env.ANTHROPIC_API_KEY, API_KEY);
    assert.equal(env.AGENTIC_SESSION_NAME, 's1');
    assert.equal(env.GH_TOKEN, prepared.cliEnv.GH_TOKEN);
    assert.equal(env.PATH, '/usr/bin:/bin');
  });

  test('secret-looking user values are redacted by the runner, by value', () => {
    const config = loadRunnerConfig(PLATFORM_ENV);
    assert.ok(config.secrets.includes(USER_SECRET));
    assert.ok(!config.secrets.includes('https://jira.example'));
    const redacted = new Redactor(config.secrets).redact(
      `echo https://jira.example ${USER_SECRET}`,
    );
    assert.equal(redacted, 'echo https://jira.example [REDACTED]');
  });
});

describe('the sandbox settings', () => {
  test('RUNNER_SANDBOX and its lists are validated, naming the fix', () => {
    assert.equal(
      loadRunnerConfig({ ...PLATFORM_ENV, RUNNER_SANDBOX: undefined }).sandbox.mode,
      'off',
    );
    assert.throws(
      () =>
        loadRunnerConfig({
          ...PLATFORM_ENV,
          RUNNER_SANDBOX: 'sometimes',
          RUNNER_SANDBOX_DENY_READ: 'relative/dir',
          RUNNER_SANDBOX_ALLOWED_DOMAINS: 'ok.example,bad domain',
        }),
      (e: Error) =>
        /RUNNER_SANDBOX: "sometimes" is not one of required, auto, off/.test(e.message) &&
        /RUNNER_SANDBOX_DENY_READ: "relative\/dir" is not an absolute path/.test(e.message) &&
        /RUNNER_SANDBOX_ALLOWED_DOMAINS: "bad domain" is not a host name/.test(e.message),
    );
    const c = loadRunnerConfig({
      ...PLATFORM_ENV,
      RUNNER_SANDBOX_DENY_READ: '/data:/home/op/',
      RUNNER_SANDBOX_ALLOWED_DOMAINS: 'registry.npmjs.org, *.example.com',
    });
    assert.deepEqual(c.sandbox, {
      mode: 'required',
      denyRead: ['/data', '/home/op/'],
      allowedDomains: ['registry.npmjs.org', '*.example.com'],
    });
  });

  test('required: commands sandboxed fail-closed, data dir hidden but the workspace, model key unset', () => {
    const config = loadRunnerConfig(PLATFORM_ENV);
    const b = buildAgentBounds(config, prepared, []);
    assert.deepEqual(b.settings, {
      permissions: {
        blockFileToolReadsOutsideWorkingDirectories: true,
        blockWritesOutsideWorkingDirectories: true,
      },
    });
    assert.equal(b.sandbox?.enabled, true);
    assert.equal(b.sandbox?.failIfUnavailable, true);
    assert.equal(b.sandbox?.allowUnsandboxedCommands, false);
    assert.deepEqual(b.sandbox?.filesystem, {
      denyRead: ['/data'],
      allowRead: ['/data/workspaces/s1', '/data/workspaces/s1/artifacts'],
    });
    assert.deepEqual(b.sandbox?.network, { allowedDomains: ['*'] });
    const denied = b.sandbox?.credentials?.envVars?.map((v) => `${v.name}:${v.mode}`);
    assert.ok(denied?.includes('ANTHROPIC_API_KEY:deny'));
    assert.ok(denied?.includes('ANTHROPIC_CUSTOM_HEADERS:deny'));
    assert.equal(b.warning, undefined);
  });

  test('auto without bubblewrap: file tools still bounded, commands unsandboxed with a warning', () => {
    const config = loadRunnerConfig({ ...PLATFORM_ENV, RUNNER_SANDBOX: 'auto' });
    const b = buildAgentBounds(config, prepared, ['bwrap']);
    assert.equal(b.sandbox, undefined);
    assert.ok(b.settings);
    assert.match(b.warning ?? '', /bwrap is not installed \(apt-get install bubblewrap socat\)/);
    assert.equal(buildAgentBounds(config, prepared, []).sandbox?.failIfUnavailable, false);
  });

  test('off: nothing (the pod is the boundary), and the CLI keeps the operator’s scratch dir', () => {
    const config = loadRunnerConfig({
      ...PLATFORM_ENV,
      RUNNER_SANDBOX: 'off',
      CLAUDE_CODE_TMPDIR: '/scratch',
    });
    assert.deepEqual(buildAgentBounds(config, prepared, []), {});
    assert.equal(buildCliEnv(config, prepared).CLAUDE_CODE_TMPDIR, '/scratch');
  });

  test('the tools are found on PATH; the message names the fix', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'ccr-iso-path-'));
    try {
      const bwrap = path.join(dir, 'bwrap');
      writeFileSync(bwrap, '#!/bin/sh\n');
      chmodSync(bwrap, 0o755);
      assert.deepEqual(missingSandboxTools(dir), ['socat']);
      assert.deepEqual(missingSandboxTools(''), ['bwrap', 'socat']);
      assert.equal(
        sandboxUnavailableMessage(['bwrap', 'socat']),
        'the sandbox is required (RUNNER_SANDBOX=required) but bwrap and socat are not installed: install them (apt-get install bubblewrap socat), or set RUNNER_SANDBOX=off where the pod or container is the boundary',
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a session cannot choose its own sandbox settings', () => {
    for (const name of [
      'RUNNER_SANDBOX',
      'RUNNER_SANDBOX_DENY_READ',
      'RUNNER_SANDBOX_ALLOWED_DOMAINS',
    ])
      assert.ok(isReservedEnv(name), `${name} is the operator's`);
    assert.ok(!isReservedEnv('JIRA_URL'));
  });

  test('serve asks for the sandbox and hides its data dir and home, unless the operator chose', () => {
    const env = withLocalIsolation({ HOME: '/home/op', PATH: '/bin' }, ['/srv/data']);
    assert.equal(env.RUNNER_SANDBOX, 'required');
    assert.equal(env.RUNNER_SANDBOX_DENY_READ, ['/srv/data', '/home/op'].join(path.delimiter));
    const chosen = withLocalIsolation(
      { HOME: '/', RUNNER_SANDBOX: 'off', RUNNER_SANDBOX_DENY_READ: '/etc/secrets' },
      ['/srv/data'],
    );
    assert.equal(chosen.RUNNER_SANDBOX, 'off');
    assert.equal(
      chosen.RUNNER_SANDBOX_DENY_READ,
      ['/etc/secrets', '/srv/data'].join(path.delimiter),
      'the root is never hidden',
    );
  });
});

describe('the scripted model’s working directory', () => {
  const sys = (text: string) => ({ messages: [{ role: 'system', content: text }] });

  test('is found in the wordings CLI versions use', () => {
    assert.equal(findCwd(sys(' - Primary working directory: /w/a\n')), '/w/a');
    assert.equal(
      findCwd(sys('<env>\nWorking directory: /w/b\nIs directory a git repo: no\n</env>')),
      '/w/b',
    );
    assert.equal(findCwd({ system: 'Current working directory: /w/c' }), '/w/c');
    assert.equal(findCwd({ system: [{ type: 'text', text: 'x\ncwd: /w/d\n' }] }), '/w/d');
    assert.equal(findCwd(sys('<env>Working directory: /w/e</env>')), '/w/e');
    assert.equal(
      findCwd(sys(' - Primary working directory: /w/new (was /w/old)\n')),
      '/w/new',
      'after a resume elsewhere',
    );
    assert.equal(
      findCwd(sys(' - Additional working directories: /w/x\n - Primary working directory: /w/f\n')),
      '/w/f',
    );
  });

  test('only an absolute path counts; none found is empty', () => {
    assert.equal(findCwd(sys('Working directory: relative/dir\n')), '');
    assert.equal(findCwd(sys('no directory here')), '');
    assert.equal(findCwd({}), '');
    assert.equal(
      findCwd({ messages: [{ role: 'user', content: 'Working directory: /from-user' }] }),
      '',
      'a user cannot set it',
    );
  });

  test('without one, a tool call that needs it is refused clearly, never sent to /', () => {
    const opts = { id: 'msg_1', model: 'm', inputChars: 10, nextToolId: () => 'toolu_1' };
    const ctx = { cwd: '', lastToolResult: '', userText: '', turn: 0, step: 0 };
    const reply = buildReply(
      {
        text: 'Writing.',
        tools: [{ name: 'Write', input: { file_path: '{{cwd}}/hello.txt', content: 'x' } }],
      },
      ctx,
      opts,
    );
    assert.equal(reply.stopReason, 'end_turn');
    assert.deepEqual(
      reply.content.map((b) => b.type),
      ['text'],
    );
    const text = reply.content[0]?.type === 'text' ? reply.content[0].text : '';
    assert.match(text, /not calling Write: the request names no working directory/);
    assert.ok(!JSON.stringify(reply).includes('"/hello.txt"'));
    // Tools that do not need it still run; text reads as unknown rather than empty.
    const bash = buildReply(
      { text: 'In {{cwd}}.', tools: [{ name: 'Bash', input: { command: 'ls' } }] },
      ctx,
      opts,
    );
    assert.equal(bash.stopReason, 'tool_use');
    assert.deepEqual(bash.content[0], { type: 'text', text: 'In (unknown working directory).' });
  });
});

test('the shipped escape-attempt scenario is valid and only uses paths relative to the workspace', () => {
  const file = path.join(import.meta.dirname, '../../../scenarios/escape-attempt.json');
  const s = loadScenarioFile(file);
  assert.equal(s.name, 'escape-attempt');
  const inputs = JSON.stringify(s.turns.flatMap((t) => t.steps.flatMap((st) => st.tools ?? [])));
  assert.match(inputs, /\{\{cwd\}\}\/\.\.\/\.\.\/\.\.\/token/);
});
