/**
 * The workspace context appended to the Claude Code system prompt: where things are, which repo
 * is the working directory, where outputs go, what happens to changes at the end, and the
 * workflow's own system prompt.
 */

export interface ContextRepo {
  name: string;
  dir: string;
  branch: string;
  outputBranch: string;
  outputRemote: string;
}

export interface ContextInput {
  sessionName: string;
  root: string;
  cwd: string;
  artifactsDir: string;
  repos: ContextRepo[];
  mainRepo?: string;
  autoPush: boolean;
  createPr: boolean;
  workflow?: { name: string; dir: string; systemPrompt?: string };
}

export function workspaceContext(c: ContextInput): string {
  const lines: string[] = [
    '## Workspace',
    `You are working in session ${c.sessionName} of an agentic-coding platform. The workspace is ${c.root}; your working directory is ${c.cwd}.`,
  ];
  if (c.repos.length) {
    lines.push('', 'Repositories (git clones):');
    for (const r of c.repos) {
      const main = r.name === c.mainRepo ? ' (main repository)' : '';
      lines.push(`- ${r.name}: ${r.dir}, branch ${r.branch}${main}`);
    }
    if (c.autoPush) {
      lines.push(
        '',
        'When the session ends, every change in these repositories is committed and pushed automatically:',
        ...c.repos.map(
          (r) => `- ${r.name} -> branch ${r.outputBranch} of its ${r.outputRemote} remote`,
        ),
      );
      if (c.createPr)
        lines.push('A pull (or merge) request is then opened for each pushed branch.');
      lines.push('You do not need to commit or push yourself unless the user asks you to.');
    } else {
      lines.push(
        '',
        'Changes are not pushed automatically; commit and push only when the user asks you to.',
      );
    }
  } else {
    lines.push('There are no repositories in this session.');
  }
  lines.push(
    '',
    `Put files you produce for the user (reports, exports, generated files) in ${c.artifactsDir}.`,
  );
  if (c.workflow) {
    lines.push(
      '',
      `## Workflow ${c.workflow.name}`,
      `The active workflow is installed at ${c.workflow.dir}.`,
    );
    if (c.workflow.systemPrompt) lines.push('', c.workflow.systemPrompt);
  }
  return lines.join('\n');
}
