// `{{name}}` placeholders in scenario text and tool inputs, so one scenario works in any
// working directory and can echo what the tools returned.

export interface TemplateContext {
  cwd: string;
  lastToolResult: string;
  /** This turn's tool results, in order (`{{toolResults.N}}`); absent counts as none. */
  toolResults?: readonly string[];
  userText: string;
  turn: number;
  step: number;
}

/** What `{{cwd}}` reads as in text when the request names no working directory. */
export const UNKNOWN_CWD = '(unknown working directory)';

const PLACEHOLDER = /\{\{\s*(cwd|lastToolResult|userText|turn|step)\s*\}\}/g;
/**
 * A field of a JSON tool result: `{{lastToolResult.name}}`, `{{toolResults.0.items.1.id}}`
 * (this turn's first tool result). Left as written when the result is not JSON or lacks it.
 */
const JSON_PLACEHOLDER =
  /\{\{\s*(lastToolResult|toolResults\.(\d+))((?:\.[A-Za-z0-9_-]+)*)\s*\}\}/g;

/** Replace known placeholders; unknown `{{...}}` stay as written so typos are visible. */
export function renderTemplate(text: string, ctx: TemplateContext): string {
  return text
    .replace(JSON_PLACEHOLDER, (whole, _which: string, index: string | undefined, path: string) => {
      const source = index === undefined ? ctx.lastToolResult : ctx.toolResults?.[Number(index)];
      if (source === undefined) return whole;
      if (!path) return source;
      const value = pick(source, path.slice(1).split('.'));
      if (value === undefined) return whole;
      return typeof value === 'string' ? value : JSON.stringify(value);
    })
    .replace(PLACEHOLDER, (_m, key: keyof TemplateContext) =>
      // Never '' for the working directory: "{{cwd}}/x" would name a path at the root.
      key === 'cwd' && !ctx.cwd ? UNKNOWN_CWD : String(ctx[key]),
    );
}

function pick(json: string, path: string[]): unknown {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    return undefined;
  }
  for (const key of path) {
    if (typeof value !== 'object' || value === null) return undefined;
    value = (value as Record<string, unknown>)[key];
  }
  return value;
}

/** Render every string inside a JSON value (tool inputs); keys and non-strings are left alone. */
export function renderDeep(value: unknown, ctx: TemplateContext): unknown {
  if (typeof value === 'string') return renderTemplate(value, ctx);
  if (Array.isArray(value)) return value.map((v) => renderDeep(v, ctx));
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, renderDeep(v, ctx)]));
  }
  return value;
}
