// `{{name}}` placeholders in scenario text and tool inputs, so one scenario works in any
// working directory and can echo what the tools returned.

export interface TemplateContext {
  cwd: string;
  lastToolResult: string;
  userText: string;
  turn: number;
  step: number;
}

const PLACEHOLDER = /\{\{\s*(cwd|lastToolResult|userText|turn|step)\s*\}\}/g;

/** Replace known placeholders; unknown `{{...}}` stay as written so typos are visible. */
export function renderTemplate(text: string, ctx: TemplateContext): string {
  return text.replace(PLACEHOLDER, (_m, key: keyof TemplateContext) => String(ctx[key]));
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
