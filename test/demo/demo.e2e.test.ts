// End to end, real processes: `claude-code-runner demo` (its own control plane, the real runner,
// the real Claude Code CLI, the scripted model, real git), and the client's
// `session create --watch` against a real `serve`. Three sessions in all: the demo to the end,
// the demo stopped by Ctrl-C while the CLI waits on the model, and the client's one.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { readProcessEnv } from '../../src/config/process-env.js';
import { runnerProcesses, startServe } from '../../src/testing/serve-process.js';
import { DEMO_FILES } from '../../src/demo/repo.js';
import { readRemoteFile } from '../../src/testing/git-fixtures.js';
import { startScriptedModelServer } from '../../src/testing/scripted-model/index.js';

const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
/** Shapes of our own user and runner tokens (src/control-plane/redaction.ts). */
const OWN_TOKEN = /\bccrb?_[A-Za-z0-9_-]{20,}/;
const ESCAPE = '\x1b[';

let root: string;
before(() => {
  root = mkdtempSync(path.join(tmpdir(), 'ccr-demo-test-'));
  mkdirSync(path.join(root, 'home'));
});
after(() => rmSync(root, { recursive: true, force: true }));

/**
 * The environment of a child: ours without model, color or control-plane settings (so a
 * developer's ANTHROPIC_API_KEY never turns the test into a real API call), a temp HOME.
 */
function childEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(readProcessEnv())) {
    if (
      v === undefined ||
      /^(ANTHROPIC_|VERTEX_|CLAUDE_CODE_USE_|CLAUDE_RUNNER_|LANGFUSE_)/.test(k)
    )
      continue;
    if (
      ['NO_COLOR', 'FORCE_COLOR', 'CLOUD_ML_REGION', 'GOOGLE_APPLICATION_CREDENTIALS'].includes(k)
    )
      continue;
    env[k] = v;
  }
  return { ...env, HOME: path.join(root, 'home'), ...extra };
}

interface Cli {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves once stdout matches. */
  waitFor(re: RegExp): Promise<RegExpExecArray>;
  exit: Promise<number | null>;
}

/** `node dist/src/cli/main.js ARGS`, bounded so that a hang fails the test, not the suite. */
function cli(args: string[], env: Record<string, string>, boundMs = 180_000): Cli {
  const child = spawn(process.execPath, [CLI, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  const waiters: { re: RegExp; resolve: (m: RegExpExecArray) => void }[] = [];
  child.stdout!.setEncoding('utf8').on('data', (d: string) => {
    out += d;
    for (const w of [...waiters]) {
      const m = w.re.exec(out);
      if (m) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(m);
      }
    }
  });
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  const timer = setTimeout(() => child.kill('SIGKILL'), boundMs);
  const exit = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve(code);
    }),
  );
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    exit,
    waitFor: (re) =>
      new Promise((resolve, reject) => {
        const m = re.exec(out);
        if (m) return resolve(m);
        waiters.push({ re, resolve });
        void exit.then(() => reject(new Error(`exited before printing ${re}:\n${out}\n${err}`)));
      }),
  };
}

describe('claude-code-runner demo', () => {
  test('offline: streams the session, edits and pushes the demo repo, summarises, leaves no process', async () => {
    const dataDir = path.join(root, 'data');
    const github = 'ghp_demoTestTokenThatMustNeverShow0123456789';
    const demo = cli(['demo', '--data-dir', dataDir], childEnv({ GITHUB_TOKEN: github }));
    const code = await demo.exit;
    const out = demo.stdout();
    const all = out + demo.stderr();
    assert.equal(code, 0, all);

    // The stream: thinking, text, every tool call with its result, the final answer.
    assert.match(out, /scripted model at http:\/\/127\.0\.0\.1:\d+, offline/);
    assert.match(out, /✻ The user wants a --shout option/);
    assert.match(out, /Let me look at the script and its README first\./);
    for (const call of ['Read(greet.js)', 'Read(README.md)', 'Edit(greet.js)', 'Edit(README.md)'])
      assert.ok(out.includes(`▸ ${call}`), `${call} in:\n${out}`);
    assert.ok(out.includes('▸ Bash(node greet.js Ada && node greet.js --shout Ada)'), out);
    assert.match(out, /```\nHello, Ada!\nHELLO, ADA!\n```/);
    assert.match(out, /✓ demo-app pushed to sessions\/session-/);
    // The summary, and where the result is.
    assert.match(out, /● Completed/);
    assert.match(out, /turns +6\n +tokens +[\d,]+ input · [\d,]+ output/);
    assert.match(out, /cost +\$[\d.]+\n +duration +[\d.]+m?s/);
    const name = /session +(session-[a-z0-9]+)/.exec(out)?.[1];
    assert.ok(name, out);
    const bare = path.join(dataDir, 'repos', 'demo-app.git');
    assert.ok(out.includes(`result    branch sessions/${name} of ${bare}`), out);
    assert.match(out, /\+console\.log\(shout \? greeting\.toUpperCase\(\) : greeting\);/);
    assert.ok(out.includes(`data dir kept: ${dataDir}`), out);

    // The repo really changed: the pushed branch has the edits, main is as seeded.
    assert.match(
      readRemoteFile(bare, `sessions/${name}`, 'greet.js') ?? '',
      /args\.includes\('--shout'\)/,
    );
    assert.match(
      readRemoteFile(bare, `sessions/${name}`, 'README.md') ?? '',
      /node greet\.js --shout Ada/,
    );
    assert.equal(readRemoteFile(bare, 'main', 'greet.js'), DEMO_FILES['greet.js']);
    const workspace = path.join(dataDir, 'workspaces', name, 'demo-app', 'greet.js');
    assert.match(readFileSync(workspace, 'utf8'), /toUpperCase/);

    // Nothing left running, no secret shown, no colors off a terminal.
    assert.deepEqual(runnerProcesses(dataDir), []);
    const token = readFileSync(path.join(dataDir, 'token'), 'utf8').trim();
    assert.ok(token.length >= 16);
    assert.ok(!all.includes(token), 'the user token was printed');
    assert.doesNotMatch(all, OWN_TOKEN);
    assert.ok(!all.includes(github), 'GITHUB_TOKEN was printed');
    const runLog = readFileSync(path.join(dataDir, 'logs', name, 'run-1.log'), 'utf8');
    assert.ok(!runLog.includes(github), 'GITHUB_TOKEN reached the runner');
    assert.ok(!all.includes(ESCAPE), 'escape sequences off a terminal');
  });

  test('with ANTHROPIC_API_KEY: the key goes to that API, never to the screen; Ctrl-C stops it all', async () => {
    // A stand-in for the real API that never answers, so Ctrl-C surely lands mid-session.
    const api = await startScriptedModelServer({
      quiet: true,
      scenarios: [{ name: 'never', turns: [{ steps: [{ text: 'too late', delayMs: 600_000 }] }] }],
      defaultScenario: 'never',
    });
    const tmp = path.join(root, 'tmp');
    mkdirSync(tmp);
    const key = 'sk-ant-api03-demoTestKeyThatMustNeverShow-0123456789abcdef';
    try {
      const demo = cli(
        ['demo'],
        childEnv({ ANTHROPIC_API_KEY: key, ANTHROPIC_BASE_URL: api.url, TMPDIR: tmp }),
      );
      const dataDir = (await demo.waitFor(/data dir (\/\S+)\)/))[1]!;
      assert.ok(dataDir.startsWith(tmp), dataDir);
      assert.match(
        demo.stdout(),
        new RegExp(`the Anthropic API at ${api.url.replace(/\./g, '\\.')}`),
      );
      let exited = false;
      void demo.exit.then(() => (exited = true));
      while (!exited && !api.requests.some((r) => r.kind === 'messages' && !r.auxiliary))
        await new Promise((r) => setTimeout(r, 50));
      assert.equal(exited, false, demo.stdout() + demo.stderr());
      // The user's key (masked as recorded), not the offline one, reached the endpoint.
      assert.equal(api.requests.at(-1)?.headers['x-api-key'], 'sk-a[REDACTED]');
      assert.ok(runnerProcesses(dataDir).length > 0, 'the runner runs');
      demo.child.kill('SIGINT');
      const code = await demo.exit;
      const all = demo.stdout() + demo.stderr();
      assert.equal(code, 130, all);
      assert.match(demo.stdout(), /stopping the session and the demo/);
      assert.deepEqual(runnerProcesses(dataDir), [], 'a runner (or the CLI) outlived the demo');
      assert.equal(existsSync(dataDir), false, 'the temp data dir was left behind');
      assert.deepEqual(
        readdirSync(tmp).filter((f) => f.startsWith('ccr-demo-')),
        [],
      );
      assert.ok(!all.includes(key), 'the API key was printed');
    } finally {
      await api.close();
    }
  });

  test('bad flags or no git: a clear error naming the problem, nothing started', async () => {
    const tmp = path.join(root, 'tmp-bad');
    mkdirSync(tmp);
    const env = childEnv({ TMPDIR: tmp });
    const unknown = cli(['demo', '--bogus'], env);
    assert.equal(await unknown.exit, 2);
    assert.match(
      unknown.stderr(),
      /unknown option '--bogus' \(see: claude-code-runner demo --help\)/,
    );
    assert.equal(unknown.stdout(), '');
    const port = cli(['demo', '--port', 'eighty'], env);
    assert.equal(await port.exit, 2);
    assert.match(port.stderr(), /--port: "eighty" is not a port: use a whole number in 0…65535/);
    // No git on PATH (node itself is started by its absolute path): a clear error, exit 1.
    const noGit = cli(['demo'], { ...env, PATH: path.join(root, 'no-such-dir') });
    assert.equal(await noGit.exit, 1);
    assert.match(noGit.stderr(), /git is not installed \(or not on PATH\).*install git/);
    assert.deepEqual(readdirSync(tmp), [], 'a failed start must not leave a data dir');
    const help = cli(['demo', '--help'], env);
    assert.equal(await help.exit, 0);
    assert.match(help.stdout(), /usage: claude-code-runner demo \[options\][\s\S]*--data-dir DIR/);
  });
});

describe('claude-code-runner session create --watch', () => {
  test('against a real serve with the scripted model: renders the session, exits 0', async () => {
    const model = await startScriptedModelServer({ quiet: true, defaultScenario: 'write-file' });
    const serve = await startServe({
      env: {
        ...childEnv(),
        ANTHROPIC_BASE_URL: model.url,
        ANTHROPIC_API_KEY: 'offline-client-test',
        CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
        CLAUDE_CODE_MAX_RETRIES: '1',
      },
    });
    try {
      const client = cli(
        [
          'session',
          'create',
          '--prompt',
          'Create the greeting file.',
          '--watch',
          '--url',
          serve.url,
          '-p',
          'demo',
        ],
        childEnv({ CLAUDE_RUNNER_API_TOKEN: serve.token }),
      );
      const code = await client.exit;
      const out = client.stdout();
      assert.equal(code, 0, out + client.stderr());
      const name = /created (session-[a-z0-9]+) in project demo/.exec(out)?.[1];
      assert.ok(name, out);
      assert.match(
        out,
        /I'll create the file\.\n▸ Write\(hello\.txt\)\n +⎿ File created successfully/,
      );
      assert.match(out, /Done: I wrote hello\.txt in \S+\/artifacts\./);
      assert.match(out, /● Completed[\s\S]*turns +2\n +tokens/);
      assert.ok(!(out + client.stderr()).includes(serve.token), 'the token was printed');
      const file = path.join(serve.dataDir, 'workspaces', name, 'artifacts', 'hello.txt');
      assert.equal(readFileSync(file, 'utf8'), 'Hello from the scripted model!\n');
    } finally {
      await serve.stop();
      await model.close();
    }
    assert.deepEqual(runnerProcesses(serve.dataDir), []);
  });
});
