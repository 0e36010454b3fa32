/**
 * The runner's configuration (contract §2): defaults, every problem reported at once (each naming
 * the variable and the fix), both spellings of the Vertex settings, model names mapped to Vertex
 * ids, REPOS_JSON and the older single-repo form, Langfuse as a warning, untrusted user text
 * sanitised, a frozen result, and the best-effort reporting target.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ConfigError, describeError } from '../../src/errors.js';
import { EnvReader, sanitizeId, sanitizeText, type Env } from '../../src/config/env.js';
import { VERTEX_MODEL_IDS, toVertexModelId } from '../../src/config/models.js';
import { parseRepos } from '../../src/config/repos.js';
import { checkRepoName, checkRepoUrl, repoNameFromUrl } from '../../src/protocol/repos.js';
import {
  DEFAULT_LANGFUSE_HOST,
  deriveApiUrl,
  loadReportingTarget,
  loadRunnerConfig,
} from '../../src/config/runner-config.js';

const API_KEY = 'sk-ant-api03-unit-test-key-0123456789';
const BOT_TOKEN = 'bot-token-unit-test-abcdefgh';
const WS = 'ws://backend:8080/api/projects/proj/sessions/sess-1/ws';

const base: Env = {
  SESSION_ID: 'sess-1',
  WEBSOCKET_URL: WS,
  ANTHROPIC_API_KEY: API_KEY,
  PROMPT: 'hello',
};

function load(extra: Env = {}, without: string[] = []) {
  const env: Record<string, string | undefined> = { ...base, ...extra };
  for (const k of without) delete env[k];
  return loadRunnerConfig(env);
}

/** The problems of a configuration that must fail. */
function problems(extra: Env = {}, without: string[] = []): readonly string[] {
  try {
    load(extra, without);
  } catch (e) {
    assert.ok(e instanceof ConfigError, `expected a ConfigError, got ${String(e)}`);
    return e.problems;
  }
  assert.fail('the configuration was accepted');
}

/** The one problem that names `variable` (exactly one must). */
function problemFor(list: readonly string[], variable: string): string {
  const hits = list.filter((p) => p.startsWith(`${variable}`));
  assert.equal(hits.length, 1, `one problem for ${variable} in ${JSON.stringify(list)}`);
  return hits[0]!;
}

describe('runner configuration: defaults', () => {
  test('a minimal environment gets the contract defaults', () => {
    const c = load();
    assert.equal(c.session.id, 'sess-1');
    assert.equal(c.session.name, 'sess-1', 'the session name defaults to its id');
    assert.equal(c.session.namespace, 'default');
    assert.equal(c.session.project, 'default');
    assert.equal(c.session.prompt, 'hello');
    assert.equal(c.session.interactive, false);
    assert.equal(c.session.timeoutMs, undefined);
    assert.equal(c.session.parentSessionId, undefined);
    assert.equal(c.backend.websocketUrl, WS);
    assert.equal(c.backend.apiUrl, 'http://backend:8080/api', 'derived from WEBSOCKET_URL');
    assert.equal(c.backend.botToken, undefined);
    assert.equal(c.model.provider, 'anthropic');
    assert.equal(c.model.name, undefined, 'no LLM_MODEL lets the CLI choose');
    assert.equal(c.model.anthropicApiKey, API_KEY);
    assert.equal(c.workspace.path, '/workspace');
    assert.equal(c.workspace.stateDir, '/workspace');
    assert.deepEqual(c.workspace.repos, []);
    assert.equal(c.workspace.mainRepoName, undefined);
    assert.equal(c.workspace.autoPush, false);
    assert.equal(c.workspace.createPr, false);
    assert.equal(c.workspace.workflow, undefined);
    assert.equal(c.workspace.mcpAllowStdio, false);
    assert.equal(c.git.userName, 'Claude Code Runner');
    assert.equal(c.git.userEmail, 'claude-code-runner@localhost');
    assert.equal(c.langfuse.enabled, false);
    assert.equal(c.langfuse.flushTimeoutMs, 30_000);
    assert.equal(c.runtime.logLevel, 'info');
    assert.equal(c.runtime.maxBufferedBytes, 32 * 1024 * 1024);
    assert.equal(c.runtime.reconnectMaxDelayMs, 10_000);
    assert.equal(c.runtime.shutdownGraceMs, 5_000);
    assert.deepEqual(c.secrets, [API_KEY]);
    assert.deepEqual(c.warnings, []);
  });

  test('identity, model settings, git and runtime values are read', () => {
    const c = load({
      AGENTIC_SESSION_NAME: 'my-session',
      AGENTIC_SESSION_NAMESPACE: 'ns-a',
      PROJECT_NAME: 'proj-a',
      BOT_TOKEN,
      INTERACTIVE: 'TRUE',
      LLM_MODEL: 'claude-sonnet-4-5',
      LLM_TEMPERATURE: '0.7',
      LLM_MAX_TOKENS: '4096',
      TIMEOUT: '1.5',
      PARENT_SESSION_ID: 'parent-1',
      WORKSPACE_PATH: '/data/ws',
      AUTO_PUSH_ON_COMPLETE: 'yes',
      CREATE_PR: '1',
      PR_TARGET_BRANCH: 'develop',
      GITHUB_TOKEN: 'ghp_unitTestGithubToken0123456789',
      GITLAB_TOKEN: 'glpat-unitTestGitlabToken012345',
      GIT_USER_NAME: 'Ada',
      GIT_USER_EMAIL: 'ada@example.com',
      ACTIVE_WORKFLOW_GIT_URL: 'https://github.com/org/wf.git',
      ACTIVE_WORKFLOW_BRANCH: 'main',
      ACTIVE_WORKFLOW_PATH: 'flows/dev',
      MCP_CONFIG_PATH: '/etc/mcp.json',
      LOG_LEVEL: 'debug',
      RUNNER_MAX_BUFFERED_BYTES: '100000',
      CLAUDE_CODE_MAX_RETRIES: '2',
      PATH: '/usr/bin',
      HOME: '/root',
    });
    assert.equal(c.session.name, 'my-session');
    assert.equal(c.session.namespace, 'ns-a');
    assert.equal(c.session.project, 'proj-a');
    assert.equal(c.session.interactive, true);
    assert.equal(c.session.timeoutMs, 1500);
    assert.equal(c.session.parentSessionId, 'parent-1');
    assert.equal(c.backend.botToken, BOT_TOKEN);
    assert.equal(c.model.name, 'claude-sonnet-4-5', 'no Vertex id on the Anthropic API');
    assert.equal(c.model.requested, 'claude-sonnet-4-5');
    assert.equal(c.model.temperature, 0.7);
    assert.equal(c.model.maxTokens, 4096);
    assert.equal(c.workspace.path, '/data/ws');
    assert.equal(c.workspace.stateDir, '/data/ws', 'the CLI state lives on the workspace volume');
    assert.equal(c.workspace.autoPush, true);
    assert.equal(c.workspace.createPr, true);
    assert.equal(c.workspace.prTargetBranch, 'develop');
    assert.deepEqual(c.workspace.workflow, {
      gitUrl: 'https://github.com/org/wf.git',
      branch: 'main',
      path: 'flows/dev',
    });
    assert.equal(c.workspace.mcpConfigPath, '/etc/mcp.json');
    assert.equal(c.git.userName, 'Ada');
    assert.equal(c.git.userEmail, 'ada@example.com');
    assert.equal(c.runtime.logLevel, 'debug');
    assert.equal(c.runtime.maxBufferedBytes, 100_000);
    assert.equal(c.runtime.cliMaxRetries, 2);
    assert.deepEqual(c.runtime.passthroughEnv, { PATH: '/usr/bin', HOME: '/root' });
    for (const s of [
      API_KEY,
      BOT_TOKEN,
      'ghp_unitTestGithubToken0123456789',
      'glpat-unitTestGitlabToken012345',
    ])
      assert.ok(c.secrets.includes(s), `secrets include ${s.slice(0, 6)}…`);
  });

  test('empty strings count as unset; PROMPT keeps its own whitespace', () => {
    const c = load({
      LLM_MODEL: '',
      INTERACTIVE: '  ',
      WORKSPACE_PATH: '',
      PROMPT: '  indented\n',
    });
    assert.equal(c.model.name, undefined);
    assert.equal(c.session.interactive, false);
    assert.equal(c.workspace.path, '/workspace');
    assert.equal(c.session.prompt, '  indented\n');
  });

  test('interactive mode may start without a prompt; a one-shot run may not', () => {
    assert.equal(load({ INTERACTIVE: 'true' }, ['PROMPT']).session.prompt, '');
    assert.match(problemFor(problems({}, ['PROMPT']), 'PROMPT:'), /INTERACTIVE=true/);
    assert.match(problemFor(problems({ PROMPT: ' \n ' }), 'PROMPT:'), /give a prompt/);
  });

  test('TIMEOUT: seconds, 0 means none, negative or non-numeric refused', () => {
    assert.equal(load({ TIMEOUT: '0' }).session.timeoutMs, undefined);
    assert.equal(load({ TIMEOUT: '30' }).session.timeoutMs, 30_000);
    assert.match(problemFor(problems({ TIMEOUT: '-5' }), 'TIMEOUT:'), /out of range: .*seconds/);
    assert.match(problemFor(problems({ TIMEOUT: 'ten' }), 'TIMEOUT:'), /not a number/);
    assert.match(problemFor(problems({ TIMEOUT: '1e3' }), 'TIMEOUT:'), /not a number/);
  });

  test('typed values: booleans, ranges, whole numbers, URLs, enums', () => {
    const list = problems({
      INTERACTIVE: 'maybe',
      LLM_TEMPERATURE: '1.5',
      LLM_MAX_TOKENS: '10.5',
      WEBSOCKET_URL: 'http://backend/api/projects/p/sessions/s/ws',
      BACKEND_API_URL: 'not a url',
      LOG_LEVEL: 'loud',
      WORKSPACE_PATH: 'relative/ws',
      RUNNER_MAX_BUFFERED_BYTES: '10',
      ACTIVE_WORKFLOW_GIT_URL: 'https://github.com/org/wf.git',
      ACTIVE_WORKFLOW_PATH: '../outside',
    });
    assert.match(problemFor(list, 'INTERACTIVE:'), /not a boolean: use true or false/);
    assert.match(problemFor(list, 'LLM_TEMPERATURE:'), /out of range: use a number from 0 to 1/);
    assert.match(problemFor(list, 'LLM_MAX_TOKENS:'), /not a whole number/);
    assert.match(problemFor(list, 'WEBSOCKET_URL:'), /must use ws: or wss:/);
    assert.match(
      problemFor(list, 'BACKEND_API_URL:'),
      /not a URL: use http:\/\/host… or https:\/\/host…/,
    );
    assert.match(problemFor(list, 'LOG_LEVEL:'), /not one of debug, info/);
    assert.match(problemFor(list, 'WORKSPACE_PATH:'), /absolute path/);
    assert.match(problemFor(list, 'RUNNER_MAX_BUFFERED_BYTES:'), /out of range/);
    assert.match(problemFor(list, 'ACTIVE_WORKFLOW_PATH:'), /outside the workflow repo/);
  });
});

describe('runner configuration: every problem at once', () => {
  test('each problem names its variable and says what would fix it; no secret appears', () => {
    let err: unknown;
    try {
      loadRunnerConfig({
        BOT_TOKEN,
        GITHUB_TOKEN: 'ghp_unitTestGithubToken0123456789',
        TIMEOUT: '-1',
        LLM_TEMPERATURE: 'hot',
        REPOS_JSON: '[{"input": {"url": "https://github.com/org/app.git"}',
        LANGFUSE_ENABLED: 'true',
      });
    } catch (e) {
      err = e;
    }
    assert.ok(err instanceof ConfigError);
    const vars = err.problems.map((p) => p.slice(0, p.indexOf(':')));
    assert.deepEqual(
      [...vars].sort(),
      [
        'ANTHROPIC_API_KEY',
        'LLM_TEMPERATURE',
        'PROMPT',
        'REPOS_JSON',
        'SESSION_ID',
        'TIMEOUT',
        'WEBSOCKET_URL',
      ].sort(),
    );
    for (const p of err.problems) {
      // "<VARIABLE>: <what is wrong>: <the fix>"
      assert.match(
        p,
        /^[A-Z_]+(\[\d+\])?[.\w[\]]*: .+: .+/,
        `problem reads "VAR: what: fix": ${p}`,
      );
      assert.ok(!p.includes(BOT_TOKEN) && !p.includes('ghp_'), `no secret in: ${p}`);
    }
    assert.match(problemFor(err.problems, 'ANTHROPIC_API_KEY'), /VERTEX_ENABLED=true/);
    // One message with every problem, one per line, and no stack trace.
    const text = describeError(err);
    assert.match(text, /^config: invalid configuration:\n {2}- /);
    assert.equal(text.split('\n').length, err.problems.length + 1);
    assert.ok(!/\bat .*\.js:\d+/.test(text), 'no stack trace');
    assert.equal(err.kind, 'user');
  });

  test('late-read values are checked too: booleans and URLs of the workspace and git settings', () => {
    const list = problems({
      AUTO_PUSH_ON_COMPLETE: 'ture',
      CREATE_PR: 'yes please',
      MCP_ALLOW_STDIO: '2',
      GITHUB_API_URL: 'github.example.com/api/v3',
      GITLAB_API_URL: 'ftp://gitlab.example.com/api/v4',
    });
    for (const v of [
      'AUTO_PUSH_ON_COMPLETE',
      'CREATE_PR',
      'MCP_ALLOW_STDIO',
      'GITHUB_API_URL',
      'GITLAB_API_URL',
    ])
      problemFor(list, `${v}:`);
    const c = load({
      MCP_ALLOW_STDIO: 'true',
      GITHUB_API_URL: 'https://ghe.test/api/v3/',
      GITLAB_API_URL: 'http://gl.test/api/v4',
    });
    assert.equal(c.workspace.mcpAllowStdio, true);
    assert.equal(c.git.githubApiUrl, 'https://ghe.test/api/v3');
    assert.equal(c.git.gitlabApiUrl, 'http://gl.test/api/v4');
  });

  test('a bad SESSION_ID is refused', () => {
    assert.match(
      problemFor(problems({ SESSION_ID: '../etc' }), 'SESSION_ID:'),
      /not a valid session id/,
    );
  });
});

describe('runner configuration: Vertex AI', () => {
  test("the seed's names: VERTEX_ENABLED, VERTEX_PROJECT_ID, VERTEX_REGION, VERTEX_USER_TOKEN", () => {
    const c = load(
      {
        VERTEX_ENABLED: 'true',
        VERTEX_PROJECT_ID: 'my-proj',
        VERTEX_REGION: 'us-east5',
        VERTEX_USER_TOKEN: 'ya29.user-access-token-0123456789abcdef',
        LLM_MODEL: 'claude-sonnet-4-5',
      },
      ['ANTHROPIC_API_KEY'],
    );
    assert.equal(c.model.provider, 'vertex');
    assert.deepEqual(c.model.vertex, {
      projectId: 'my-proj',
      region: 'us-east5',
      userToken: 'ya29.user-access-token-0123456789abcdef',
    });
    assert.equal(
      c.model.name,
      'claude-sonnet-4-5@20250929',
      'the model is mapped to its Vertex id',
    );
    assert.equal(c.model.requested, 'claude-sonnet-4-5');
    assert.ok(c.secrets.includes('ya29.user-access-token-0123456789abcdef'));
  });

  test("the CLI's names: CLAUDE_CODE_USE_VERTEX, ANTHROPIC_VERTEX_PROJECT_ID, CLOUD_ML_REGION, GOOGLE_APPLICATION_CREDENTIALS", () => {
    const c = load(
      {
        CLAUDE_CODE_USE_VERTEX: '1',
        ANTHROPIC_VERTEX_PROJECT_ID: 'cli-proj',
        CLOUD_ML_REGION: 'europe-west1',
        GOOGLE_APPLICATION_CREDENTIALS: '/secrets/sa.json',
        ANTHROPIC_VERTEX_BASE_URL: 'http://127.0.0.1:9999/v1',
        LLM_MODEL: 'claude-opus-4-1',
      },
      ['ANTHROPIC_API_KEY'],
    );
    assert.equal(c.model.provider, 'vertex');
    assert.deepEqual(c.model.vertex, {
      projectId: 'cli-proj',
      region: 'europe-west1',
      credentialsFile: '/secrets/sa.json',
      baseUrl: 'http://127.0.0.1:9999/v1',
    });
    assert.equal(c.model.name, 'claude-opus-4-1@20250805');
  });

  test("the seed's names win when both spellings are given", () => {
    const c = load({
      VERTEX_ENABLED: 'true',
      VERTEX_PROJECT_ID: 'seed-proj',
      ANTHROPIC_VERTEX_PROJECT_ID: 'cli-proj',
      VERTEX_REGION: 'us-east5',
      CLOUD_ML_REGION: 'europe-west1',
      GOOGLE_APPLICATION_CREDENTIALS: '/sa.json',
    });
    assert.equal(c.model.vertex?.projectId, 'seed-proj');
    assert.equal(c.model.vertex?.region, 'us-east5');
  });

  test('incomplete Vertex settings: project, region and credentials all reported', () => {
    const list = problems({ VERTEX_ENABLED: 'true' }, ['ANTHROPIC_API_KEY']);
    assert.match(problemFor(list, 'VERTEX_PROJECT_ID:'), /ANTHROPIC_VERTEX_PROJECT_ID/);
    assert.match(problemFor(list, 'VERTEX_REGION:'), /CLOUD_ML_REGION/);
    assert.match(problemFor(list, 'VERTEX_USER_TOKEN:'), /GOOGLE_APPLICATION_CREDENTIALS/);
    assert.equal(list.length, 3, 'no ANTHROPIC_API_KEY problem when Vertex is chosen');
  });

  test('no credentials at all', () => {
    const list = problems({}, ['ANTHROPIC_API_KEY']);
    assert.match(
      problemFor(list, 'ANTHROPIC_API_KEY:'),
      /set ANTHROPIC_API_KEY, or VERTEX_ENABLED=true/,
    );
  });
});

describe('model names', () => {
  test('every current Anthropic model maps to a dated Vertex id', () => {
    assert.equal(toVertexModelId('claude-sonnet-4-5'), 'claude-sonnet-4-5@20250929');
    assert.equal(toVertexModelId('claude-opus-4-5'), 'claude-opus-4-5@20251101');
    assert.equal(toVertexModelId('claude-haiku-4-5'), 'claude-haiku-4-5@20251001');
    for (const [name, id] of Object.entries(VERTEX_MODEL_IDS)) {
      assert.match(id, /^claude-[a-z0-9-]+@\d{8}$/, `${name} -> ${id}`);
      assert.ok(id.startsWith(`${name}@`), `${id} is a dated ${name}`);
      assert.equal(toVertexModelId(name), id);
    }
  });

  test('API ids with a date suffix, ids already dated, unknown names', () => {
    assert.equal(toVertexModelId('claude-3-5-sonnet-20241022'), 'claude-3-5-sonnet@20241022');
    assert.equal(toVertexModelId('claude-sonnet-4-5-20250929'), 'claude-sonnet-4-5@20250929');
    assert.equal(toVertexModelId('claude-sonnet-4-5@20250929'), 'claude-sonnet-4-5@20250929');
    assert.equal(toVertexModelId('some-future-model'), 'some-future-model');
    assert.equal(toVertexModelId('claude-next'), 'claude-next');
  });
});

describe('repositories', () => {
  test('REPOS_JSON: names from the entry or the URL, branches, outputs, the first is main', () => {
    const c = load({
      REPOS_JSON: JSON.stringify([
        { input: { url: 'https://github.com/org/app.git', branch: 'dev' } },
        {
          name: 'lib',
          input: { url: 'git@github.com:org/library.git' },
          output: { url: 'https://github.com/me/library.git', branch: 'feature' },
        },
        { input: { url: 'file:///srv/git/tools' } },
      ]),
    });
    assert.deepEqual(c.workspace.repos, [
      { name: 'app', input: { url: 'https://github.com/org/app.git', branch: 'dev' } },
      {
        name: 'lib',
        input: { url: 'git@github.com:org/library.git' },
        output: { url: 'https://github.com/me/library.git', branch: 'feature' },
      },
      { name: 'tools', input: { url: 'file:///srv/git/tools' } },
    ]);
    assert.equal(c.workspace.mainRepoName, 'app');
  });

  test('MAIN_REPO_NAME and MAIN_REPO_INDEX choose the working directory', () => {
    const REPOS_JSON = JSON.stringify([
      { input: { url: 'https://h.test/o/a.git' } },
      { input: { url: 'https://h.test/o/b.git' } },
    ]);
    assert.equal(load({ REPOS_JSON, MAIN_REPO_NAME: 'b' }).workspace.mainRepoName, 'b');
    assert.equal(load({ REPOS_JSON, MAIN_REPO_INDEX: '1' }).workspace.mainRepoName, 'b');
    assert.equal(load({ REPOS_JSON, MAIN_REPO_INDEX: '0' }).workspace.mainRepoName, 'a');
    assert.match(
      problemFor(problems({ REPOS_JSON, MAIN_REPO_NAME: 'c' }), 'MAIN_REPO_NAME:'),
      /not one of the repos \(a, b\)/,
    );
    assert.match(
      problemFor(problems({ REPOS_JSON, MAIN_REPO_INDEX: '2' }), 'MAIN_REPO_INDEX:'),
      /use 0…1/,
    );
    assert.match(
      problemFor(problems({ REPOS_JSON, MAIN_REPO_INDEX: '-1' }), 'MAIN_REPO_INDEX:'),
      /not an index/,
    );
    assert.match(
      problemFor(problems({ REPOS_JSON, MAIN_REPO_INDEX: 'x' }), 'MAIN_REPO_INDEX:'),
      /not an index/,
    );
  });

  test('malformed REPOS_JSON: not JSON, wrong shape', () => {
    assert.match(
      problemFor(problems({ REPOS_JSON: '[{' }), 'REPOS_JSON:'),
      /not valid JSON.*give an array like/,
    );
    assert.match(
      problemFor(problems({ REPOS_JSON: '{"input":{}}' }), 'REPOS_JSON:'),
      /each entry is/,
    );
    const list = problems({ REPOS_JSON: '[{"input":{"url":""}},{"name":"x"}]' });
    assert.ok(
      list.some((p) => p.startsWith('REPOS_JSON[0].input.url: ')),
      JSON.stringify(list),
    );
    assert.ok(
      list.some((p) => p.startsWith('REPOS_JSON[1].input: ')),
      JSON.stringify(list),
    );
  });

  test('names must be plain: "../", "/", reserved names and duplicates are refused', () => {
    const url = 'https://github.com/org/app.git';
    const bad = (name: string) =>
      problemFor(
        problems({ REPOS_JSON: JSON.stringify([{ name, input: { url } }]) }),
        'REPOS_JSON[0].name:',
      );
    assert.match(bad('../escape'), /not a plain folder name/);
    assert.match(bad('..'), /not a plain folder name/);
    assert.match(bad('a/b'), /not a plain folder name/);
    assert.match(bad('/abs'), /not a plain folder name/);
    assert.match(bad('artifacts'), /reserved/);
    assert.match(bad('workflows'), /reserved/);
    assert.match(bad('.claude'), /reserved/);
    // A name derived from the URL is checked the same way.
    assert.match(
      problemFor(
        problems({ REPOS_JSON: JSON.stringify([{ input: { url: 'file:///srv/..' } }]) }),
        'REPOS_JSON[0].name:',
      ),
      /not a plain folder name/,
    );
    const dup = problems({
      REPOS_JSON: JSON.stringify([
        { input: { url } },
        { input: { url: 'https://gitlab.com/x/app' } },
      ]),
    });
    assert.match(problemFor(dup, 'REPOS_JSON[1].name:'), /used twice/);
  });

  test('URLs: credentials refused (and not echoed), unusable schemes refused', () => {
    const list = problems({
      REPOS_JSON: JSON.stringify([
        { input: { url: 'https://x-access-token:hunter2secret@github.com/org/app.git' } },
        {
          name: 'b',
          input: { url: 'ftp://h.test/b.git' },
          output: { url: 'https://u:p4ss@h.test/b.git' },
        },
        { name: 'c', input: { url: 'just words' } },
      ]),
    });
    assert.match(
      problemFor(list, 'REPOS_JSON[0].input.url:'),
      /contains credentials: .*GITHUB_TOKEN or GITLAB_TOKEN/,
    );
    assert.match(problemFor(list, 'REPOS_JSON[1].input.url:'), /ftp: which git cannot clone/);
    assert.match(problemFor(list, 'REPOS_JSON[1].output.url:'), /contains credentials/);
    assert.match(problemFor(list, 'REPOS_JSON[2].input.url:'), /not a git URL/);
    for (const p of list)
      assert.ok(!p.includes('hunter2secret') && !p.includes('p4ss'), `no credential in: ${p}`);
  });

  test('the older single-repo form', () => {
    const c = load({
      INPUT_REPO_URL: 'https://github.com/org/app.git',
      INPUT_BRANCH: 'main',
      OUTPUT_REPO_URL: 'https://github.com/fork/app.git',
      OUTPUT_BRANCH: 'out',
    });
    assert.deepEqual(c.workspace.repos, [
      {
        name: 'app',
        input: { url: 'https://github.com/org/app.git', branch: 'main' },
        output: { url: 'https://github.com/fork/app.git', branch: 'out' },
      },
    ]);
    assert.equal(c.workspace.mainRepoName, 'app');
    assert.deepEqual(load({ INPUT_REPO_URL: 'https://github.com/org/app' }).workspace.repos, [
      { name: 'app', input: { url: 'https://github.com/org/app' } },
    ]);
    assert.match(
      problemFor(
        problems({ OUTPUT_REPO_URL: 'https://github.com/fork/app.git' }),
        'OUTPUT_REPO_URL:',
      ),
      /set INPUT_REPO_URL too/,
    );
    assert.match(
      problemFor(
        problems({ INPUT_REPO_URL: 'https://u:tok@github.com/org/app.git' }),
        'INPUT_REPO_URL.input.url:',
      ),
      /contains credentials/,
    );
    // REPOS_JSON, when given, is the one that counts.
    const both = load({
      REPOS_JSON: '[{"input":{"url":"https://github.com/org/new.git"}}]',
      INPUT_REPO_URL: 'https://github.com/org/old.git',
    });
    assert.deepEqual(
      both.workspace.repos.map((r) => r.name),
      ['new'],
    );
  });

  test('helpers: repoNameFromUrl, checkRepoName, checkRepoUrl, parseRepos never throw', () => {
    assert.equal(repoNameFromUrl('https://host/org/my-repo.git'), 'my-repo');
    assert.equal(repoNameFromUrl('https://host/org/my-repo/'), 'my-repo');
    assert.equal(repoNameFromUrl('git@host:org/app'), 'app');
    assert.equal(repoNameFromUrl('https://host/org/app.git?ref=x#frag'), 'app');
    assert.equal(checkRepoName('ok-name_1.2'), null);
    assert.notEqual(checkRepoName(''), null);
    assert.equal(
      checkRepoUrl('ssh://git@host.test/org/app.git'),
      null,
      'an ssh user is not a credential',
    );
    assert.match(checkRepoUrl('ssh://git:pw@host.test/org/app.git') ?? '', /contains credentials/);
    assert.match(
      checkRepoUrl('https://ghp_token@github.com/org/app.git') ?? '',
      /contains credentials/,
    );
    assert.equal(checkRepoUrl('git@host.test:org/app.git'), null);
    assert.equal(checkRepoUrl('file:///srv/app'), null);
    assert.equal(checkRepoUrl('ssh:///srv/app.git'), 'has no host');
    const list: string[] = [];
    assert.deepEqual(parseRepos({ REPOS_JSON: 'null' }, list), { repos: [] });
    assert.equal(list.length, 1);
  });
});

describe('Langfuse', () => {
  const keys = {
    LANGFUSE_PUBLIC_KEY: 'pk-lf-unit-0123456789',
    LANGFUSE_SECRET_KEY: 'sk-lf-unit-0123456789',
  };

  test('complete settings enable tracing (default host when none given)', () => {
    const c = load({ LANGFUSE_ENABLED: 'true', ...keys, LANGFUSE_FLUSH_TIMEOUT: '5' });
    assert.deepEqual(
      { ...c.langfuse },
      {
        enabled: true,
        host: DEFAULT_LANGFUSE_HOST,
        publicKey: keys.LANGFUSE_PUBLIC_KEY,
        secretKey: keys.LANGFUSE_SECRET_KEY,
        flushTimeoutMs: 5_000,
        maskMessages: false,
      },
    );
    assert.equal(
      load({ LANGFUSE_ENABLED: 'true', ...keys, LANGFUSE_HOST: 'https://lf.test/' }).langfuse.host,
      'https://lf.test',
    );
    assert.deepEqual(c.warnings, []);
  });

  test('incomplete settings are one warning, never an error', () => {
    const c = load({ LANGFUSE_ENABLED: 'true', LANGFUSE_PUBLIC_KEY: keys.LANGFUSE_PUBLIC_KEY });
    assert.equal(c.langfuse.enabled, false);
    assert.equal(c.warnings.length, 1);
    assert.match(c.warnings[0]!, /LANGFUSE_SECRET_KEY is missing; the session runs untraced/);
    const badHost = load({ LANGFUSE_ENABLED: 'true', ...keys, LANGFUSE_HOST: 'ftp://lf.test' });
    assert.equal(badHost.langfuse.enabled, false);
    assert.match(badHost.warnings[0]!, /a valid http\(s\) LANGFUSE_HOST is missing/);
    const none = load({ LANGFUSE_ENABLED: 'true' });
    assert.match(none.warnings[0]!, /LANGFUSE_PUBLIC_KEY and LANGFUSE_SECRET_KEY are missing/);
  });

  test('keys are secrets even when tracing is off', () => {
    const c = load(keys);
    assert.equal(c.langfuse.enabled, false);
    assert.deepEqual(c.warnings, []);
    assert.ok(
      c.secrets.includes(keys.LANGFUSE_PUBLIC_KEY) && c.secrets.includes(keys.LANGFUSE_SECRET_KEY),
    );
  });
});

describe('untrusted user text', () => {
  test('USER_ID and USER_NAME are sanitised', () => {
    const c = load({
      USER_ID: 'bob; rm -rf /\n<script>',
      USER_NAME: '  Bob\u0007\r\n\u001b[31mEvil\u009b\tName  ',
    });
    assert.equal(c.session.userId, 'bob_rm_-rf_script_');
    assert.match(c.session.userId!, /^[A-Za-z0-9@._:+-]+$/);
    assert.equal(c.session.userName, 'Bob [31mEvil Name');
    // eslint-disable-next-line no-control-regex -- the point is that no control character survives
    assert.ok(!/[\u0000-\u001f\u007f-\u009f]/.test(c.session.userName!));
    const long = load({ USER_NAME: 'x'.repeat(1000), USER_ID: 'y'.repeat(1000) });
    assert.equal(long.session.userName!.length, 128);
    assert.equal(long.session.userId!.length, 128);
    assert.equal(load({ USER_ID: 'alice@example.com' }).session.userId, 'alice@example.com');
  });

  test('sanitizeText / sanitizeId edge cases', () => {
    assert.equal(sanitizeText(undefined), undefined);
    assert.equal(sanitizeText('\n\t '), undefined, 'nothing left is unset, not ""');
    assert.equal(sanitizeText('a\u2028b'), 'a b');
    assert.equal(sanitizeId('////'), '_');
    assert.equal(sanitizeId(undefined), undefined);
  });
});

describe('the result', () => {
  test('is deeply frozen', () => {
    const c = load({ REPOS_JSON: '[{"input":{"url":"https://h.test/o/a.git"}}]', PATH: '/bin' });
    for (const o of [
      c,
      c.session,
      c.backend,
      c.model,
      c.workspace,
      c.workspace.repos,
      c.workspace.repos[0]!.input,
      c.runtime.passthroughEnv,
      c.secrets,
      c.langfuse,
    ])
      assert.ok(Object.isFrozen(o));
    assert.throws(() => {
      (c.session as { prompt: string }).prompt = 'changed';
    }, TypeError);
    assert.throws(() => (c.secrets as string[]).push('x'), TypeError);
  });

  test('the environment object is not kept or changed', () => {
    const env: Record<string, string> = { ...(base as Record<string, string>) };
    const c = loadRunnerConfig(env);
    env.PROMPT = 'changed later';
    assert.equal(c.session.prompt, 'hello');
    assert.ok(!Object.isFrozen(env));
  });
});

describe('backend addresses', () => {
  test('deriveApiUrl', () => {
    assert.equal(deriveApiUrl('ws://h:8080/api/projects/p/sessions/s/ws'), 'http://h:8080/api');
    assert.equal(
      deriveApiUrl('wss://h.test/api/projects/p/sessions/s/ws?token=abc'),
      'https://h.test/api',
    );
    assert.equal(deriveApiUrl('ws://h/prefix/api/projects/p/sessions/s/ws'), 'http://h/prefix/api');
    assert.equal(deriveApiUrl('ws://h/socket'), undefined);
  });

  test('BACKEND_API_URL wins over the derived one and loses its trailing slash', () => {
    assert.equal(
      load({ BACKEND_API_URL: 'https://api.test/api/' }).backend.apiUrl,
      'https://api.test/api',
    );
    assert.equal(load({ WEBSOCKET_URL: 'ws://h/socket' }).backend.apiUrl, undefined);
  });

  test('loadReportingTarget reads what reporting needs from a broken environment', () => {
    const t = loadReportingTarget({
      WEBSOCKET_URL: 'wss://be.test/api/projects/p/sessions/s/ws',
      BOT_TOKEN,
      SESSION_ID: 's',
      PROJECT_NAME: 'p',
      TIMEOUT: '-1',
      REPOS_JSON: '{{{',
      ANTHROPIC_API_KEY: API_KEY,
      GITHUB_TOKEN: 'ghp_unitTestGithubToken0123456789',
    });
    assert.deepEqual(t, {
      websocketUrl: 'wss://be.test/api/projects/p/sessions/s/ws',
      apiUrl: 'https://be.test/api',
      botToken: BOT_TOKEN,
      project: 'p',
      sessionName: 's',
      secrets: [API_KEY, BOT_TOKEN, 'ghp_unitTestGithubToken0123456789'],
    });
    const bare = loadReportingTarget({
      WEBSOCKET_URL: 'http://wrong',
      AGENTIC_SESSION_NAMESPACE: 'ns',
    });
    assert.deepEqual(bare, { project: 'ns', secrets: [] });
    assert.equal(
      loadReportingTarget({ AGENTIC_SESSION_NAME: 'n', SESSION_ID: 'id' }).sessionName,
      'n',
    );
  });
});

describe('EnvReader', () => {
  test('collects problems instead of throwing', () => {
    const r = new EnvReader({ N: '5', B: 'nope', U: 'mailto:x@y', E: 'c' });
    assert.equal(r.number('N', { min: 1, max: 4 }), undefined);
    assert.equal(r.bool('B', true), true, 'the fallback on a bad value');
    assert.equal(r.url('U', ['http:']), undefined);
    assert.equal(r.oneOf('E', ['a', 'b'] as const, 'a'), 'a');
    assert.equal(r.required('MISSING', 'set it'), undefined);
    assert.equal(r.problems.length, 5);
    assert.ok(r.problems.every((p, i) => p.startsWith(['N:', 'B:', 'U:', 'E:', 'MISSING:'][i]!)));
  });
});
