// Model calls that are not part of the scripted conversation. Observed with the real CLI: when
// nonessential traffic is allowed it asks the model for a session title (no tools, a JSON
// schema in output_config.format). Such calls must get a usable answer without consuming steps.
import type { Step } from './schema.js';

export const AUXILIARY_TEXT = '(scripted model: auxiliary request)';
const SAMPLE_STRING = 'Scripted session';

/** The conversation requests of the CLI (main agent and sub-agents) always offer tools. */
export function isAuxiliary(body: Record<string, unknown>): boolean {
  return !Array.isArray(body.tools) || body.tools.length === 0;
}

/** A small value that satisfies a JSON schema's common keywords (enough for structured output). */
export function sampleFromSchema(schema: unknown, depth = 0): unknown {
  if (typeof schema !== 'object' || schema === null || depth > 8) return null;
  const s = schema as Record<string, unknown>;
  if ('const' in s) return s.const;
  if (Array.isArray(s.enum) && s.enum.length > 0) return s.enum[0];
  const first = (key: 'anyOf' | 'oneOf' | 'allOf'): unknown =>
    Array.isArray(s[key]) ? (s[key] as unknown[])[0] : undefined;
  const alternative = first('anyOf') ?? first('oneOf') ?? first('allOf');
  if (alternative !== undefined) return sampleFromSchema(alternative, depth + 1);
  const type = Array.isArray(s.type) ? s.type[0] : s.type;
  switch (type) {
    case 'object': {
      const props = (s.properties ?? {}) as Record<string, unknown>;
      const required = Array.isArray(s.required) ? (s.required as string[]) : Object.keys(props);
      return Object.fromEntries(
        required.map((k) => [k, sampleFromSchema(props[k] ?? {}, depth + 1)]),
      );
    }
    case 'array': {
      const min = typeof s.minItems === 'number' ? s.minItems : 0;
      return Array.from({ length: min }, () => sampleFromSchema(s.items ?? {}, depth + 1));
    }
    case 'string':
      return SAMPLE_STRING;
    case 'integer':
    case 'number':
      return typeof s.minimum === 'number' ? s.minimum : 0;
    case 'boolean':
      return false;
    default:
      return null;
  }
}

export function auxiliaryStep(body: Record<string, unknown>): Step {
  const format = (
    body.output_config as { format?: { type?: string; schema?: unknown } } | undefined
  )?.format;
  if (format?.type === 'json_schema')
    return { text: JSON.stringify(sampleFromSchema(format.schema)) };
  return { text: AUXILIARY_TEXT };
}
