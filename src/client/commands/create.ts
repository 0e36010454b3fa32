/** `session create`: a new session from flags, and with `--watch` followed to the end. */
import type { CreateBody } from '../api.js';
import { flag, intFlag, list, parseEnvPairs, parseRepoArg, str, usageError } from '../args.js';
import type { Context } from './context.js';
import { follow, projectFlag } from './follow.js';

export async function create(ctx: Context): Promise<number> {
  const v = ctx.values;
  const interactive = flag(v, 'interactive');
  const prompt = str(v, 'prompt');
  if (prompt === undefined && !interactive)
    throw usageError(
      '--prompt is required (or --interactive to send the first message later)',
      'create',
    );
  if (prompt !== undefined && !prompt.trim() && !interactive)
    throw usageError('--prompt is empty: give the agent something to do', 'create');
  const timeout = intFlag(v, 'timeout', 'create', 0, 7 * 24 * 3600);
  const repos = list(v, 'repo').map((r) => {
    if (!r.trim())
      throw usageError(
        '--repo needs a URL, e.g. --repo https://github.com/org/repo.git@main',
        'create',
      );
    const { url, branch } = parseRepoArg(r.trim());
    return { input: { url, ...(branch ? { branch } : {}) } };
  });
  const env = parseEnvPairs(list(v, 'env'), 'create');
  const model = str(v, 'model');
  const displayName = str(v, 'display-name');
  const body: CreateBody = {
    prompt: prompt ?? '',
    ...(interactive ? { interactive: true } : {}),
    ...(model ? { llmSettings: { model } } : {}),
    ...(timeout !== undefined ? { timeout } : {}),
    ...(repos.length ? { repos } : {}),
    ...(displayName ? { displayName } : {}),
    ...(env ? { environmentVariables: env } : {}),
  };
  const session = await ctx.api.create(body);
  const name = session.metadata.name;
  if (ctx.json) ctx.out(JSON.stringify(session));
  else {
    ctx.out(
      `created ${name} in project ${session.metadata.namespace} (phase ${session.status.phase})`,
    );
    if (!flag(v, 'watch')) {
      ctx.out(`  watch it:   claude-code-runner session watch ${name}${projectFlag(ctx)}`);
      if (interactive)
        ctx.out(`  talk to it: claude-code-runner session send ${name}${projectFlag(ctx)} "…"`);
    }
  }
  if (!flag(v, 'watch')) return 0;
  return follow(ctx, name, 0, session);
}
