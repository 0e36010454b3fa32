/**
 * The demo's git repo: a bare repository in the data dir, seeded with a tiny Node.js script and
 * its README, which the session clones (file://), edits and pushes to `sessions/<id>`; and, at
 * the end, what the session pushed (the diff against the input branch).
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { clean, paint, type Style } from '../client/render.js';
import { UserError } from '../errors.js';
import { createBareRepo, gitSync } from '../testing/git-fixtures.js';

export const DEMO_REPO_NAME = 'demo-app';
export const DEMO_BRANCH = 'main';

/** What the scripted `demo-repo` scenario expects to find (its Edit calls quote these lines). */
export const DEMO_FILES: Readonly<Record<string, string>> = {
  'README.md':
    '# demo-app\n\nA tiny Node.js script for the claude-code-runner demo: it greets whoever you name.\n\nRun it: `node greet.js Ada`\n',
  'greet.js':
    "// Prints a greeting for the name given on the command line.\nconst name = process.argv[2] ?? 'world';\nconsole.log(`Hello, ${name}!`);\n",
};

export interface DemoRepo {
  name: string;
  /** The bare repository. */
  path: string;
  url: string;
  branch: string;
}

/** The demo clones and pushes with real git: say so plainly when it is missing. */
export function requireGit(): void {
  try {
    execFileSync('git', ['--version'], { stdio: 'ignore', timeout: 10_000 });
  } catch (e) {
    const missing = (e as NodeJS.ErrnoException).code === 'ENOENT';
    throw new UserError(
      'config',
      missing
        ? 'git is not installed (or not on PATH): the demo clones, edits and pushes a local repo with it; install git (e.g. apt-get install git) and run the demo again'
        : `git does not run (${(e as Error).message}): check the git installation`,
      { cause: e },
    );
  }
}

/** Creates the repo under `<dataDir>/repos/`, or reuses the one an earlier demo left there. */
export async function ensureDemoRepo(dataDir: string): Promise<DemoRepo> {
  const bare = path.join(dataDir, 'repos', `${DEMO_REPO_NAME}.git`);
  const repo = {
    name: DEMO_REPO_NAME,
    path: bare,
    url: pathToFileURL(bare).href,
    branch: DEMO_BRANCH,
  };
  if (existsSync(path.join(bare, 'HEAD'))) return repo;
  await createBareRepo(path.dirname(bare), path.basename(bare), {
    branches: { [DEMO_BRANCH]: { ...DEMO_FILES } },
    message: 'demo-app: greet.js and its README',
  });
  return repo;
}

export interface PushedResult {
  branch: string;
  sha: string;
  subject: string;
  /** `git diff --stat` lines. */
  stat: string[];
  diff: string[];
}

/** What the session pushed to `branch`, or undefined when it pushed nothing there. */
export function pushedResult(repo: DemoRepo, branch: string): PushedResult | undefined {
  let log: string;
  try {
    log = gitSync(repo.path, ['log', '-1', '--format=%H%x00%s', `refs/heads/${branch}`]).trim();
  } catch {
    return undefined;
  }
  const [sha = '', subject = ''] = log.split('\0');
  const range = [`refs/heads/${repo.branch}`, `refs/heads/${branch}`];
  const lines = (s: string) => s.replace(/\n$/, '').split('\n').filter(Boolean);
  return {
    branch,
    sha,
    subject,
    stat: lines(gitSync(repo.path, ['diff', '--stat', ...range])),
    diff: gitSync(repo.path, ['diff', ...range])
      .replace(/\n$/, '')
      .split('\n'),
  };
}

const MAX_DIFF_LINES = 60;

/**
 * The pushed commit and its diff, coloured like git's, cut at a screenful. The files were written
 * by the model: each line is stripped of control characters and passed through `redact`.
 */
export function renderPushed(
  r: PushedResult,
  repo: DemoRepo,
  style: Style,
  redact: (text: string) => string,
): string[] {
  const safe = (l: string) => redact(clean(l));
  const out = [
    `${paint(style, ['green', 'bold'], '●')} ${paint(style, 'bold', `pushed ${r.branch}`)} ${paint(style, 'dim', `${r.sha.slice(0, 12)} ${safe(r.subject)}`)}`,
    ...r.stat.map((l) => `  ${safe(l.trim())}`),
    '',
  ];
  for (const raw of r.diff.slice(0, MAX_DIFF_LINES)) {
    const l = safe(raw);
    const color =
      l.startsWith('+++') || l.startsWith('---') || l.startsWith('diff ') || l.startsWith('index ')
        ? 'bold'
        : l.startsWith('+')
          ? 'green'
          : l.startsWith('-')
            ? 'red'
            : l.startsWith('@@')
              ? 'cyan'
              : undefined;
    out.push(color ? paint(style, color, l) : l);
  }
  if (r.diff.length > MAX_DIFF_LINES)
    out.push(
      paint(
        style,
        'dim',
        `… ${r.diff.length - MAX_DIFF_LINES} more lines: git -C ${repo.path} diff ${repo.branch} ${r.branch}`,
      ),
    );
  return out;
}
