// Turns a scenario step into a concrete assistant message (content blocks, ids, usage) that the
// SSE writer and the JSON answer both serialize, so streaming and non-streaming never disagree.
import type { Step, StopReason, ToolCall } from './schema.js';
import { renderDeep, renderTemplate, type TemplateContext } from './templates.js';

export interface Usage {
  input_tokens: number;
  output_tokens: number;
  cache_read_input_tokens: number;
  cache_creation_input_tokens: number;
}

export type ReplyBlock =
  | { type: 'thinking'; thinking: string; signature: string }
  | { type: 'text'; text: string }
  | { type: 'tool_use'; id: string; name: string; input: unknown };

export interface Reply {
  id: string;
  model: string;
  content: ReplyBlock[];
  stopReason: StopReason;
  usage: Usage;
}

export interface ReplyOptions {
  id: string;
  model: string;
  /** Length of JSON.stringify(messages): the basis of the input token estimate. */
  inputChars: number;
  nextToolId: () => string;
}

/** Roughly four characters per token, never zero: deterministic so tests can predict it. */
export function estimateTokens(chars: number): number {
  return Math.max(1, Math.ceil(chars / 4));
}

const CWD_PLACEHOLDER = /\{\{\s*cwd\s*\}\}/;

export function buildReply(step: Step, ctx: TemplateContext, opts: ReplyOptions): Reply {
  const content: ReplyBlock[] = [];
  if (step.thinking !== undefined) {
    content.push({
      type: 'thinking',
      thinking: renderTemplate(step.thinking, ctx),
      // The CLI sends thinking back with its signature; nothing checks it here.
      signature: `scripted-signature-${opts.id}`,
    });
  }
  let text = step.text === undefined ? undefined : renderTemplate(step.text, ctx);
  let tools = step.tools ?? [];
  const refused =
    !ctx.cwd && tools.some((t) => CWD_PLACEHOLDER.test(JSON.stringify(t.input ?? {})));
  if (refused) {
    // Without the working directory `{{cwd}}/x` would become `/x`: a file at the root of the
    // machine. Say so instead of calling the tool, and end the turn.
    text = `[scripted model] not calling ${tools.map((t) => t.name).join(', ')}: the request names no working directory (looked for "Primary working directory:", "Working directory:", "cwd:" with an absolute path), so {{cwd}} cannot be filled in. See docs/scripted-model.md.`;
    tools = [];
  }
  // An empty text next to tool calls would be an empty block, which the real API never sends.
  if (text !== undefined && (text !== '' || tools.length === 0))
    content.push({ type: 'text', text });
  for (const tool of tools as ToolCall[]) {
    content.push({
      type: 'tool_use',
      id: tool.id ?? opts.nextToolId(),
      name: tool.name,
      input: renderDeep(tool.input ?? {}, ctx),
    });
  }
  const outputChars = content.reduce((n, b) => {
    if (b.type === 'text') return n + b.text.length;
    if (b.type === 'thinking') return n + b.thinking.length;
    return n + JSON.stringify(b.input).length;
  }, 0);
  const usage: Usage = {
    input_tokens: step.usage?.input_tokens ?? estimateTokens(opts.inputChars),
    output_tokens: step.usage?.output_tokens ?? estimateTokens(outputChars),
    cache_read_input_tokens: step.usage?.cache_read_input_tokens ?? 0,
    cache_creation_input_tokens: step.usage?.cache_creation_input_tokens ?? 0,
  };
  const stopReason = refused
    ? 'end_turn'
    : (step.stopReason ?? (tools.length > 0 ? 'tool_use' : 'end_turn'));
  return { id: opts.id, model: opts.model, content, stopReason, usage };
}

/** The non-streaming answer: one JSON message. */
export function replyMessage(reply: Reply): Record<string, unknown> {
  return {
    id: reply.id,
    type: 'message',
    role: 'assistant',
    model: reply.model,
    content: reply.content,
    stop_reason: reply.stopReason,
    stop_sequence: null,
    usage: reply.usage,
  };
}
