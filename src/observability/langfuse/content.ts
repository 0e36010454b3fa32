/**
 * What the tracer is allowed to export of a message body: redacted first, then cut to a bound,
 * or replaced by a placeholder when LANGFUSE_MASK_MESSAGES is on. Redaction runs before
 * truncation so that a cut can never leave half a secret behind.
 */
import type { ToolResultBlock } from '../../protocol/sdk-stream.js';
import type { Redactor } from '../redact.js';

/** Tool inputs (per string value) and tool outputs are cut to this many characters. */
export const TOOL_BODY_LIMIT = 10_000;
/** Prompts and assistant text are cut to this many characters. */
export const MESSAGE_LIMIT = 50_000;
/** Replaces every message, response and tool body when masking is on. */
export const MASK_PLACEHOLDER = '[masked]';
/** Trace metadata keeps this many characters of the prompt (Langfuse's propagated-value bound). */
export const PROMPT_PREVIEW_LIMIT = 200;

export function truncate(text: string, limit: number): string {
  if (text.length <= limit) return text;
  return `${text.slice(0, limit)}… [truncated ${text.length - limit} characters]`;
}

/** Keeps the shape of a value (keys, arrays, numbers, booleans) and replaces every string. */
export function maskStructure(value: unknown): unknown {
  if (typeof value === 'string') return MASK_PLACEHOLDER;
  if (Array.isArray(value)) return value.map(maskStructure);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = maskStructure(v);
    return out;
  }
  return value;
}

function truncateDeep(value: unknown, limit: number): unknown {
  if (typeof value === 'string') return truncate(value, limit);
  if (Array.isArray(value)) return value.map((v) => truncateDeep(v, limit));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = truncateDeep(v, limit);
    return out;
  }
  return value;
}

export class BodyPolicy {
  constructor(
    private readonly redactor: Redactor,
    readonly masking: boolean,
  ) {}

  /** A text body (prompt, assistant text, tool output). */
  text(text: string, limit: number): string {
    if (this.masking) return MASK_PLACEHOLDER;
    return truncate(this.redactor.redact(text), limit);
  }

  /** A structured body (tool input, tool results): every string redacted and cut. */
  value(value: unknown, limit: number): unknown {
    if (this.masking) return maskStructure(value);
    return truncateDeep(this.redactor.redactDeep(value), limit);
  }

  /** Not a message body (names, ids, error descriptions): redacted and cut, never masked. */
  plain(text: string, limit = 1_000): string {
    return truncate(this.redactor.redact(text), limit);
  }

  /**
   * The SDK's last line of defence (LangfuseSpanProcessor `mask`): it sees input and output
   * attributes as the strings about to be exported. Bodies were already treated when they were
   * recorded; this runs the redactor again and, when masking, masks anything that slipped through.
   */
  maskExported(data: unknown): unknown {
    if (typeof data !== 'string')
      return this.masking ? maskStructure(data) : this.redactor.redactDeep(data);
    if (!this.masking) return this.redactor.redact(data);
    try {
      const parsed: unknown = JSON.parse(data);
      if (parsed !== null && typeof parsed === 'object')
        return JSON.stringify(maskStructure(parsed));
    } catch {
      /* a plain string */
    }
    return MASK_PLACEHOLDER;
  }
}

/** The text of a tool_result's content: a string, or its parts (images become a marker). */
export function toolResultText(content: ToolResultBlock['content']): string {
  if (typeof content === 'string') return content;
  return content
    .map((part) => {
      if (part.kind === 'text') return part.text;
      return part.type !== undefined ? `[${part.type}]` : '';
    })
    .join('\n');
}
