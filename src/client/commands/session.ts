/** The one-shot subcommands: list, get, send, interrupt, stop, delete, logs. */
import { intFlag, usageError } from '../args.js';
import { renderList, renderSession } from '../format.js';
import type { Context } from './context.js';

export async function listSessions(ctx: Context): Promise<number> {
  const items = await ctx.api.list();
  if (ctx.json) ctx.out(JSON.stringify({ items }));
  else for (const line of renderList(items, ctx.style)) ctx.out(line);
  return 0;
}

export async function getSession(ctx: Context): Promise<number> {
  const s = await ctx.api.get(ctx.positionals[0]!);
  if (ctx.json) ctx.out(JSON.stringify(s));
  else for (const line of renderSession(s, ctx.style)) ctx.out(line);
  return 0;
}

export async function send(ctx: Context): Promise<number> {
  const name = ctx.positionals[0]!;
  let text = ctx.positionals[1]!;
  if (text === '-') text = await ctx.io.readStdin();
  if (!text.trim()) throw usageError('the message is empty', 'send');
  const r = await ctx.api.send(name, { type: 'user_message', content: text });
  if (ctx.json) ctx.out(JSON.stringify(r));
  else
    ctx.out(
      `sent to ${name}${r.delivered ? '' : ' (queued: the runner is not connected yet; it gets the message when it connects)'}`,
    );
  return 0;
}

export async function interrupt(ctx: Context): Promise<number> {
  const name = ctx.positionals[0]!;
  const r = await ctx.api.send(name, { type: 'interrupt' });
  if (ctx.json) ctx.out(JSON.stringify(r));
  else
    ctx.out(`interrupt sent to ${name}${r.delivered ? '' : ' (queued until the runner connects)'}`);
  return 0;
}

export async function stop(ctx: Context): Promise<number> {
  const name = ctx.positionals[0]!;
  const s = await ctx.api.stop(name);
  if (ctx.json) ctx.out(JSON.stringify(s));
  else ctx.out(`${name}: ${s.status.phase}${s.status.message ? ` — ${s.status.message}` : ''}`);
  return 0;
}

export async function remove(ctx: Context): Promise<number> {
  const name = ctx.positionals[0]!;
  await ctx.api.delete(name);
  if (ctx.json) ctx.out(JSON.stringify({ deleted: name }));
  else ctx.out(`deleted ${name}`);
  return 0;
}

export async function logs(ctx: Context): Promise<number> {
  const name = ctx.positionals[0]!;
  const runN = intFlag(ctx.values, 'run', 'logs', 1, Number.MAX_SAFE_INTEGER);
  const tail = intFlag(ctx.values, 'tail', 'logs', 1, Number.MAX_SAFE_INTEGER);
  const text = await ctx.api.logs(name, {
    ...(runN !== undefined ? { run: runN } : {}),
    ...(tail !== undefined ? { tail } : {}),
  });
  if (ctx.json)
    ctx.out(
      JSON.stringify({ session: name, ...(runN !== undefined ? { run: runN } : {}), logs: text }),
    );
  else ctx.io.stdout.write(text.endsWith('\n') || !text ? text : `${text}\n`);
  return 0;
}
