/** `session watch` (and `create --watch`): follow a session live until it ends. */
import { followSession } from '../follow.js';
import { Terminal } from '../terminal.js';
import type { Context } from './context.js';

/** ` --project P` for hints, when the project is not the default one. */
export function projectFlag(ctx: Context): string {
  return ctx.config.project === 'default' ? '' : ` --project ${ctx.config.project}`;
}

export async function watch(ctx: Context, name: string, afterSeq: number): Promise<number> {
  return follow(ctx, name, afterSeq);
}

export async function follow(
  ctx: Context,
  name: string,
  afterSeq: number,
  session?: Parameters<typeof followSession>[0]['session'],
): Promise<number> {
  const isTTY = ctx.io.stdout.isTTY === true;
  const terminal = new Terminal(ctx.io.stdout, {
    spinner: isTTY && !ctx.json,
    color: ctx.style.color,
  });
  let controller: AbortController | undefined;
  let signal = ctx.io.signal;
  const onSigint = () => controller?.abort();
  if (!signal) {
    controller = new AbortController();
    signal = controller.signal;
    process.once('SIGINT', onSigint);
  }
  try {
    const r = await followSession({
      api: ctx.api,
      name,
      ...(session ? { session } : {}),
      afterSeq,
      terminal,
      style: { ...ctx.style, session: name },
      json: ctx.json,
      stdout: ctx.io.stdout,
      stderr: ctx.io.stderr,
      signal,
    });
    if (r.phase === undefined)
      ctx.io.stderr.write(
        `\nstopped watching at seq ${r.lastSeq}; the session goes on (watch again: claude-code-runner session watch ${name} --after-seq ${r.lastSeq}; stop it: claude-code-runner session stop ${name})\n`,
      );
    return r.exitCode;
  } finally {
    terminal.close();
    process.off('SIGINT', onSigint);
  }
}
