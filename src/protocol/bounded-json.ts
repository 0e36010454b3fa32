/**
 * JSON parsing with a bound on nesting depth, for every JSON the control plane parses from
 * outside (request bodies, runner frames, watcher commands). `JSON.parse` itself copes with deep
 * nesting, but everything after it walks values recursively (validation, redaction, merge
 * patches): a body of 5,000 nested arrays would overflow the stack there. The depth is measured
 * on the text first, in one loop without recursion, so nothing deep is ever built.
 */

/** Deepest nesting of arrays and objects accepted: far beyond any legitimate frame or request. */
export const MAX_JSON_DEPTH = 100;

/** Deepest nesting of `[` and `{` in JSON text (strings skipped); stops counting past `limit`. */
export function jsonDepth(text: string, limit = Infinity): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c /* \ */) i++;
      else if (c === 0x22 /* " */) inString = false;
      continue;
    }
    if (c === 0x22) inString = true;
    else if (c === 0x5b /* [ */ || c === 0x7b /* { */) {
      if (++depth > max) {
        max = depth;
        if (max > limit) return max;
      }
    } else if (c === 0x5d /* ] */ || c === 0x7d /* } */) depth--;
  }
  return max;
}

export type BoundedParse =
  { ok: true; value: unknown } | { ok: false; reason: 'too-deep' | 'not-json'; detail: string };

/** `JSON.parse`, refusing text nested deeper than `maxDepth`; the detail names the limit. */
export function parseJsonBounded(text: string, maxDepth = MAX_JSON_DEPTH): BoundedParse {
  if (jsonDepth(text, maxDepth) > maxDepth)
    return {
      ok: false,
      reason: 'too-deep',
      detail: `nested deeper than ${maxDepth} levels of arrays and objects (the limit): flatten it`,
    };
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch (e) {
    // V8 quotes a stretch of the text ('"…" is not valid JSON'): it may hold a secret.
    const detail = (e as Error).message.replace(/,? "[\s\S]*" is not valid JSON$/, '');
    return { ok: false, reason: 'not-json', detail };
  }
}
