/**
 * Token usage as Langfuse prices it, and the ledger that keeps the generations' sums equal to
 * what the CLI says it used.
 *
 * Langfuse usage keys for Anthropic models: `input` (uncached input), `output`,
 * `cache_read_input_tokens`, `cache_creation_input_tokens`; Langfuse multiplies each by the
 * model's price for that key (docs/langfuse.md).
 */
import type { TokenUsage } from '../../protocol/sdk-stream.js';

export interface Usage {
  input: number;
  output: number;
  cache_read_input_tokens: number;
  cache_creation_input_tokens: number;
}

export const USAGE_KEYS = [
  'input',
  'output',
  'cache_read_input_tokens',
  'cache_creation_input_tokens',
] as const;

export function zeroUsage(): Usage {
  return { input: 0, output: 0, cache_read_input_tokens: 0, cache_creation_input_tokens: 0 };
}

function num(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : undefined;
}

/**
 * Langfuse's keys for the counts of an Anthropic `usage` object (a message's, or a
 * `message_delta`'s, where absent fields mean "unchanged"). Returns only the fields present.
 */
export function fromApiUsage(u: TokenUsage | undefined): Partial<Usage> {
  if (!u) return {};
  const out: Partial<Usage> = {};
  if (u.input_tokens !== undefined) out.input = u.input_tokens;
  if (u.output_tokens !== undefined) out.output = u.output_tokens;
  if (u.cache_read_input_tokens !== undefined)
    out.cache_read_input_tokens = u.cache_read_input_tokens;
  if (u.cache_creation_input_tokens !== undefined)
    out.cache_creation_input_tokens = u.cache_creation_input_tokens;
  return out;
}

/** The CLI's cumulative per-model counters (`result.modelUsage[model]`). */
export function fromModelUsage(u: unknown): Usage | undefined {
  if (u === null || typeof u !== 'object') return undefined;
  const o = u as Record<string, unknown>;
  const input = num(o.inputTokens);
  const output = num(o.outputTokens);
  if (input === undefined || output === undefined) return undefined;
  return {
    input,
    output,
    cache_read_input_tokens: num(o.cacheReadInputTokens) ?? 0,
    cache_creation_input_tokens: num(o.cacheCreationInputTokens) ?? 0,
  };
}

export function add(a: Usage, b: Usage): Usage {
  return {
    input: a.input + b.input,
    output: a.output + b.output,
    cache_read_input_tokens: a.cache_read_input_tokens + b.cache_read_input_tokens,
    cache_creation_input_tokens: a.cache_creation_input_tokens + b.cache_creation_input_tokens,
  };
}

/** a - b per key, never below zero. */
export function positiveDifference(a: Usage, b: Usage): Usage {
  return {
    input: Math.max(0, a.input - b.input),
    output: Math.max(0, a.output - b.output),
    cache_read_input_tokens: Math.max(0, a.cache_read_input_tokens - b.cache_read_input_tokens),
    cache_creation_input_tokens: Math.max(
      0,
      a.cache_creation_input_tokens - b.cache_creation_input_tokens,
    ),
  };
}

export function isZero(u: Usage): boolean {
  return USAGE_KEYS.every((k) => u[k] === 0);
}

/**
 * Per-model sums of what the generations reported, compared with the CLI's cumulative counters
 * at each result. The SDK gives exact per-call usage only for streamed top-level calls
 * (`message_start` + `message_delta`); a sub-agent's calls (and any call when partial messages
 * are off) carry the usage known when the first content block was done, whose `output` is not
 * final. The difference is what the generations are missing.
 */
export class UsageLedger {
  private readonly reported = new Map<string, Usage>();
  /** The CLI's counters before this run (a resumed conversation carries its earlier usage). */
  private baseline: Map<string, Usage> | undefined;
  private last = new Map<string, Usage>();

  /**
   * @param resumed the conversation continues an earlier one, so the first counters the CLI
   *   reports include usage from before this run: they are taken as the baseline.
   */
  constructor(private readonly resumed: boolean) {}

  record(model: string, usage: Usage): void {
    this.reported.set(model, add(this.reported.get(model) ?? zeroUsage(), usage));
  }

  /**
   * The usage per model that the CLI counted and no generation carries yet (only for models the
   * generations used, so a differently spelled model name can never double count). The caller
   * records it (as its own generation) and passes it back through `record`.
   */
  missing(
    modelUsage: Record<string, unknown> | undefined,
    open: ReadonlyMap<string, Usage> = new Map(),
  ): Map<string, Usage> {
    const out = new Map<string, Usage>();
    if (!modelUsage) return out;
    const counters = new Map<string, Usage>();
    for (const [model, raw] of Object.entries(modelUsage)) {
      const u = fromModelUsage(raw);
      if (u) counters.set(model, u);
    }
    // A counter that went down means the CLI started over (a new process that did not restore
    // its counters): take the new counters as the baseline and attribute nothing this time.
    const reportedNow = new Map(this.reported);
    for (const [m, u] of open) reportedNow.set(m, add(reportedNow.get(m) ?? zeroUsage(), u));
    const restarted = [...counters].some(([m, u]) => {
      const prev = this.last.get(m);
      return prev !== undefined && USAGE_KEYS.some((k) => u[k] < prev[k]);
    });
    this.last = counters;
    if (this.baseline === undefined && !this.resumed) this.baseline = new Map();
    if (this.baseline === undefined || restarted) {
      this.baseline = new Map();
      for (const [m, u] of counters)
        this.baseline.set(m, positiveDifference(u, reportedNow.get(m) ?? zeroUsage()));
      return out;
    }
    for (const [model, counted] of counters) {
      const reported = reportedNow.get(model);
      if (!reported) continue;
      const gap = positiveDifference(
        positiveDifference(counted, this.baseline.get(model) ?? zeroUsage()),
        reported,
      );
      if (!isZero(gap)) out.set(model, gap);
    }
    return out;
  }
}
