// The seed's three checks on what Langfuse holds for the session: a trace exists, a generation
// carries token usage, and the prompt contains the test's marker. Pure: the caller fetches.
import type { ObservationView, SessionObservations } from './langfuse-api.js';

export interface TraceChecks {
  /** The "✓" lines, in the seed's order, for the checks that passed. */
  passed: string[];
  /** The first check that failed; undefined when all passed. */
  failure?: string;
}

/** Input tokens of a generation, from whichever usage shape the endpoint uses. */
export function inputTokens(o: ObservationView): number | undefined {
  const d = o.usageDetails ?? undefined;
  const candidates = [d?.input, d?.input_tokens, o.usage?.input, o.promptTokens];
  return candidates.find((n): n is number => typeof n === 'number' && n > 0);
}

function inputText(o: ObservationView): string {
  if (o.input === undefined || o.input === null) return '';
  return typeof o.input === 'string' ? o.input : JSON.stringify(o.input);
}

export function checkTrace(
  found: SessionObservations | undefined,
  sessionId: string,
  marker: string,
): TraceChecks {
  const passed: string[] = [];
  if (!found || !found.observations.length)
    return { passed, failure: `No trace found in Langfuse for session ${sessionId}` };
  passed.push(`Trace found for session: ${sessionId}`);

  const generations = found.observations.filter((o) => o.type === 'GENERATION');
  if (!generations.length) {
    const names = [...new Set(found.observations.map((o) => o.name ?? '?'))].join(', ');
    return { passed, failure: `The trace has no generation yet (observations: ${names})` };
  }
  const withUsage = generations.find((g) => inputTokens(g) !== undefined);
  if (!withUsage)
    return {
      passed,
      failure: `No generation has usage data (${generations.length} generation(s), all without input tokens)`,
    };
  passed.push(`Generation has usage data (input_tokens=${inputTokens(withUsage)})`);

  // The marker is in the user message: the input of the turn's first model call (and of the
  // agent and turn spans above it).
  const texts = [...generations, ...found.observations.filter((o) => o.type !== 'GENERATION')].map(
    inputText,
  );
  if (!texts.some((t) => t.includes(marker))) {
    const masked = texts.some((t) => t.includes('[masked]'));
    return {
      passed,
      failure: masked
        ? `The prompt does not contain the test ID marker ${marker}: the inputs read "[masked]" (LANGFUSE_MASK_MESSAGES=true on the runner); run the test without masking`
        : `The prompt does not contain the test ID marker ${marker}: is the trace of this session's run?`,
    };
  }
  passed.push(`Prompt contains test ID marker: ${marker}`);
  return { passed };
}
